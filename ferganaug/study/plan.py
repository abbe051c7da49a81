"""Planning a study: check every input, resolve the synthetic amounts into faces per class,
and write study.json (the resolved config, cells, data and machine facts) before any cell runs.

A bad input fails here, in seconds, not after hours of training: an unknown condition or
amount, a synthetic condition without a folder, a folder that breaks the train-split-only
rule, images of another size, an emotion the data lacks.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from pathlib import Path
from typing import Sequence

from classifiers.train import split_train_val
from classifiers.workflow import DataOptions
from ferganaug.data.audit import leak_free_mask
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.spec import load_dataset, spec_short_name
from ferganaug.study.conditions import (
    Cell,
    StudyError,
    faces_per_class,
    median_count,
    parse_amounts,
    plan_cells,
)
from ferganaug.study.config import StudyConfig
from ferganaug.study.sources import check_synthetic_folder, manifest_fingerprint
from ferganaug.utils.files import atomic_write_json
from ferganaug.utils.hardware import cpu_info, describe_machine
from ferganaug.engine.run_folder import next_run_dir

log = logging.getLogger(__name__)

STUDY_JSON = "study.json"
CELL_JSON = "cell.json"
INVOCATIONS = "invocations.jsonl"  # one row per run of the study command: argv, jobs, seconds


def data_options(config: StudyConfig, cell: Cell, per_class: dict[str, tuple[int, ...]]) -> DataOptions:
    """The cell's data: the study's data, plus for synthetic cells the folder limited to the
    planned faces per class (emotions not chosen get none)."""
    if not cell.synthetic:
        return DataOptions(spec=config.data, cache_dir=config.cache_dir)
    return DataOptions(
        spec=config.data, cache_dir=config.cache_dir, augment_with=config.synthetic,
        augment_emotions=config.emotions, augment_per_class=per_class[cell.amount],
        augment_weight=config.synthetic_weight,
    )


def create_study(config: StudyConfig, out_root: str | Path = "runs/fergan-study", argv: list[str] | None = None) -> Path:
    """Check the inputs, make the numbered study dir and write study.json; returns the dir."""
    if config.synthetic:  # absolute, so that --resume works from any folder
        config = dataclasses.replace(config, synthetic=str(Path(config.synthetic).resolve()))
    data = load_dataset(config.data, cache_dir=config.cache_dir)
    if not data.has_split("test"):
        raise StudyError(f"'{config.data}' has no test split; a study compares its conditions on the test split")
    # The classifier trains on this view (val carved out of train when the data has no val
    # split); its per-class counts do not depend on the seed, so one view serves every cell.
    train_view = split_train_val(data, config.seeds[0]).train
    real = train_view.class_counts()
    if len(config.seeds) == 1:
        log.warning("one seed gives no interval over seeds: deltas get no confidence interval and no verdict")
    synthetic_facts, plan = _synthetic_plan(config, data, real) if config.uses_synthetic else (None, {})
    if config.synthetic and not config.uses_synthetic:
        log.warning("--synthetic is given but no synthetic condition is selected; the folder is not used")
    cells = plan_cells(config.condition_names, config.seeds)
    data_facts = _data_facts(config.data, data, real)
    study_dir = next_run_dir(out_root, f"{config.model}-{spec_short_name(config.data)}")
    atomic_write_json(study_dir / STUDY_JSON, {
        "tool": "fergan study",
        "argv": None if argv is None else list(argv),
        "command": config.command(str(out_root)),
        "config": config.to_dict(),
        "train": config.train_config().to_dict() | {"seed": None},
        "condition_names": list(config.condition_names),
        "synthetic_plan": plan,
        "cells": [_cell_entry(config, c, plan) for c in cells],
        "data": data_facts,
        "synthetic": synthetic_facts,
        "machine": describe_machine(),
        "cpu": cpu_info(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    return study_dir


def _synthetic_plan(config: StudyConfig, data: FaceDataset, real: list[int]) -> tuple[dict, dict]:
    """The synthetic folder's facts, and per amount the synthetic faces each emotion wants and
    gets ("wanted", "planned"); a StudyError when the folder or the data cannot serve the study."""
    names = data.class_names
    synthetic, facts = check_synthetic_folder(config.synthetic, data, config.data, config.cache_dir)
    available = dict(zip(synthetic.class_names, synthetic.class_counts()))
    for e in config.emotions:
        if real[names.index(e)] == 0:
            raise StudyError(f"'{config.data}' has no '{e}' training faces, so there is nothing to balance "
                             f"'{e}' against; choose other --emotions")
    if not any(available[e] for e in config.emotions):
        raise StudyError(f"{config.synthetic}: holds no faces of the chosen emotion(s) "
                         f"{', '.join(config.emotions)} (it has {_nonzero(available)})")
    plan = {}
    for amount in parse_amounts(config.amounts):
        wanted = faces_per_class(amount, config.emotions, names, real)
        plan[amount.label] = {
            "wanted": dict(zip(names, wanted)),
            "planned": {n: min(w, available[n]) for n, w in zip(names, wanted)},
        }
        for n, w in zip(names, wanted):
            if w > available[n]:
                log.warning("amount %s wants %d synthetic '%s' faces but %s holds %d: using all %d",
                            amount.label, w, n, config.synthetic, available[n], available[n])
    return facts, plan


def _data_facts(spec: str, data: FaceDataset, real: list[int]) -> dict:
    """What study.json records of the real data: splits, the training view's class counts and
    the test faces kept (those that are no copy of a training face)."""
    names = data.class_names
    keep = leak_free_mask(data, "test")
    return {
        "spec": spec,
        "class_names": list(names),
        "split_sizes": {s: len(data.split(s)) for s in ("train", "val", "test")},
        "train_class_counts": dict(zip(names, real)),
        "train_view": "train split minus a stratified 10% validation carve-out" if not data.has_split("val")
        else "train split (the data has its own val split)",
        "median_train_class_count": median_count(real),
        "test_leak_free": int(keep.sum()),
        "test_dropped_as_train_copies": int((~keep).sum()),
    }


def add_seeds(study_dir: str | Path, seeds: Sequence[int] = (), grow_to: int | None = None) -> tuple[int, ...]:
    """Extend a planned study with more paired seeds: ``seeds`` names them, ``grow_to=N`` adds the
    smallest unused seeds until there are N. The new cells are planned exactly as the first ones
    (same conditions, recipe, data and synthetic faces per class) and study.json is rewritten
    atomically; finished cells stay. Returns the seeds added, none when all were there already."""
    study_dir = Path(study_dir)
    study = load_study(study_dir)
    config = StudyConfig.from_dict(study["config"], str(study_dir / STUDY_JSON))
    if grow_to is not None:
        if grow_to < len(config.seeds):
            raise StudyError(f"--seeds {grow_to}: {study_dir} already has {len(config.seeds)} seeds "
                             f"({', '.join(map(str, config.seeds))}); a study's seeds can be added to, not removed")
        unused = (s for s in itertools.count() if s not in config.seeds)
        seeds = tuple(itertools.islice(unused, grow_to - len(config.seeds)))
    new = tuple(s for s in dict.fromkeys(int(s) for s in seeds) if s not in config.seeds)
    if not new:
        return ()
    grown = dataclasses.replace(config, seeds=config.seeds + new)
    study["cells"] += [_cell_entry(grown, c, study["synthetic_plan"]) for c in plan_cells(grown.condition_names, new)]
    study["config"] = grown.to_dict()
    study["command"] = grown.command(_out_root(study["command"]))
    study.setdefault("seeds_added", []).append({"seeds": list(new), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    atomic_write_json(study_dir / STUDY_JSON, study)
    return new


def _cell_entry(config: StudyConfig, cell: Cell, synthetic_plan: dict) -> dict:
    """A cell as study.json stores it: what to train and on which data."""
    per_class = {label: tuple(p["wanted"].values()) for label, p in synthetic_plan.items()}
    return {
        "condition": cell.condition, "base": cell.base, "amount": cell.amount, "seed": cell.seed, "path": cell.path,
        "train": config.cell_train_config(cell).to_dict(), "data": vars(data_options(config, cell, per_class)),
    }


def _out_root(command: list[str]) -> str | None:
    """The --out of a stored study command line, if it has one."""
    return command[command.index("--out") + 1] if "--out" in command[:-1] else None


def _nonzero(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def load_study(study_dir: str | Path) -> dict:
    """study.json of a study dir, or a StudyError saying it is not one."""
    path = Path(study_dir) / STUDY_JSON
    if not path.is_file():
        raise StudyError(f"{study_dir} is not a fergan study folder (no {STUDY_JSON})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StudyError(f"{path}: cannot read ({exc})") from None


def check_synthetic_unchanged(study: dict, remaining: list[dict]) -> None:
    """Refuse to train more synthetic cells from a folder that changed since the study began:
    the finished cells saw other faces, so the comparison would no longer be like for like."""
    facts = study.get("synthetic")
    if not facts or not any(c["data"].get("augment_with") for c in remaining):
        return
    folder = Path(facts["path"])
    try:
        now = manifest_fingerprint(folder)
    except OSError:
        raise StudyError(f"the study's synthetic folder {folder} is gone; it is needed for the remaining cells") from None
    if now != facts["manifest_sha256"]:
        raise StudyError(f"{folder}: the manifest changed since the study began (faces added or removed); finished "
                         "cells used the old faces, so start a new study instead of resuming")
