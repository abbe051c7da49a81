"""A synthetic folder as a small database: ``OUT/<emotion>/<NNNNNN>.png`` plus ``manifest.jsonl``.

The commit protocol that keeps it consistent under faults:
- an image is written atomically before the manifest row that lists it, and rows are appended
  only as whole lines; a torn last line (a full disk, a power cut) is moved aside to
  ``manifest.jsonl.torn`` with a message before anything else is appended;
- one writer at a time: ``OUT/.lock`` is created exclusively and holds the writer's pid and
  host; a second writer fails with a message naming the holder, and a lock whose process is
  gone (same host) is taken over;
- temporary files of an interrupted atomic write are swept by the next writer;
- ``check_folder`` verifies a folder (every row's image exists and decodes, no duplicate rows,
  no image without a row) and ``repair_folder`` makes it consistent without deleting an image:
  rows that cannot be used and images no row lists are moved aside, never removed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from PIL import Image

from ferganaug.data.errors import DataError
from ferganaug.data.synthetic import MANIFEST
from ferganaug.utils import locks

LOCK = ".lock"
TORN = "manifest.jsonl.torn"
REJECTED = "manifest.rejected.jsonl"
ORPHANS = ".orphans"
TEMP_SUFFIX = ".tmp"  # what ferganaug.utils.files' atomic writes leave behind when killed


class FolderLockedError(DataError):
    """Another process is writing into the synthetic folder."""


@contextlib.contextmanager
def writer_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder/.lock`` for the duration: the folder's only writer."""
    path = Path(folder) / LOCK
    if not locks.try_claim(path):
        raise FolderLockedError(
            f"{folder} is being written by {locks.describe(locks.holder_of(path))} (lock file {path}); wait for it "
            "to finish, or remove the lock file if that process is gone"
        )
    try:
        yield
    finally:
        locks.release(path)


def sweep_temp_files(folder: str | Path) -> int:
    """Remove the temporary files of atomic writes that were killed; returns how many."""
    removed = 0
    for path in Path(folder).rglob(f".*{TEMP_SUFFIX}"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def repair_torn_tail(folder: str | Path) -> int:
    """Mend a manifest whose last line has no newline (a write cut short): a complete row only
    gets its newline; a partial one is moved to manifest.jsonl.torn. Returns the bytes moved."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    if _is_row(tail):  # the row is whole; only its newline was lost
        _append_bytes(path, b"\n")
        return 0
    _append_bytes(Path(folder) / TORN, tail + b"\n")
    with open(path, "r+b") as f:
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    return len(tail)


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _is_row(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, UnicodeDecodeError):
        return False


def read_rows(folder: str | Path) -> list[dict]:
    """Every manifest row, strictly: a line that is not a JSON object names its line number."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return []
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the manifest ({err})") from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {line_no}: not a JSON object; `fergan synthesize --check --out "
                            f"{Path(folder)}` lists every problem and `--repair` sets them aside")
        rows.append(row)
    return rows


def append_rows(folder: str | Path, rows: list[dict]) -> None:
    """Append whole lines in one write, flushed to disk, so a crash cannot list half a chunk."""
    if not rows:
        return
    with open(Path(folder) / MANIFEST, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, allow_nan=False) + "\n" for r in rows))
        f.flush()
        os.fsync(f.fileno())


@dataclass
class FolderCheck:
    """What ``check_folder`` found; ``ok`` when nothing needs repair."""

    folder: str
    rows: int = 0
    torn_tail_bytes: int = 0
    bad_lines: list[int] = field(default_factory=list)  # manifest lines that are not JSON objects
    missing: list[str] = field(default_factory=list)  # files rows list that are not there
    undecodable: list[str] = field(default_factory=list)  # files that are there but do not decode
    duplicates: list[str] = field(default_factory=list)  # files listed more than once
    orphans: list[str] = field(default_factory=list)  # images no row lists
    temp_files: int = 0

    @property
    def ok(self) -> bool:
        return not (self.torn_tail_bytes or self.bad_lines or self.missing or self.undecodable or self.duplicates
                    or self.orphans or self.temp_files)

    def summary(self) -> str:
        if self.ok:
            return f"{self.folder}: consistent, {self.rows} rows"
        parts = [f"{len(v)} {name}" for name, v in (
            ("bad manifest lines", self.bad_lines), ("rows whose image is missing", self.missing),
            ("undecodable images", self.undecodable), ("duplicate rows", self.duplicates),
            ("images no row lists", self.orphans)) if v]
        if self.torn_tail_bytes:
            parts.insert(0, f"a torn last line ({self.torn_tail_bytes} bytes)")
        if self.temp_files:
            parts.append(f"{self.temp_files} temporary files of interrupted writes")
        return f"{self.folder}: {self.rows} rows; " + ", ".join(parts)


def check_folder(folder: str | Path) -> FolderCheck:
    """Verify a synthetic folder without changing it."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise DataError(f"{folder} has no {MANIFEST}: not a folder written by fergan synthesize")
    report = FolderCheck(str(folder))
    lines = (folder / MANIFEST).read_bytes().split(b"\n")
    if lines[-1]:  # no final newline: the last line is torn
        report.torn_tail_bytes = len(lines[-1])
        lines = lines[:-1]
    listed: set[str] = set()
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = json.loads(line) if _is_row(line) else None
        if row is None or not isinstance(row.get("file"), str):
            report.bad_lines.append(line_no)
            continue
        report.rows += 1
        name = row["file"]
        if name in listed:
            report.duplicates.append(name)
            continue
        listed.add(name)
        if not (folder / name).is_file():
            report.missing.append(name)
        elif not _decodes(folder / name):
            report.undecodable.append(name)
    report.orphans = sorted(str(p.relative_to(folder)) for p in _images(folder) if str(p.relative_to(folder)) not in listed)
    report.temp_files = sum(1 for p in folder.rglob(f".*{TEMP_SUFFIX}") if p.is_file())
    return report


def repair_folder(folder: str | Path) -> FolderCheck:
    """Make a folder consistent, deleting no image: the torn tail goes to manifest.jsonl.torn,
    unusable and duplicate rows to manifest.rejected.jsonl, images no row lists (undecodable
    ones among them) to .orphans/, temporary files are swept. Returns the check afterwards."""
    folder = Path(folder)
    with writer_lock(folder):
        repair_torn_tail(folder)
        sweep_temp_files(folder)
        report = check_folder(folder)
        keep, rejected, seen = [], [], set()
        broken = set(report.missing) | set(report.undecodable)
        for line in (folder / MANIFEST).read_bytes().split(b"\n"):
            if not line.strip():
                continue
            row = json.loads(line) if _is_row(line) else None
            name = row.get("file") if row else None
            if not isinstance(name, str) or name in broken or name in seen:
                rejected.append(line)
                continue
            seen.add(name)
            keep.append(line)
        if rejected:
            with open(folder / REJECTED, "ab") as f:
                f.write(b"".join(line + b"\n" for line in rejected))
        _rewrite(folder / MANIFEST, b"".join(line + b"\n" for line in keep))
        for name in check_folder(folder).orphans:  # now also the undecodable images whose rows went
            target = folder / ORPHANS / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(folder / name, target)
    return check_folder(folder)


def _rewrite(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{TEMP_SUFFIX}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _images(folder: Path) -> Iterator[Path]:
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.name.startswith("."):
            yield from sorted(p for p in sub.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, ValueError, SyntaxError):
        return False


def is_disk_full(err: OSError) -> bool:
    return err.errno in (errno.ENOSPC, errno.EDQUOT)
