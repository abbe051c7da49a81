"""FER2013 ``.csv`` / ``.csv.gz`` reader (header ``emotion,pixels,Usage``).

Usage maps Training -> train, PublicTest -> val, PrivateTest -> test (train/val/test and the
folder-name aliases are accepted too, case-insensitively). A file without a Usage column is
all train. Column order is taken from the header, and whitespace around names and fields is
ignored (Kaggle's ``icml_face_data.csv`` writes ``emotion, Usage, pixels``).

Decoding is vectorised: the whole file is one uint8 numpy array; lines and fields are
found from the positions of newlines and commas, and the pixel fields are parsed a chunk of
rows at a time from the digit mask (token starts/ends, then up to three digits times powers
of ten). No Python runs per pixel; Python runs only per row for the short label and Usage
fields, and per *bad* row to write its error message.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ferganaug.data.cache import cached_read, file_fingerprint
from ferganaug.data.dataset import IMAGE_SIZE, SPLIT_INDEX, SPLITS, FaceDataset
from ferganaug.data.errors import MAX_SKIP_EXAMPLES, DataError, check_file
from ferganaug.emotions import EMOTIONS
from ferganaug.utils.files import atomic_write_bytes

READER_VERSION = 1
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
_CHUNK_ROWS = 2048

USAGE_TO_SPLIT: dict[str, str] = {
    "training": "train", "train": "train",
    "publictest": "val", "val": "val", "valid": "val", "validation": "val",
    "privatetest": "test", "test": "test",
}


def read_bytes(path: str | os.PathLike) -> bytes:
    """The file's bytes, gunzipped when the name ends in .gz (or the content is gzip)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"no such file or folder: {path}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            raise DataError(f"{path}: not a valid gzip file ({exc})") from None
    elif path.name.lower().endswith(".gz"):
        raise DataError(f"{path}: name ends in .gz but the content is not gzip-compressed")
    return data


def _gunzip(data: bytes) -> bytes:
    """zlib directly (one copy less than gzip.decompress); gzip for multi-member files."""
    z = zlib.decompressobj(wbits=31)
    out = z.decompress(data)
    if not z.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")
    if z.unused_data.strip(b"\0"):
        return gzip.decompress(data)
    return out


def read_csv(path: Path, expected: str) -> tuple:
    """(csv.reader over the file's text after the header line, the header's fields).

    The file may be gzipped (see :func:`read_bytes`); a BOM is dropped and undecodable bytes
    are replaced. An empty file is a DataError ending in ``expected {expected}``.
    """
    text = read_bytes(path).decode("utf-8", "replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file; expected {expected}") from None
    return reader, header


def read_header_line(path: str | os.PathLike) -> list[str]:
    """Column names of a (possibly gzipped) CSV, stripped of spaces, quotes and a BOM."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            line = f.readline(1 << 16)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the header line ({exc})") from None
    text = line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    return [c.strip().strip('"').strip() for c in text.split(",")]


@dataclass
class Fer2013Rows:
    """Decoded rows of a FER2013-style CSV before they become a FaceDataset."""

    images: np.ndarray          # uint8 [N, 48, 48]
    labels: np.ndarray | None   # int64 [N] or None when the file has no emotion column
    usage: list[str] | None     # raw Usage value per row, or None without a Usage column
    line_numbers: np.ndarray    # int64 [N], 1-based line of each row in the file
    row_index: np.ndarray       # int64 [N], 0-based index among the file's data rows
    total_rows: int             # data rows in the file (non-blank lines after the header)
    skipped: int
    skipped_examples: list[str]
    columns: list[str]


class _Skipper:
    """Collects bad rows (line number + a lazily written reason).

    At the end, strict mode raises the earliest bad row in the file; skip_bad mode reports
    the count and the first few reasons. Reasons are functions so that a file full of bad
    rows does not pay for thousands of messages nobody reads.
    """

    def __init__(self, path: Path, skip_bad: bool) -> None:
        self.path, self.skip_bad = path, skip_bad
        self.rows: dict[int, object] = {}

    def bad(self, line: int, reason) -> None:
        self.rows.setdefault(line, reason)

    def _text(self, line: int) -> str:
        reason = self.rows[line]
        return f"{self.path}, line {line}: {reason() if callable(reason) else reason}"

    def finish(self) -> tuple[int, list[str]]:
        lines = sorted(self.rows)
        if lines and not self.skip_bad:
            more = f" ({len(lines)} bad rows in all; skip_bad=True skips them)" if len(lines) > 1 else ""
            raise DataError(self._text(lines[0]) + more)
        return len(lines), [self._text(n) for n in lines[:MAX_SKIP_EXAMPLES]]


def _diagnose_pixels(field: bytes) -> str | None:
    """Why one pixel field is bad (slow path, only for rows the fast path flagged)."""
    tokens = [t for t in field.strip().strip(b'"').split(b" ") if t]
    for i, tok in enumerate(tokens):
        if not tok.isdigit():
            return (f"pixel {i + 1} is {tok.decode('utf-8', 'replace')!r}, expected an integer "
                    f"0..255 (pixels are {NUM_PIXELS} space-separated integers)")
    if len(tokens) != NUM_PIXELS:
        return f"found {len(tokens)} pixel values, expected {NUM_PIXELS} ({IMAGE_SIZE}x{IMAGE_SIZE})"
    for i, tok in enumerate(tokens):
        if int(tok) > 255:
            return f"pixel {i + 1} is {int(tok)}, expected an integer 0..255"
        if len(tok) > 3:
            return f"pixel {i + 1} is {tok.decode()!r}, expected an integer 0..255 of at most 3 digits"
    return None


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[i], starts[i] + lengths[i])`` without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lengths)


def _parse_pixel_chunk(buf: np.ndarray, ps: np.ndarray, pe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse rows whose pixel fields are ``buf[ps[i]:pe[i]]`` (ps, pe ascending).

    Returns (values uint8 [n_good, 2304], good bool [n]). A row is bad when its field holds a
    character other than digits and spaces, a value above 255 or a count other than 2304.
    """
    n = len(ps)
    lo, hi = int(ps[0]), int(pe[-1])
    # c: the chunk's bytes with one leading and two trailing spaces; the bytes between one
    # row's pixel field and the next (",Training\n3,") are blanked to spaces.
    c = np.empty(hi - lo + 3, dtype=np.uint8)
    c[0] = c[-2] = c[-1] = 32
    c[1:-2] = buf[lo:hi]
    rs, re_ = ps - lo + 1, pe - lo + 1
    c[_ranges(re_[:-1], rs[1:] - re_[:-1])] = 32
    d = c - np.uint8(48)  # wraps for non-digits
    isdig = d < 10
    good = np.ones(n, dtype=bool)
    badchar = np.flatnonzero(~isdig & (c != 32))
    if badchar.size:
        good[np.unique(np.searchsorted(rs, badchar, side="right") - 1)] = False
    # token boundaries: digit runs; c starts and ends with a non-digit so transitions pair up
    trans = np.flatnonzero(isdig[1:] != isdig[:-1]) + 1
    starts, ends = trans[0::2], trans[1::2]
    length = ends - starts
    first = np.searchsorted(starts, rs)
    counts = np.searchsorted(starts, re_) - first
    good &= counts == NUM_PIXELS
    v = d[starts].astype(np.uint16)
    v = np.where(length >= 2, v * 10 + d[starts + 1], v)
    v = np.where(length >= 3, v * 10 + d[starts + 2], v)
    toobig = np.flatnonzero((length > 3) | (v > 255))
    if toobig.size:
        good[np.unique(np.searchsorted(first, toobig, side="right") - 1)] = False
    if good.all():
        return v.astype(np.uint8).reshape(n, NUM_PIXELS), good
    keep = np.repeat(good, counts)
    return v[keep].astype(np.uint8).reshape(-1, NUM_PIXELS), good


def _clean(field: bytes) -> str:
    return field.strip().strip(b'"').strip().decode("utf-8", "replace")


@dataclass
class _Fields:
    """Byte bounds of the well-formed data rows and their comma-separated fields."""

    starts: np.ndarray        # first byte of each row
    ends: np.ndarray          # one past its last byte (a CR of CRLF excluded)
    commas: np.ndarray        # [rows, columns - 1] positions of each row's commas
    line_numbers: np.ndarray  # 1-based line of each row in the file
    row_index: np.ndarray     # 0-based index among the file's non-blank data rows

    def bounds(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """(first byte, one past the last) of ``column`` in every row."""
        last = self.commas.shape[1]
        s = self.starts if column == 0 else self.commas[:, column - 1] + 1
        e = self.ends if column == last else self.commas[:, column]
        return s, e


def _line_bounds(buf: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every line; CRLF's CR is not part of a line, a final newline adds none."""
    nl = np.flatnonzero(buf == 10)
    line_start = np.concatenate([[0], nl + 1])
    line_end = np.concatenate([nl, [len(buf)]])
    if line_end[-1] <= line_start[-1]:  # file ends with a newline: no last line
        line_start, line_end = line_start[:-1], line_end[:-1]
    if len(line_start) == 0:
        raise DataError(f"{path}: empty file; expected a header line 'emotion,pixels,Usage'")
    cr = (line_end > line_start) & (buf[np.maximum(line_end - 1, 0)] == 13)
    return line_start, line_end - cr


def _header_columns(header: bytes, path: Path, require_labels: bool) -> list[str]:
    """The header's column names, checked for the columns the caller needs."""
    columns = [c.strip().strip('"').strip() for c in header.decode("utf-8", "replace").split(",")]
    lower = [c.lower() for c in columns]
    needed = ["emotion", "pixels"] if require_labels else ["pixels"]
    missing = [c for c in needed if c not in lower]
    if missing:
        found = ", ".join(repr(c) for c in columns) or "none"
        hint = ""
        if "pixels" in lower and "emotion" not in lower:
            hint = (" - this looks like an unlabelled test file (pixels without emotion labels), "
                    "which cannot be used as training data")
        raise DataError(
            f"{path}, line 1: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"found columns {found}; expected a FER2013 header 'emotion,pixels,Usage' "
            f"(Usage optional){hint}"
        )
    return columns


def _data_fields(data: bytes, buf: np.ndarray, line_start: np.ndarray, line_end: np.ndarray,
                 columns: list[str], path: Path, skipper: _Skipper) -> tuple[_Fields, int]:
    """The data rows (blank lines dropped) that have one field per column, and how many
    non-blank data rows the file has; a row with another number of fields is reported bad."""
    starts, ends = line_start[1:], line_end[1:]
    numbers = np.arange(2, len(line_start) + 1, dtype=np.int64)
    lens = ends - starts
    blank = lens == 0
    for i in np.flatnonzero((lens > 0) & (lens < 16)):
        if not data[int(starts[i]):int(ends[i])].strip():
            blank[i] = True
    starts, ends, numbers = starts[~blank], ends[~blank], numbers[~blank]
    if len(starts) == 0:
        raise DataError(f"{path}: no data rows after the header line")
    total_rows = len(starts)
    ncols = len(columns)
    commas = np.flatnonzero(buf == 44)
    commas = commas[commas >= starts[0]]
    comma_line = np.searchsorted(starts, commas, side="right") - 1  # blank lines hold no commas
    per_line = np.bincount(comma_line, minlength=len(starts))
    ok = per_line == ncols - 1
    for i in np.flatnonzero(~ok):
        skipper.bad(int(numbers[i]), f"found {per_line[i] + 1} comma-separated fields, expected {ncols} "
                                     f"({','.join(columns)})")
    commas = commas[ok[comma_line]].reshape(-1, ncols - 1) if ncols > 1 else np.zeros((int(ok.sum()), 0), np.int64)
    row_index = np.arange(total_rows, dtype=np.int64)
    return _Fields(starts[ok], ends[ok], commas, numbers[ok], row_index[ok]), total_rows


def _parse_labels(data: bytes, fields: _Fields, column: int, good: np.ndarray, skipper: _Skipper) -> np.ndarray:
    """Emotion indices; a row whose label is not an integer 0..6 is marked not ``good``."""
    labels = np.zeros(len(good), dtype=np.int64)
    for i, (a, b) in enumerate(zip(*(bound.tolist() for bound in fields.bounds(column)))):
        text = _clean(data[a:b])
        if text.isdigit() and text.isascii() and int(text) < len(EMOTIONS):
            labels[i] = int(text)
            continue
        good[i] = False
        if text.lstrip("-").isdigit():
            why = f"emotion label {text} is out of range"
        elif text == "":
            why = "emotion label is empty"
        else:
            why = f"emotion label {text!r} is not an integer"
        skipper.bad(int(fields.line_numbers[i]), f"{why}; expected an integer 0..{len(EMOTIONS) - 1} "
                                                 f"({', '.join(f'{k} {n}' for k, n in enumerate(EMOTIONS))})")
    return labels


def _parse_usage(data: bytes, fields: _Fields, column: int, good: np.ndarray, skipper: _Skipper) -> list[str]:
    """Raw Usage values; a row with an unknown one is marked not ``good``."""
    usage = []
    for i, (a, b) in enumerate(zip(*(bound.tolist() for bound in fields.bounds(column)))):
        text = _clean(data[a:b])
        usage.append(text)
        if text.lower() not in USAGE_TO_SPLIT and good[i]:
            good[i] = False
            skipper.bad(int(fields.line_numbers[i]), f"unknown Usage value {text!r}; expected Training, "
                                                     f"PublicTest or PrivateTest")
    return usage


def _parse_pixels(data: bytes, buf: np.ndarray, fields: _Fields, column: int, good: np.ndarray,
                  skipper: _Skipper) -> np.ndarray:
    """uint8 [rows, 2304], vectorised a chunk of rows at a time; a row whose pixels do not parse
    is marked not ``good`` (and reported, unless its label or Usage already was)."""
    ps, pe = (bound.copy() for bound in fields.bounds(column))
    last = len(buf) - 1
    for _ in range(64):  # trim spaces around the field (usually none; a few at most)
        lead = (pe > ps) & (buf[np.minimum(ps, last)] == 32)
        trail = (pe > ps) & (buf[np.maximum(pe - 1, 0)] == 32)
        if not (lead.any() or trail.any()):
            break
        ps, pe = ps + lead, pe - trail
    quoted = (pe - ps >= 2) & (buf[np.minimum(ps, last)] == 34) & (buf[np.maximum(pe - 1, 0)] == 34)
    ps, pe = ps + quoted, pe - quoted
    images = np.empty((len(ps), NUM_PIXELS), dtype=np.uint8)
    pixels_good = np.ones(len(ps), dtype=bool)
    for r0 in range(0, len(ps), _CHUNK_ROWS):
        r1 = min(r0 + _CHUNK_ROWS, len(ps))
        values, ok_rows = _parse_pixel_chunk(buf, ps[r0:r1], pe[r0:r1])
        images[r0:r1][ok_rows] = values
        pixels_good[r0:r1] = ok_rows
    for i in np.flatnonzero(~pixels_good):
        if not good[i]:
            continue  # already reported for its label/usage
        good[i] = False
        field_bytes = data[int(ps[i]):int(pe[i])]
        skipper.bad(int(fields.line_numbers[i]),
                    lambda f=field_bytes: _diagnose_pixels(f) or "unparseable pixels field")
    return images


def parse_fer2013_bytes(
    data: bytes,
    path: str | os.PathLike = "<bytes>",
    *,
    require_labels: bool = True,
    skip_bad: bool = False,
) -> Fer2013Rows:
    """Decode FER2013-style CSV text (already gunzipped). See the module docstring."""
    path = Path(path)
    skipper = _Skipper(path, skip_bad)
    if data[:3] == b"\xef\xbb\xbf":
        data = b"   " + data[3:]  # keep offsets; spaces are stripped from the header names
    buf = np.frombuffer(data, dtype=np.uint8)
    line_start, line_end = _line_bounds(buf, path)
    columns = _header_columns(data[line_start[0]:line_end[0]], path, require_labels)
    lower = [c.lower() for c in columns]
    fields, total_rows = _data_fields(data, buf, line_start, line_end, columns, path, skipper)
    good = np.ones(len(fields.starts), dtype=bool)
    labels = _parse_labels(data, fields, lower.index("emotion"), good, skipper) if "emotion" in lower else None
    usage = _parse_usage(data, fields, lower.index("usage"), good, skipper) if "usage" in lower else None
    images = _parse_pixels(data, buf, fields, lower.index("pixels"), good, skipper)

    skipped, examples = skipper.finish()
    numbers, row_index = fields.line_numbers, fields.row_index
    if not good.all():
        images, numbers, row_index = images[good], numbers[good], row_index[good]
        if labels is not None:
            labels = labels[good]
        if usage is not None:
            usage = [u for u, g in zip(usage, good.tolist()) if g]
    if len(images) == 0:
        raise DataError(f"{path}: no usable rows (all {skipped} rows were bad; first: "
                        f"{examples[0] if examples else '-'})")
    return Fer2013Rows(
        images=images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        labels=labels,
        usage=usage,
        line_numbers=numbers,
        row_index=row_index,
        total_rows=total_rows,
        skipped=skipped,
        skipped_examples=examples,
        columns=columns,
    )


def usage_to_splits(usage: list[str] | None, n: int) -> np.ndarray:
    """int8 split indices from raw Usage values (all train when there is no Usage column)."""
    if usage is None:
        return np.full(n, SPLIT_INDEX["train"], dtype=np.int8)
    table = {k: SPLIT_INDEX[v] for k, v in USAGE_TO_SPLIT.items()}
    return np.fromiter((table[u.lower()] for u in usage), dtype=np.int8, count=n)


def _build(path: Path, skip_bad: bool, source: str) -> FaceDataset:
    rows = parse_fer2013_bytes(read_bytes(path), path, skip_bad=skip_bad)
    n = len(rows.images)
    splits = usage_to_splits(rows.usage, n)
    usage_counts: dict[str, int] = {}
    if rows.usage is not None:
        values, counts = np.unique(np.array(rows.usage, dtype=object).astype(str), return_counts=True)
        usage_counts = {str(v): int(c) for v, c in zip(values, counts)}
    return FaceDataset(
        images=torch.from_numpy(rows.images).unsqueeze(1),
        labels=torch.from_numpy(rows.labels),
        splits=torch.from_numpy(splits),
        source=source,
        info={
            "reader": "fer2013",
            "path": str(path),
            "rows": n,
            "has_usage": rows.usage is not None,
            "usage_counts": usage_counts,
            "skipped": rows.skipped,
            "skipped_examples": rows.skipped_examples,
        },
    )


def read_fer2013(
    path: str | os.PathLike,
    *,
    skip_bad: bool = False,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    source: str | None = None,
) -> FaceDataset:
    """Read a FER2013 ``.csv`` or ``.csv.gz`` into a FaceDataset (through the cache).

    Raises DataError naming the file, the 1-based line and what was expected for a missing
    column, a label outside 0..6, an unknown Usage, a non-numeric pixel, a pixel above 255
    or a pixel count other than 2304. With ``skip_bad=True`` bad rows are skipped and
    counted in ``info["skipped"]`` (first few reasons in ``info["skipped_examples"]``).
    """
    path = Path(path)
    check_file(path, "a FER2013 .csv or .csv.gz file")
    return cached_read(
        "fer2013", READER_VERSION, path, [file_fingerprint(path)], {"skip_bad": skip_bad},
        lambda src: _build(path, skip_bad, src), source=source, cache=cache, cache_dir=cache_dir,
    )


SPLIT_TO_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def write_fer2013_csv(data: FaceDataset, path: str | os.PathLike) -> Path:
    """Write ``data`` as a FER2013 csv (gzipped when the name ends in .gz) that ``read_fer2013``
    reads back row for row: labels, 48x48 pixels and splits as Usage. Written atomically, so an
    interrupted write leaves no half file."""
    if tuple(data.class_names) != EMOTIONS:
        raise DataError(f"a FER2013 csv labels faces {', '.join(EMOTIONS)}; this data's classes are "
                        f"{', '.join(data.class_names)}")
    if tuple(data.images.shape[2:]) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"a FER2013 csv holds {IMAGE_SIZE}x{IMAGE_SIZE} faces, got {tuple(data.images.shape[2:])}")
    usage = [SPLIT_TO_USAGE[s] for s in SPLITS]
    pixels = data.images.reshape(len(data), -1).numpy()
    lines = ["emotion,pixels,Usage"] + [
        f"{label},{' '.join(map(str, row))},{usage[split]}"
        for label, row, split in zip(data.labels.tolist(), pixels, data.splits.tolist())]
    body = ("\n".join(lines) + "\n").encode()
    path = Path(path)
    atomic_write_bytes(path, gzip.compress(body, mtime=0) if path.name.lower().endswith(".gz") else body)
    return path
