"""FER+ relabelling of FER2013: ``fer2013new.csv`` votes + pixels from ``fer2013.csv``.

The votes file has columns Usage, Image name, neutral, happiness, surprise, sadness, anger,
disgust, fear, contempt, unknown, NF (ten annotators' votes per image). Its rows line up
with fer2013.csv's data rows BY ROW ORDER (the Image name column is not a row index and is
empty for some rows); both files must therefore have the same number of data rows.

Labels are majority votes, mapped onto the canonical seven emotions by column *name*:

- a tie for the top vote count (between any columns) drops the row,
- a row whose majority is ``unknown`` or ``NF`` (not a face) is dropped,
- a row whose majority is ``contempt`` is dropped (``contempt="drop"``, the default: the
  toolkit is seven-class); ``contempt="ignore"`` instead discards contempt votes and takes
  the majority of the rest,
- a row with no votes at all is dropped.

The counts of each kind of dropped row are in ``info["dropped"]``. Splits come from the
FER+ Usage column (Training/PublicTest/PrivateTest); ``info["usage_mismatches"]`` counts
rows whose Usage differs from fer2013.csv's. ``info["votes"]`` is a uint8 tensor [N, 10]
of the raw votes (columns in ``info["vote_columns"]``) that follows ``subset``, for soft-label
protocols.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ferganaug.data.cache import cached_read, file_fingerprint
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset
from ferganaug.data.errors import MAX_SKIP_EXAMPLES, BadRows, DataError, check_file
from ferganaug.data.fer2013 import USAGE_TO_SPLIT, parse_fer2013_bytes, read_bytes, read_csv
from ferganaug.emotions import FERPLUS_ORDER, index_from_order

READER_VERSION = 1
VOTE_COLUMNS: tuple[str, ...] = FERPLUS_ORDER + ("unknown", "NF")
CONTEMPT_CHOICES = ("drop", "ignore")


def find_fer2013_for(votes_path: str | os.PathLike) -> Path | None:
    """fer2013.csv[.gz] beside the votes file or in ``../fer2013/``; None if neither exists."""
    d = Path(votes_path).resolve().parent
    for folder in (d, d.parent / "fer2013"):
        for name in ("fer2013.csv", "fer2013.csv.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _parse_votes(path: Path, skip_bad: bool):
    """(votes int64 [M,10], usage list, row_index [M], skipped, examples, total rows)."""
    reader, header = read_csv(path, f"a FER+ header 'Usage,Image name,{','.join(VOTE_COLUMNS)}'")
    names = [h.strip() for h in header]
    lower = [h.lower() for h in names]
    wanted = ["usage", "image name"] + [c.lower() for c in VOTE_COLUMNS]
    missing = [w for w in wanted if w not in lower]
    if missing:
        raise DataError(
            f"{path}, line 1: missing column(s) {', '.join(repr(m) for m in missing)}; found columns "
            f"{', '.join(repr(n) for n in names)}; expected a FER+ votes header "
            f"'Usage,Image name,{','.join(VOTE_COLUMNS)}'"
        )
    col_usage = lower.index("usage")
    vote_cols = [lower.index(c.lower()) for c in VOTE_COLUMNS]
    votes, usage, row_index = [], [], []
    bad = BadRows(skip_bad)
    data_row = -1
    for row in reader:
        line = reader.line_num
        if not row or all(not f.strip() for f in row):
            continue
        data_row += 1
        reason = None
        if len(row) != len(names):
            reason = f"found {len(row)} fields, expected {len(names)} ({','.join(names)})"
        else:
            u = row[col_usage].strip()
            if u.lower() not in USAGE_TO_SPLIT:
                reason = f"unknown Usage value {u!r}; expected Training, PublicTest or PrivateTest"
            else:
                vals = [row[c].strip() for c in vote_cols]
                wrong = [(VOTE_COLUMNS[k], v) for k, v in enumerate(vals) if not (v.isdigit() and v.isascii())]
                if wrong:
                    reason = (f"vote count {wrong[0][0]}={wrong[0][1]!r} is not a non-negative integer; "
                              f"expected vote counts (0..10)")
        if reason is not None:
            bad.add(f"{path}, line {line}: {reason}")
            continue
        votes.append([int(v) for v in vals])
        usage.append(u)
        row_index.append(data_row)
    return (np.array(votes, dtype=np.int64).reshape(-1, len(VOTE_COLUMNS)), usage,
            np.array(row_index, dtype=np.int64), bad.count, bad.examples, data_row + 1)


def majority_labels(votes: np.ndarray, contempt: str = "drop") -> tuple[np.ndarray, np.ndarray, dict]:
    """(canonical labels [M], keep mask [M], dropped counts) from FER+ votes [M, 10]."""
    if contempt not in CONTEMPT_CHOICES:
        raise DataError(f"contempt={contempt!r}: expected one of {', '.join(CONTEMPT_CHOICES)}")
    v = votes.copy()
    ci = VOTE_COLUMNS.index("contempt")
    if contempt == "ignore":
        v[:, ci] = 0
    top = v.max(axis=1) if len(v) else np.zeros(0, np.int64)
    n_top = (v == top[:, None]).sum(axis=1)
    winner = v.argmax(axis=1) if len(v) else np.zeros(0, np.int64)
    no_votes = top == 0
    tie = (n_top > 1) & ~no_votes
    single = ~no_votes & ~tie
    unknown = single & (winner == VOTE_COLUMNS.index("unknown"))
    not_face = single & (winner == VOTE_COLUMNS.index("NF"))
    is_contempt = single & (winner == ci)
    keep = single & ~unknown & ~not_face & ~is_contempt
    table = np.array([index_from_order(FERPLUS_ORDER, k) if k < len(FERPLUS_ORDER) and VOTE_COLUMNS[k] != "contempt"
                      else -1 for k in range(len(VOTE_COLUMNS))], dtype=np.int64)
    labels = table[winner]
    dropped = {
        "tie": int(tie.sum()),
        "unknown": int(unknown.sum()),
        "not_face": int(not_face.sum()),
        "contempt": int(is_contempt.sum()),
        "no_votes": int(no_votes.sum()),
    }
    return labels, keep, dropped


def _build(votes_path: Path, pixels_path: Path, skip_bad: bool, contempt: str, source: str) -> FaceDataset:
    votes, usage, vrow, n_bad, bad, n_vote_rows = _parse_votes(votes_path, skip_bad)
    pix = parse_fer2013_bytes(read_bytes(pixels_path), pixels_path, require_labels=False, skip_bad=skip_bad)
    n_pix_rows = pix.total_rows
    if n_vote_rows != n_pix_rows:
        raise DataError(
            f"{votes_path}: has {n_vote_rows} data rows but {pixels_path} has {n_pix_rows}; the FER+ votes "
            f"file lines up with fer2013.csv by row order, so both must have the same rows "
            f"(pass pixels=PATH to choose the right fer2013.csv)"
        )
    # align by data-row index (rows skipped on either side drop out)
    common, vi, pi = np.intersect1d(vrow, pix.row_index, assume_unique=True, return_indices=True)
    votes = votes[vi]
    usage_arr = [usage[i] for i in vi.tolist()]
    images = pix.images[pi]
    mismatches = 0
    if pix.usage is not None:
        pu = [pix.usage[i] for i in pi.tolist()]
        mismatches = sum(USAGE_TO_SPLIT[a.lower()] != USAGE_TO_SPLIT[b.lower()] for a, b in zip(usage_arr, pu))
    labels, keep, dropped = majority_labels(votes, contempt)
    splits = np.array([SPLIT_INDEX[USAGE_TO_SPLIT[u.lower()]] for u in usage_arr], dtype=np.int8)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        raise DataError(f"{votes_path}: no rows left after dropping ties, unknown, not-a-face and "
                        f"contempt majorities ({dropped})")
    return FaceDataset(
        images=torch.from_numpy(np.ascontiguousarray(images[idx])).unsqueeze(1),
        labels=torch.from_numpy(labels[idx]),
        splits=torch.from_numpy(splits[idx]),
        source=source,
        info={
            "reader": "ferplus",
            "path": str(votes_path),
            "pixels": str(pixels_path),
            "rows": int(len(idx)),
            "vote_rows": n_vote_rows,
            "contempt": contempt,
            "dropped": dropped,
            "usage_mismatches": int(mismatches),
            "skipped": int(n_vote_rows - len(common)),  # bad in the votes or the pixels file
            "skipped_examples": (bad + pix.skipped_examples)[:MAX_SKIP_EXAMPLES],
            "vote_columns": list(VOTE_COLUMNS),
            "votes": torch.from_numpy(votes[idx].astype(np.uint8)),
        },
    )


def read_ferplus(
    votes_path: str | os.PathLike,
    pixels_path: str | os.PathLike | None = None,
    *,
    contempt: str = "drop",
    skip_bad: bool = False,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    source: str | None = None,
) -> FaceDataset:
    """Read FER+ votes + FER2013 pixels into a seven-class FaceDataset (see module docstring).

    ``pixels_path`` defaults to :func:`find_fer2013_for` (``VOTES_DIR/fer2013.csv[.gz]`` or
    ``VOTES_DIR/../fer2013/fer2013.csv[.gz]``).
    """
    votes_path = Path(votes_path)
    check_file(votes_path, "the FER+ votes file fer2013new.csv")
    if contempt not in CONTEMPT_CHOICES:
        raise DataError(f"option contempt={contempt!r}: expected one of {', '.join(CONTEMPT_CHOICES)}")
    if pixels_path is None:
        found = find_fer2013_for(votes_path)
        if found is None:
            d = votes_path.resolve().parent
            raise DataError(
                f"{votes_path}: FER+ votes need the pixels from fer2013.csv; looked for "
                f"{d / 'fer2013.csv[.gz]'} and {d.parent / 'fer2013' / 'fer2013.csv[.gz]'}; "
                f"give it as ferplus:{votes_path},pixels=PATH"
            )
        pixels_path = found
    pixels_path = Path(pixels_path)
    if not pixels_path.is_file():
        raise DataError(f"no such file or folder: {pixels_path} (option pixels, expected fer2013.csv[.gz])")
    return cached_read(
        "ferplus", READER_VERSION, votes_path, [file_fingerprint(votes_path), file_fingerprint(pixels_path)],
        {"skip_bad": skip_bad, "contempt": contempt},
        lambda src: _build(votes_path, pixels_path, skip_bad, contempt, src),
        source=source, cache=cache, cache_dir=cache_dir,
    )
