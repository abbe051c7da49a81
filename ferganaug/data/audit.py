"""Dataset audit: class counts, exact duplicates, label conflicts, blank images, leakage.

Duplicates are *exact*: two rows are the same image when their 48x48 uint8 pixel bytes are
identical (each row is hashed with BLAKE2b-128 over its contiguous bytes; collisions are
negligible at 2^-128). Near-duplicates (re-encoded, shifted) are not detected.

On the real FER2013 this reproduces the numbers in the data README: 34,034 distinct
images; 1,516 duplicate groups covering 3,369 rows; 57 groups (160 rows) with conflicting
labels; 568 val/test rows that copy a training image; 43 groups shared by val and test;
12 entirely black images.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ferganaug.data.dataset import SPLIT_INDEX, SPLITS, FaceDataset

MAX_EXAMPLES = 10


def image_groups(ds: FaceDataset) -> tuple[np.ndarray, np.ndarray]:
    """(group id per row, rows per group): rows with identical pixel bytes share a group."""
    n = len(ds)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = np.ascontiguousarray(ds.images.reshape(n, -1).numpy())  # n > 0 here
    digests = b"".join(hashlib.blake2b(row, digest_size=16).digest() for row in flat)
    keys = np.frombuffer(digests, dtype="V16")
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return inverse.reshape(-1).astype(np.int64), counts.astype(np.int64)


def _groups_with(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Boolean per group: does the group have a row where ``mask`` is true?"""
    out = np.zeros(n_groups, dtype=bool)
    out[group[mask]] = True
    return out


def audit_dataset(ds: FaceDataset) -> dict:
    """JSON-serialisable audit of ``ds`` (see the module docstring and :func:`format_audit`).

    Keys: source, rows, class_names, counts (split -> class -> n, plus total), distinct_images,
    duplicates {groups, rows, examples}, conflicts {groups, rows, examples}, blank {rows,
    by_split, black, black_by_split, examples}, leaks {split: {rows, groups}, total_rows},
    val_test_shared {groups, val_rows, test_rows}. Example lists hold row indices of ``ds``.
    """
    names = list(ds.class_names)
    labels = ds.labels.numpy()
    splits = ds.splits.numpy().astype(np.int64)
    in_split = {s: splits == SPLIT_INDEX[s] for s in SPLITS}
    group, sizes = image_groups(ds)
    return {
        "source": ds.source,
        "rows": len(ds),
        # rows the reader skipped as malformed (--skip-bad), and the first few reasons
        "skipped": int(ds.info.get("skipped", 0)),
        "skipped_examples": list(ds.info.get("skipped_examples", [])),
        "class_names": names,
        "counts": _class_counts(labels, in_split, names),
        "distinct_images": len(sizes),
        **_repeated_images(group, sizes, labels),
        "blank": _blank_rows(ds, in_split),
        **_shared_across_splits(group, len(sizes), in_split),
    }


def _class_counts(labels: np.ndarray, in_split: dict[str, np.ndarray], names: list[str]) -> dict[str, dict[str, int]]:
    """split (and "all") -> class -> rows, plus "total"."""
    counts = {}
    for s in SPLITS + ("all",):
        sel = labels if s == "all" else labels[in_split[s]]
        bc = np.bincount(sel, minlength=len(names))
        counts[s] = {name: int(bc[k]) for k, name in enumerate(names)} | {"total": int(len(sel))}
    return counts


def _repeated_images(group: np.ndarray, sizes: np.ndarray, labels: np.ndarray) -> dict:
    """Groups of identical images ("duplicates") and those whose copies disagree on the label
    ("conflicts"), each with a few example groups as row lists."""
    dup = sizes > 1
    lowest = np.full(len(sizes), np.iinfo(np.int64).max)
    highest = np.full(len(sizes), -1)
    np.minimum.at(lowest, group, labels)
    np.maximum.at(highest, group, labels)
    conflict = dup & (lowest != highest)

    def summary(gmask: np.ndarray) -> dict:
        ids = np.flatnonzero(gmask)[:MAX_EXAMPLES]
        return {"groups": int(gmask.sum()), "rows": int(sizes[gmask].sum()),
                "examples": [np.flatnonzero(group == g).tolist() for g in ids.tolist()]}

    return {"duplicates": summary(dup), "conflicts": summary(conflict)}


def _blank_rows(ds: FaceDataset, in_split: dict[str, np.ndarray]) -> dict:
    """Images of one grey level (and the all-black among them), overall and per split."""
    n = len(ds)
    if n:
        flat = ds.images.reshape(n, -1)
        lo, hi = flat.amin(dim=1).numpy(), flat.amax(dim=1).numpy()
    else:
        lo = hi = np.zeros(0, np.uint8)
    blank = lo == hi
    black = blank & (hi == 0)
    return {
        "rows": int(blank.sum()),
        "by_split": {s: int((blank & in_split[s]).sum()) for s in SPLITS},
        "black": int(black.sum()),
        "black_by_split": {s: int((black & in_split[s]).sum()) for s in SPLITS},
        "examples": np.flatnonzero(blank)[:MAX_EXAMPLES].tolist(),
    }


def _shared_across_splits(group: np.ndarray, n_groups: int, in_split: dict[str, np.ndarray]) -> dict:
    """Images of the validation and test splits that are copies of a training image
    ("leaks"), and those that appear in both validation and test ("val_test_shared")."""
    has = {s: _groups_with(group, in_split[s], n_groups) for s in SPLITS}
    leaks: dict = {}
    for s in SPLITS[1:]:
        leaks[s] = {"rows": int((in_split[s] & has["train"][group]).sum()),
                    "groups": int((has[s] & has["train"]).sum())}
    leaks["total_rows"] = sum(leaks[s]["rows"] for s in SPLITS[1:])
    shared = has["val"] & has["test"]
    return {
        "leaks": leaks,
        "val_test_shared": {
            "groups": int(shared.sum()),
            "val_rows": int((in_split["val"] & shared[group]).sum()),
            "test_rows": int((in_split["test"] & shared[group]).sum()),
        },
    }


def leak_free_mask(ds: FaceDataset, split: str = "test") -> torch.Tensor:
    """Bool mask over the rows of ``ds.split(split)``: True where the image is NOT an exact
    copy of any training image. ``ds.split(split).subset(mask)`` is the leak-free split."""
    if split not in SPLIT_INDEX or split == "train":
        raise ValueError(f"split must be one of {', '.join(SPLITS[1:])}, got {split!r}")
    group, sizes = image_groups(ds)
    splits = ds.splits.numpy()
    in_train = _groups_with(group, splits == SPLIT_INDEX["train"], len(sizes))
    rows = splits == SPLIT_INDEX[split]
    return torch.from_numpy(~in_train[group[rows]])


def format_audit(report: dict) -> str:
    """A readable text report of :func:`audit_dataset`'s result."""
    names = report["class_names"]
    width = max(7, *(len(n) for n in names))
    lines = [f"Dataset audit: {report.get('source') or '(unnamed)'} - {report['rows']:,} rows", ""]
    if report.get("skipped"):
        lines[-1:] = [f"skipped {report['skipped']:,} malformed rows (--skip-bad); first: "
                      f"{report['skipped_examples'][0] if report['skipped_examples'] else 'no detail'}", ""]
    head = f"{'split':<6}" + "".join(f"{n:>{width + 1}}" for n in names) + f"{'total':>{width + 2}}"
    lines.append(head)
    lines.append("-" * len(head))
    for s, row in report["counts"].items():
        if s != "all" and row["total"] == 0:
            continue
        lines.append(f"{s:<6}" + "".join(f"{row[n]:>{width + 1},}" for n in names) + f"{row['total']:>{width + 2},}")
    d, c, b, lk, sh = (report[k] for k in ("duplicates", "conflicts", "blank", "leaks", "val_test_shared"))
    by = lambda m: ", ".join(f"{s} {v:,}" for s, v in m.items())  # noqa: E731
    row = lambda label, value, rest="": f"{label:<36}{value:>8,}{rest}"  # noqa: E731
    lines += [
        "",
        row("distinct images", report["distinct_images"], f" of {report['rows']:,}"),
        row("groups of identical images", d["groups"], f" covering {d['rows']:,} rows"),
        row("  ... with conflicting labels", c["groups"], f" covering {c['rows']:,} rows"),
        row("blank images (all pixels equal)", b["rows"], f" ({by(b['by_split'])})"),
        row("  ... entirely black", b["black"], f" ({by(b['black_by_split'])})"),
    ]
    for s in SPLITS[1:]:
        lines.append(row(f"{s} rows copying a training image", lk[s]["rows"], f" ({lk[s]['groups']:,} groups)"))
    lines.append(row("  ... val + test in all", lk["total_rows"]))
    lines.append(row("groups shared by val and test", sh["groups"],
                     f" ({sh['val_rows']:,} val rows, {sh['test_rows']:,} test rows)"))
    return "\n".join(lines)
