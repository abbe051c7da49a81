"""Synthetic folders written by ``fergan synthesize``.

Layout: ``DIR/<emotion>/<NNNNNN>.png`` plus ``DIR/manifest.jsonl``, one JSON object per
line with keys ``file`` (relative to DIR), ``emotion``, ``source``, ``seed``, ``generator``,
``step``. Every row goes to split "train" (synthetic faces are never evaluated on).

- With a manifest, exactly the files it lists are read; a listed file that is missing is a
  DataError naming it and its manifest line. Images in the tree that the manifest does not
  list are ignored and counted in ``info["unlisted_files"]``. The label is the manifest's
  ``emotion`` (or the file's folder name when the key is absent).
- Without a manifest, the folder tree is read like a flat image folder (``<emotion>/*``).
- Images must already be 48x48 (grey; colour is converted): any other size is a DataError
  naming the file, since resampling a generator's output would hide a bug.
- ``info["seed"]`` and ``info["step"]`` are int64 per-row tensors (-1 where the manifest
  has none) that follow ``subset``; ``info["generators"]`` lists the generator values.

:func:`limit_per_class` applies the trainer's per-emotion limits (``--augment-cap``, and
``--augment-ratio`` times each emotion's real training count).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ferganaug.data.cache import cached_read, tree_fingerprint
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset
from ferganaug.data.errors import MAX_SKIP_EXAMPLES, BadRows, DataError, check_folder
from ferganaug.data.folders import scan_image_tree
from ferganaug.data.images import dataset_from_images, is_image_file, load_listed_images
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS, UnknownEmotionError, canonical_name

READER_VERSION = 1
MANIFEST = "manifest.jsonl"


def _int_or(value, default: int = -1) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


@dataclass
class _Listing:
    """The usable rows of a manifest, in line order, and what it left out."""

    files: list[str] = field(default_factory=list)  # resolved paths
    labels: list[int] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # manifest line of each row, for error messages
    generators: set[str] = field(default_factory=set)
    unlisted: int = 0  # images in the tree that no line lists
    n_bad: int = 0
    bad: list[str] = field(default_factory=list)


def _parse_manifest(root: Path, skip_bad: bool) -> _Listing:
    mpath = root / MANIFEST
    try:
        text = mpath.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{mpath}: cannot read manifest ({exc})") from None
    listing = _Listing()
    bad = BadRows(skip_bad)
    seen: dict[str, int] = {}  # resolved path -> its first line
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        row = _manifest_row(root, raw, seen)
        if isinstance(row, str):
            bad.add(f"{mpath}, line {line_no}: {row}")
            continue
        obj, full, label = row
        seen[full] = line_no
        listing.files.append(full)
        listing.labels.append(label)
        listing.seeds.append(_int_or(obj.get("seed")))
        listing.steps.append(_int_or(obj.get("step")))
        listing.lines.append(line_no)
        if obj.get("generator") is not None:
            listing.generators.add(str(obj["generator"]))
    listing.unlisted = _count_unlisted(root, seen)
    listing.n_bad, listing.bad = bad.count, bad.examples
    return listing


def _manifest_row(root: Path, raw: str, seen: dict[str, int]) -> tuple[dict, str, int] | str:
    """One manifest line as (object, resolved file, label), or the reason it is unusable."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg}); expected one JSON object per line"
    if not isinstance(obj, dict):
        return "expected a JSON object with keys file, emotion, source, seed, generator, step"
    rel = obj.get("file")
    if not isinstance(rel, str) or not rel.strip():
        return "missing or empty 'file'; expected the image path relative to the folder"
    full = (root / rel).resolve()
    try:
        label = EMOTION_INDEX[canonical_name(str(obj.get("emotion", Path(rel).parent.name)))]
    except UnknownEmotionError as exc:
        return f"key emotion: {exc}"
    if str(full) in seen:
        return f"file {rel!r} is listed twice (first on line {seen[str(full)]})"
    if not full.is_file():
        return f"listed file {root / rel} does not exist"
    return obj, str(full), label


def _count_unlisted(root: Path, listed: dict[str, int]) -> int:
    """Image files under root (hidden folders left out) that the manifest does not list."""
    unlisted = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if is_image_file(name) and str(Path(dirpath, name).resolve()) not in listed:
                unlisted += 1
    return unlisted


def _build(root: Path, skip_bad: bool, threads: int | None, source: str) -> FaceDataset:
    mpath = root / MANIFEST
    if mpath.is_file():
        listing = _parse_manifest(root, skip_bad)
        files, labels, seeds, steps, n_bad, bad = (listing.files, listing.labels, listing.seeds, listing.steps,
                                                   listing.n_bad, listing.bad)
        generators, unlisted = sorted(listing.generators), listing.unlisted
        where = [f"{mpath}, line {n}: " for n in listing.lines]
        if not files:
            raise DataError(f"{mpath}: lists no usable images" + (f" (first problem: {bad[0]})" if bad else
                            "; expected one JSON object per image"))
    else:
        has_images = any(is_image_file(f) for _, _, fs in os.walk(root) for f in fs)
        if not has_images:
            raise DataError(f"{root}: empty synthetic folder (no {MANIFEST} and no images); expected "
                            f"<emotion>/*.png written by 'fergan synthesize'")
        tree = scan_image_tree(root, skip_bad)
        files, labels, n_bad, bad = tree.paths, tree.labels, tree.skipped, tree.skip_reasons
        seeds = steps = [-1] * len(files)
        generators, unlisted, where = [], 0, [""] * len(files)
        if not files:
            raise DataError(f"{root}: no images in emotion folders (expected {', '.join(EMOTIONS)})")
    images, ok, msgs = load_listed_images(files, where, exact_size=True, skip_bad=skip_bad, threads=threads)
    if not ok:
        raise DataError(f"{root}: none of the {len(files)} images could be read; first: {msgs[0]}")
    splits = [SPLIT_INDEX["train"]] * len(files)
    return dataset_from_images(images, ok, labels, splits, source=source, info={
        "reader": "synthetic",
        "path": str(root),
        "rows": len(ok),
        "manifest": mpath.is_file(),
        "generators": generators,
        "unlisted_files": unlisted,
        "skipped": n_bad + len(msgs),
        "skipped_examples": (bad + msgs)[:MAX_SKIP_EXAMPLES],
    }, per_row={"seed": seeds, "step": steps})


def read_synthetic(
    root: str | os.PathLike,
    *,
    skip_bad: bool = False,
    threads: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    source: str | None = None,
) -> FaceDataset:
    """Read a synthetic folder (see module docstring) into an all-train FaceDataset."""
    root = Path(root)
    check_folder(root, f"a synthetic folder (<emotion>/*.png + {MANIFEST})")
    if not any(root.iterdir()):
        raise DataError(f"{root}: empty synthetic folder; expected <emotion>/*.png and {MANIFEST}")
    return cached_read(
        "synthetic", READER_VERSION, root, [tree_fingerprint(root)], {"skip_bad": skip_bad},
        lambda src: _build(root, skip_bad, threads, src), source=source, cache=cache, cache_dir=cache_dir,
    )


def _check_seed_gen(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def limit_per_class(dataset: FaceDataset, cap: int | Sequence[int | None] | None, seed: int = 0) -> FaceDataset:
    """Keep at most ``cap`` rows per class (one number, or one per class with None = no
    limit), chosen at random (seeded), in original order. ``cap=None`` changes nothing."""
    if cap is None:
        return dataset
    caps = [cap] * len(dataset.class_names) if isinstance(cap, (int, np.integer)) else list(cap)
    if len(caps) != len(dataset.class_names):
        raise ValueError(f"expected one cap per class ({len(dataset.class_names)}), got {len(caps)}")
    if any(c is not None and int(c) < 0 for c in caps):
        raise ValueError(f"caps must be >= 0, got {caps}")
    g = _check_seed_gen(seed)
    keep = torch.zeros(len(dataset), dtype=torch.bool)
    for k, limit in enumerate(caps):
        rows = torch.nonzero(dataset.labels == k).flatten()
        if limit is not None and len(rows) > limit:
            rows = rows[torch.randperm(len(rows), generator=g)[:limit]]
        keep[rows] = True
    return dataset.subset(keep)
