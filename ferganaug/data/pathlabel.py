"""Generic ``path,label[,split]`` CSV of image files.

- ``path``: an image file, relative to the CSV's folder (or absolute),
- ``label``: a canonical index 0..6 (FER2013 order: angry, disgust, fear, happy, sad,
  surprise, neutral) or an emotion name/alias (anger, happiness, surprised, ...),
- ``split`` (optional): train/val/test or an alias (training, validation, publictest,
  privatetest, ...); without the column every row is train.

Images are loaded with :func:`ferganaug.data.images.load_face_image`'s rule (grey, centre
square, 48x48) on a thread pool.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ferganaug.data.cache import cached_read, file_fingerprint
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset
from ferganaug.data.errors import MAX_SKIP_EXAMPLES, BadRows, DataError, check_file
from ferganaug.data.fer2013 import read_csv
from ferganaug.data.folders import accepted_split_names, split_from_name
from ferganaug.data.images import dataset_from_images, load_listed_images
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS, UnknownEmotionError, canonical_name

READER_VERSION = 1


def parse_label(text: str) -> int:
    """Canonical index from '0'..'6' or an emotion name/alias; UnknownEmotionError otherwise."""
    t = text.strip()
    if t.isdigit() and t.isascii():
        k = int(t)
        if k < len(EMOTIONS):
            return k
        raise UnknownEmotionError(
            f"label {k} is out of range; expected 0..{len(EMOTIONS) - 1} "
            f"({', '.join(f'{i} {n}' for i, n in enumerate(EMOTIONS))}) or an emotion name"
        )
    return EMOTION_INDEX[canonical_name(t)]


def _parse(path: Path, skip_bad: bool):
    reader, header = read_csv(path, "a header 'path,label' (optional ',split')")
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("path", "label") if c not in names]
    if missing:
        raise DataError(
            f"{path}, line 1: missing column(s) {', '.join(repr(m) for m in missing)}; found columns "
            f"{', '.join(repr(h.strip()) for h in header)}; expected a header 'path,label' (optional ',split')"
        )
    cp, cl = names.index("path"), names.index("label")
    cs = names.index("split") if "split" in names else None
    base = path.resolve().parent
    files, labels, splits, lines = [], [], [], []
    bad = BadRows(skip_bad)
    for row in reader:
        line = reader.line_num
        if not row or all(not f.strip() for f in row):
            continue
        reason = None
        if len(row) != len(names):
            reason = f"found {len(row)} fields, expected {len(names)} ({','.join(names)})"
        else:
            rel = row[cp].strip()
            try:
                label = parse_label(row[cl])
            except UnknownEmotionError as exc:
                label, reason = None, f"column label: {exc}"
            split = "train"
            if reason is None and cs is not None:
                split = split_from_name(row[cs]) if row[cs].strip() else None
                if split is None:
                    reason = (f"column split: unknown split {row[cs].strip()!r}; expected one of "
                              f"{accepted_split_names()}")
            if reason is None and not rel:
                reason = "column path is empty; expected an image file path"
        if reason is not None:
            bad.add(f"{path}, line {line}: {reason}")
            continue
        p = Path(rel)
        files.append(str(p if p.is_absolute() else base / p))
        labels.append(label)
        splits.append(SPLIT_INDEX[split])
        lines.append(line)
    return files, labels, splits, lines, bad.count, bad.examples


def _build(path: Path, skip_bad: bool, threads: int | None, source: str) -> FaceDataset:
    files, labels, splits, lines, n_bad, bad = _parse(path, skip_bad)
    if not files:
        raise DataError(f"{path}: no usable rows" + (f" (first problem: {bad[0]})" if bad else ""))
    where = [f"{path}, line {n}: " for n in lines]
    images, ok, msgs = load_listed_images(files, where, skip_bad=skip_bad, threads=threads)
    if not ok:
        raise DataError(f"{path}: none of the {len(files)} listed images could be read; first: {msgs[0]}")
    return dataset_from_images(images, ok, labels, splits, source=source, info={
        "reader": "csv",
        "path": str(path),
        "rows": len(ok),
        "skipped": n_bad + len(msgs),
        "skipped_examples": (bad + msgs)[:MAX_SKIP_EXAMPLES],
    })


def read_path_label_csv(
    path: str | os.PathLike,
    *,
    skip_bad: bool = False,
    threads: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    source: str | None = None,
) -> FaceDataset:
    """Read a ``path,label[,split]`` CSV and the images it lists (see module docstring).

    Bad rows (unknown label, unknown split, missing or unreadable image) raise DataError naming
    the CSV, the line and what was expected; ``skip_bad=True`` skips and counts them. The cache
    key covers the CSV and every listed image file's size and mtime.
    """
    path = Path(path)
    check_file(path, "a CSV file with columns path,label")
    inputs = [file_fingerprint(path)]
    if cache:
        # the listed images are inputs too: fingerprint them (cheap next to decoding)
        try:
            files = _parse(path, skip_bad=True)[0]
        except DataError:
            files = []
        stats = []
        for f in files:
            try:
                st = os.stat(f)
                stats.append((f, st.st_size, st.st_mtime_ns))
            except OSError:
                stats.append((f, -1, -1))
        inputs.append({"images": hashlib.blake2b(repr(stats).encode(), digest_size=16).hexdigest()})
    return cached_read(
        "csv", READER_VERSION, path, inputs, {"skip_bad": skip_bad},
        lambda src: _build(path, skip_bad, threads, src), source=source, cache=cache, cache_dir=cache_dir,
    )
