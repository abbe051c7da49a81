"""Reusing the finished cells of other studies.

A study of new synthetic faces usually keeps the rebalancers of the last one (same data, recipe
and seeds); on two CPU cores each of their cells is a quarter of an hour of training that would
give the same model again. ``--reuse-cells DONOR`` copies such a cell instead of training it.

A donor cell is taken only when it is the same experiment: same condition and seed, equal
training config and data options, data whose recorded facts (spec, split sizes, class counts,
leak-free test items) are equal, and, for a synthetic cell, a synthetic folder with the same
manifest. It is copied whole (model, checkpoints, log-probabilities, cell.json) into a hidden
sibling first and renamed into place, so an interrupted copy never looks finished; each copy is
logged in the study's reused.jsonl.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from classifiers.train_config import TrainConfig
from ferganaug.study.conditions import StudyError
from ferganaug.study.plan import CELL_JSON, load_study
from ferganaug.utils.files import append_jsonl, read_jsonl

log = logging.getLogger(__name__)

REUSED = "reused.jsonl"  # one row per copied cell: its path, the donor study, when


def _same_synthetic(study: dict, donor: dict) -> bool:
    ours, theirs = study.get("synthetic"), donor.get("synthetic")
    return bool(ours and theirs) and ours.get("manifest_sha256") == theirs.get("manifest_sha256")


def _recipe(cell: dict) -> dict:
    """A cell's training config with every field: a donor written before a field existed
    trained with its default."""
    return TrainConfig.from_dict(cell["train"]).to_dict()


def donor_cell(study: dict, cell: dict, donor_dir: Path, donor: dict) -> Path | None:
    """The donor's finished run folder for ``cell``, or None when the donor has no such experiment."""
    if donor["data"] != study["data"]:
        return None
    for theirs in donor["cells"]:
        if (theirs["condition"], theirs["seed"], _recipe(theirs), theirs["data"]) != (
                cell["condition"], cell["seed"], _recipe(cell), cell["data"]):
            continue
        if cell["data"].get("augment_with") and not _same_synthetic(study, donor):
            continue
        run_dir = donor_dir / theirs["path"]
        if (run_dir / CELL_JSON).is_file():
            return run_dir
    return None


def load_donors(study_dir: Path, donor_dirs: Sequence[str | Path]) -> list[tuple[Path, dict]]:
    """Each donor study folder with its study.json; the study itself is refused as a donor."""
    donors = []
    for donor_dir in map(Path, donor_dirs):
        if donor_dir.resolve() == study_dir.resolve():
            raise StudyError(f"--reuse-cells {donor_dir}: that is the study itself")
        donors.append((donor_dir, load_study(donor_dir)))
    return donors


def copy_cell(source: Path, run_dir: Path) -> None:
    """Copy a finished run folder to ``run_dir`` (replacing an interrupted one) so that no
    moment leaves a partial copy where a finished cell is looked for."""
    staging = run_dir.parent / f".{run_dir.name}.reusing"
    if staging.exists():  # a copy interrupted earlier
        shutil.rmtree(staging)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, staging)
    if run_dir.exists():  # interrupted training of the same experiment: the donor's finished cell supersedes it
        shutil.rmtree(run_dir)
    os.replace(staging, run_dir)


def reuse_cells(study_dir: str | Path, cells: Sequence[dict], donor_dirs: Sequence[str | Path]) -> list[dict]:
    """Copy into the study every one of ``cells`` (unfinished, claimed by the caller) that a donor
    finished as the same experiment; returns the rows logged in reused.jsonl."""
    study_dir = Path(study_dir)
    study = load_study(study_dir)
    donors = load_donors(study_dir, donor_dirs)
    rows = []
    for cell in cells:
        run_dir = study_dir / cell["path"]
        if (run_dir / CELL_JSON).is_file():
            continue
        for donor_dir, donor in donors:
            source = donor_cell(study, cell, donor_dir, donor)
            if source is not None:
                copy_cell(source, run_dir)
                row = {"path": cell["path"], "from": str(source), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
                append_jsonl(study_dir / REUSED, row)
                log.info("reused %s, seed %d from %s", cell["condition"], cell["seed"], source)
                rows.append(row)
                break
    return rows


def reused_from(study_dir: str | Path) -> dict[str, str]:
    """Cell path -> the run folder it was copied from, for the cells this study reused."""
    return {row["path"]: row["from"] for row in read_jsonl(Path(study_dir) / REUSED)}
