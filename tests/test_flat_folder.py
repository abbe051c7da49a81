"""`fer-classify evaluate --data DIR` on a labelled folder without split folders (DIR/<emotion>/*)
reads the whole folder; a folder with split folders keeps its splits."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from data_fixtures import random_faces, write_image
from test_cli_classify import TINY

from classifiers.cli import main
from ferganaug.data.folders import UNSPLIT, read_image_folders

# Kaggle-style folder names; the reader maps them onto the canonical emotions.
FLAT = {"happiness": 3, "Angry": 2, "neutral": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    runs = tmp_path_factory.mktemp("runs")
    result = CliRunner().invoke(main, ["train", "--data", TINY, "--model", "basic-cnn", "--epochs", "1",
                                       "--precision", "fp32", "--out", str(runs), "--quiet"])
    assert result.exit_code == 0, result.output
    return f"{result.output.strip().splitlines()[-1]}/model.pt"


def write_tree(root: Path, counts: dict[str, int], seed: int) -> Path:
    """``counts`` maps a relative folder (``happy`` or ``test/happy``) to its number of PNGs."""
    faces = iter(random_faces(sum(counts.values()), seed=seed))
    for folder, n in counts.items():
        for i in range(n):
            write_image(root / folder / f"{i:03d}.png", next(faces))
    return root


def evaluate(checkpoint: str, root: Path, *extra: str):
    return CliRunner().invoke(main, ["evaluate", checkpoint, "--data", str(root), "--precision", "fp32",
                                     "--no-latency", *extra])


def test_reader_marks_a_flat_folder_unsplit(tmp_path):
    flat = read_image_folders(write_tree(tmp_path / "flat", FLAT, seed=1), cache=False)
    split = read_image_folders(write_tree(tmp_path / "split", {"train/happy": 1, "test/sad": 1}, seed=2), cache=False)
    assert flat.info[UNSPLIT] is True and split.info[UNSPLIT] is False


def test_flat_folder_is_evaluated_whole(checkpoint, tmp_path, caplog):
    root = write_tree(tmp_path / "faces", FLAT, seed=3)
    with caplog.at_level(logging.INFO, logger="classifiers.workflow"):
        result = evaluate(checkpoint, root, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout holds the JSON document alone
    assert report["split"] == "all" and report["data"] == str(root)
    assert report["n"] == sum(map(sum, report["confusion"])) == 9
    support = {name: m["support"] for name, m in report["per_class"].items()}
    assert (support["happy"], support["angry"], support["neutral"], support["sad"]) == (3, 2, 4, 0)
    assert "leak_free" not in report  # there is no training split to leak from
    assert "has no split folders: evaluating all 9 faces instead of the 'test' split" in caplog.text


def test_flat_folder_text_report_names_the_rows(checkpoint, tmp_path):
    root = write_tree(tmp_path / "faces", FLAT, seed=4)
    result = evaluate(checkpoint, root, "--split", "val")  # any split asked for: the folder has none
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"basic-cnn on all 9 faces of {root} (the data names no splits)"
    assert "(n=9)" in lines[1]


def test_split_folders_keep_their_splits(checkpoint, tmp_path):
    root = write_tree(tmp_path / "faces", {"train/happy": 3, "train/sad": 2, "test/happy": 2, "test/fear": 2}, seed=5)
    # One test face is an exact copy of a training face: the leak-free view drops it.
    (root / "test" / "happy" / "copy.png").write_bytes((root / "train" / "sad" / "000.png").read_bytes())
    result = evaluate(checkpoint, root, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"] == "test" and report["n"] == 5
    assert report["leak_free"]["n"] == 4 and report["leak_free"]["dropped"] == 1

    text = evaluate(checkpoint, root)
    assert text.stdout.splitlines()[0] == f"basic-cnn on the test split of {root} (5 faces)"


def test_split_folders_without_the_asked_split_still_fail(checkpoint, tmp_path):
    root = write_tree(tmp_path / "faces", {"train/happy": 2, "train/sad": 2}, seed=6)
    result = evaluate(checkpoint, root)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "has no 'test' split" in result.output
