"""The synthetic folder a study adds, checked against the study's data before any training.

Train-split-only rule: synthetic faces may only be made from faces of the training split of
the data they augment, and only ever join the training split (``add_synthetic`` puts them
there). ``fergan synthesize`` records each face's origin in manifest.jsonl as ``source_spec``
(the data spec) and ``source`` (a row of ``load_dataset(source_spec).split("train")``), so
the study refuses a folder whose rows name other data or a row outside that training split.
As a last guard it refuses a synthetic face that is a pixel copy of a validation or test face
(unless that face is itself a copy of a training face, a leak the data already has).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ferganaug.data.audit import image_groups
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset, concat
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.data.synthetic import MANIFEST
from ferganaug.study.conditions import StudyError


def _manifest_rows(manifest: Path) -> list[tuple[int, dict]]:
    """(line number, row) for every non-empty line, as the synthetic reader counts them."""
    rows = []
    for line_no, raw in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{manifest}, line {line_no}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{manifest}, line {line_no}: expected a JSON object")
        rows.append((line_no, row))
    return rows


def check_manifest_sources(folder: str | Path, spec: str, n_train: int) -> list[tuple[int, dict]]:
    """Every manifest row must come from row ``0 <= source < n_train`` of the training split
    of ``spec``; returns the rows. Raises DataError naming the file and line otherwise."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not folder.is_dir():
        raise StudyError(f"no such synthetic folder: {folder}")
    if not any(folder.iterdir()):
        raise StudyError(f"{folder}: empty synthetic folder; expected <emotion>/*.png and {MANIFEST} "
                         "written by fergan synthesize")
    if not manifest.is_file():
        raise StudyError(f"{folder}: no {MANIFEST}, so the study cannot check that its faces were made from the "
                         "training split of the study's data; use a folder written by fergan synthesize")
    rows = _manifest_rows(manifest)
    if not rows:
        raise StudyError(f"{manifest}: lists no images (empty synthetic folder)")
    for line_no, row in rows:
        where = f"{manifest}, line {line_no}"
        source_spec = row.get("source_spec")
        if source_spec != spec:
            raise DataError(
                f"{where}: face made from data '{source_spec}', but the study's --data is '{spec}'; synthetic "
                "faces must come from the training split of the data they augment"
            )
        source = row.get("source")
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < n_train:
            raise DataError(
                f"{where}: source {source!r} is not a row of the training split of '{spec}' "
                f"(it has {n_train} rows, 0..{n_train - 1})"
            )
    return rows


def _check_no_held_out_copies(data: FaceDataset, synthetic: FaceDataset, files: list[str], folder: Path) -> None:
    both = concat([data, synthetic])
    group, sizes = image_groups(both)
    split = np.concatenate([data.splits.numpy(), np.full(len(synthetic), -1)])
    in_train = np.zeros(len(sizes), bool)
    in_train[group[split == SPLIT_INDEX["train"]]] = True
    held_out = np.zeros(len(sizes), bool)
    held_out[group[(split == SPLIT_INDEX["val"]) | (split == SPLIT_INDEX["test"])]] = True
    synthetic_groups = group[len(data):]
    bad = np.flatnonzero(held_out[synthetic_groups] & ~in_train[synthetic_groups])
    if len(bad):
        name = files[bad[0]] if len(files) == len(synthetic) else f"row {bad[0]}"
        raise DataError(
            f"{folder}: {len(bad)} synthetic face(s) are pixel copies of validation/test faces of '{data.source}' "
            f"(first: {name}); a held-out face must never enter training"
        )


def check_synthetic_folder(folder: str | Path, data: FaceDataset, spec: str,
                           cache_dir: str | None = None) -> tuple[FaceDataset, dict]:
    """Load and check a synthetic folder for a study on ``data`` (loaded from ``spec``).

    Returns the synthetic faces and JSON facts for study.json: rows, faces per emotion,
    generators and steps, and a fingerprint of the manifest (a later --resume refuses a
    folder that changed under finished cells).
    """
    folder = Path(folder)
    train = data.split("train")
    rows = check_manifest_sources(folder, spec, len(train))
    synthetic = load_dataset(str(folder), cache_dir=cache_dir, cache=False)
    if synthetic.images.shape[2:] != data.images.shape[2:]:
        raise DataError(f"{folder}: images are {tuple(synthetic.images.shape[2:])}, "
                        f"the training data's are {tuple(data.images.shape[2:])}")
    files = [str(row.get("file")) for _, row in rows]
    _check_no_held_out_copies(data, synthetic, files, folder)
    facts = {
        "path": str(folder),
        "rows": len(rows),
        "faces_per_emotion": dict(zip(synthetic.class_names, synthetic.class_counts())),
        "generators": sorted({str(r["generator"]) for _, r in rows if r.get("generator") is not None}),
        "steps": sorted({r["step"] for _, r in rows if isinstance(r.get("step"), int)}),
        "source_spec": spec,
        "manifest_sha256": manifest_fingerprint(folder),
    }
    return synthetic, facts


def manifest_fingerprint(folder: str | Path) -> str:
    """SHA-256 of manifest.jsonl: any face added, removed or relabelled changes it."""
    return hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest()
