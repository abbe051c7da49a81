"""A study spread over workers: disjoint shards of its cells, claims that keep two workers off
one cell, and the same results as one worker."""

import json
import shutil
import socket
import subprocess
import sys

import pytest

from ferganaug.study import StudyConfig, create_study, load_study, run_study
from ferganaug.study.conditions import StudyError
from ferganaug.study.runner import CLAIMS, missing_cells, shard_cells

TINY = "builtin:train=280,val=70,test=140,seed=3"


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    config = StudyConfig(data=TINY, conditions=("baseline",), seeds=(0, 1), model="basic-cnn",
                         epochs=1, batch_size=32, augment="none", precision="fp32", n_boot=50)
    study_dir = create_study(config, tmp_path_factory.mktemp("runs"))
    results = run_study(study_dir, progress=False)
    return study_dir, results


def _views(results: dict) -> dict:
    return {c: v["views"] for c, v in results["conditions"].items()}


def test_shards_are_disjoint_and_cover_the_plan():
    cells = [{"path": f"c{i}"} for i in range(7)]
    parts = [shard_cells(cells, (k, 3)) for k in (1, 2, 3)]
    assert sorted(c["path"] for part in parts for c in part) == sorted(c["path"] for c in cells)
    assert shard_cells(cells, None) == cells
    with pytest.raises(StudyError, match="--shard 4/3: expected K/N with 1 <= K <= N"):
        shard_cells(cells, (4, 3))


def test_two_shards_give_the_results_of_one_worker(finished_study, tmp_path):
    study_dir, results = finished_study
    copy = shutil.copytree(study_dir, tmp_path / "copy")
    shutil.rmtree(copy / "cells")
    assert run_study(copy, progress=False, shard=(1, 2)) is None  # half the cells: no report yet
    assert len(missing_cells(copy, load_study(copy))) == 1
    sharded = run_study(copy, progress=False, shard=(2, 2))
    assert _views(sharded) == _views(results)
    assert not list((copy / CLAIMS).iterdir())  # every claim released
    shards = [json.loads(line)["shard"] for line in (copy / "invocations.jsonl").read_text().splitlines()[-2:]]
    assert shards == [[1, 2], [2, 2]]


def test_a_cell_claimed_by_a_live_worker_is_left_to_it(finished_study, tmp_path):
    study_dir, _ = finished_study
    copy = shutil.copytree(study_dir, tmp_path / "copy")
    study = load_study(copy)
    cell = study["cells"][0]
    shutil.rmtree(copy / cell["path"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = copy / CLAIMS / (cell["path"].replace("/", "__") + ".claim")
        claim.parent.mkdir(exist_ok=True)
        claim.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname()}))
        assert run_study(copy, progress=False) is None
        assert missing_cells(copy, study) == [cell] and claim.is_file()
    finally:
        other.kill()
        other.wait()
    assert run_study(copy, progress=False) is not None  # the worker is gone: its claim is stale


def test_the_command_line_names_a_bad_shard_and_says_what_is_missing(finished_study, tmp_path):
    from click.testing import CliRunner

    from ferganaug.cli import main

    study_dir, _ = finished_study
    bad = CliRunner().invoke(main, ["study", "--resume", str(study_dir), "--shard", "3/2"])
    assert bad.exit_code == 2 and "'3/2': expected K/N with 1 <= K <= N" in bad.output
    copy = shutil.copytree(study_dir, tmp_path / "copy")
    (copy / CLAIMS).mkdir(exist_ok=True)
    cell = load_study(copy)["cells"][1]
    shutil.rmtree(copy / cell["path"])
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (copy / CLAIMS / (cell["path"].replace("/", "__") + ".claim")).write_text(
            json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        result = CliRunner().invoke(main, ["study", "--resume", str(copy), "--shard", "1/1", "--quiet"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 0, result.output
    assert "1 cells are not finished yet" in result.stderr and result.stdout.strip() == str(copy)
