"""kill -9 in the middle of real commands, then the same command again: the result equals an
uninterrupted run's, and nothing already written is lost or left half-written."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ferganaug.data.synthetic_folder import check_folder

TINY = "builtin:train=280,val=70,test=140,seed=3"
pytestmark = pytest.mark.slow


def _cli(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _env() -> dict[str, str]:
    """The child computes on as many threads as this process, so its numbers can equal an
    in-process run's to the bit (under pytest-xdist a worker runs on fewer threads)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(torch.get_num_threads())}


def _kill_when(command: list[str], ready, cwd: Path, timeout: float = 120.0) -> None:
    """Start ``command`` and SIGKILL it as soon as ``ready()`` is true (or it ends by itself)."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_env())
    deadline = time.monotonic() + timeout
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_synthesis_killed_midway_continues_to_the_same_images(tmp_path):
    from click.testing import CliRunner

    from ferganaug.cli import main

    runs = tmp_path / "runs"
    trained = CliRunner().invoke(main, ["train", "--data", TINY, "--steps", "2", "--set", "gan.batch_size=4",
                                        "--set", "classifier.epochs=1", "--precision", "fp32", "--out", str(runs),
                                        "--quiet"])
    assert trained.exit_code == 0, trained.output
    run = trained.stdout.strip().splitlines()[-1]
    args = ["synthesize", "--generator", run, "--emotion", "disgust,fear", "--n", "150", "--quiet"]
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    assert CliRunner().invoke(main, [*args, "--out", str(straight)]).exit_code == 0
    _kill_when(_cli("ferganaug.cli", *args, "--out", str(cut)), lambda: _lines(cut / "manifest.jsonl") >= 64,
               cwd=tmp_path)
    subprocess.run(_cli("ferganaug.cli", *args, "--out", str(cut)), check=True, cwd=tmp_path, env=_env())
    assert check_folder(cut).ok
    assert (cut / "manifest.jsonl").read_text().count("\n") == 300
    for png in straight.rglob("*.png"):
        assert (cut / png.relative_to(straight)).read_bytes() == png.read_bytes(), png.name


def test_training_killed_midway_resumes_to_the_uninterrupted_weights(tmp_path):
    args = ["train", "--data", TINY, "--model", "basic-cnn", "--epochs", "3", "--batch-size", "16",
            "--precision", "fp32", "--augment", "light", "--quiet"]
    from click.testing import CliRunner

    from classifiers.cli import main

    straight_run = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "straight")])  # in process: no start-up
    assert straight_run.exit_code == 0, straight_run.output
    cut_root = tmp_path / "cut"
    stats = lambda: next(cut_root.glob("*/stats.jsonl"), Path("/nonexistent"))  # noqa: E731
    _kill_when(_cli("classifiers.cli", *args, "--out", str(cut_root)), lambda: _lines(stats()) >= 2, cwd=tmp_path)
    run = next(cut_root.iterdir())
    subprocess.run(_cli("classifiers.cli", "train", "--resume", str(run), "--quiet"), check=True, cwd=tmp_path, env=_env())
    straight = next((tmp_path / "straight").iterdir())
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert all(torch.equal(v, b["state_dict"][k]) for k, v in a["state_dict"].items())
    assert [line.split(",")[0] for line in (run / "stats.jsonl").read_text().splitlines()] == [
        line.split(",")[0] for line in (straight / "stats.jsonl").read_text().splitlines()]
