"""scripts/fer2013_augmentation.sh, with stand-ins for fer-classify and fergan that record their
command lines and write what the real ones would: each step runs once, a re-run skips or
continues what is there, and SEEDS/CONDITIONS/WORKERS reach the study."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fer2013_augmentation.sh"

# Each stand-in appends its arguments to $CALLS and creates the folder or file its real command would.
STUB = r"""#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
out=""; conditions=""; prev=""
for a in "$@"; do
  [[ "$prev" == "--out" ]] && out="$a"
  [[ "$prev" == "--conditions" ]] && conditions="$a"
  prev="$a"
done
case "$(basename "$0") $1" in
  "fer-classify train") [[ -n "$out" ]] && mkdir -p "$out/00000-deep-cnn" && touch "$out/00000-deep-cnn/model.pt" ;;
  "fergan train") [[ -n "$out" ]] && mkdir -p "$out/00000-gan-fer2013" ;;
  "fergan evaluate") touch "$2/metrics.json" ;;
  "fergan synthesize") mkdir -p "$out" ;;
  "fergan study") [[ -n "$out" ]] && mkdir -p "$out/00000-deep-cnn-fer2013"
                  [[ ",$conditions," == *,oversample,* ]] && mkdir -p "$out/00000-deep-cnn-fer2013/cells/oversample" ;;
esac
exit 0
"""


def _run(tmp_path: Path, csv: Path, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("fer-classify", "fergan", "python-stub"):
        (bin_dir / name).write_text(STUB)
        (bin_dir / name).chmod(0o755)
    full_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"),
                "PYTHON": str(bin_dir / "python-stub"), **env}
    return subprocess.run(["bash", str(SCRIPT), str(csv), str(tmp_path / "out")], env=full_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_each_step_runs_once_and_a_rerun_continues(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n")
    first = _run(tmp_path, csv, CONDITIONS="oversample,synthetic+oversample")
    assert first.returncode == 0, first.stderr
    calls = _calls(tmp_path)
    assert [c.split()[:2] for c in calls] == [["fer-classify", "train"], ["fer-classify", "train"], ["fergan", "train"],
                                              ["fergan", "evaluate"], ["fergan", "synthesize"], ["fergan", "study"],
                                              ["python-stub", str(SCRIPT.parent / "threshold_baseline.py")]]
    out = tmp_path / "out"
    assert "--model deep-cnn" in calls[0] and "--preset fer2013-cpu --seed 1" in calls[1]
    assert (f"--expr-classifier {out}/classifier/00000-deep-cnn/model.pt "
            f"--expr-classifier {out}/classifier-2/00000-deep-cnn/model.pt") in calls[2]
    assert calls[3].startswith(f"fergan evaluate {out}/gan/00000-gan-fer2013 --data {csv}")
    assert f"--generator {out}/gan/00000-gan-fer2013 --emotion disgust" in calls[4]
    assert "--conditions oversample,synthetic+oversample" in calls[5] and "--seeds 3" in calls[5]
    assert "--workers 1" in calls[5]
    assert calls[6].endswith(f"{out}/study/00000-deep-cnn-fer2013 --emotion disgust --reference oversample")
    log = (out / "chain.log").read_text()
    assert "start: commit" in log and "step 5 study" in log
    assert f"done: {out}/study/00000-deep-cnn-fer2013/report.md" in log
    # Again, with more seeds: the GAN and the study continue, evaluation is not repeated.
    (tmp_path / "calls").unlink()
    second = _run(tmp_path, csv, SEEDS="5", WORKERS="2")
    assert second.returncode == 0, second.stderr
    assert _calls(tmp_path) == [
        f"fergan train --resume {out}/gan/00000-gan-fer2013 --quiet",
        f"fergan synthesize --generator {out}/gan/00000-gan-fer2013 --emotion disgust --n 3700 "
        f"--out {out}/gan/00000-gan-fer2013/synthetic --quiet",
        f"fergan study --resume {out}/study/00000-deep-cnn-fer2013 --seeds 5 --workers 2 --quiet",
        f"python-stub {SCRIPT.parent}/threshold_baseline.py {out}/study/00000-deep-cnn-fer2013 --emotion disgust "
        "--reference oversample",
    ]


def test_without_oversampling_the_shifted_boundary_step_is_skipped(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n")
    assert _run(tmp_path, csv, CONDITIONS="baseline,synthetic+oversample").returncode == 0
    assert _calls(tmp_path)[-1].startswith("fergan study") and "step 6" not in (tmp_path / "out" / "chain.log").read_text()


def test_an_interrupted_classifier_is_resumed(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n")
    (tmp_path / "out" / "classifier-2" / "00000-fer-vgg").mkdir(parents=True)  # no model.pt yet
    assert _run(tmp_path, csv).returncode == 0
    assert _calls(tmp_path)[1] == f"fer-classify train --resume {tmp_path}/out/classifier-2/00000-fer-vgg --quiet"


def test_a_missing_csv_is_named(tmp_path):
    result = _run(tmp_path, tmp_path / "nowhere.csv")
    assert result.returncode == 2 and f"no FER2013 csv at '{tmp_path}/nowhere.csv'" in result.stderr
    assert not (tmp_path / "calls").exists()
