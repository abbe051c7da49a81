"""Output files: atomic writes (a crash or Ctrl-C never leaves a half-written file behind),
writable folders checked before work starts, and output names that never replace a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ferganaug.data.errors import DataError


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    _atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by null: JSON has no such numbers, and strict
    parsers reject the bare ``NaN`` Python would write."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON (see strict_json); objects JSON cannot hold are written as strings."""
    return json.dumps(strict_json(obj), indent=indent, default=str, allow_nan=False)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json_text(obj) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    _atomic_write(Path(path), lambda tmp: torch.save(obj, tmp))


def append_jsonl(path: str | os.PathLike, obj: Any) -> None:
    """Append one JSON line; flushed and fsynced so an interrupted run keeps every full line."""
    with open(path, "a") as f:
        f.write(json_text(obj, indent=None) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSON-lines file, ignoring a torn last line left by a crash."""
    rows = []
    p = Path(path)
    if not p.exists():
        return rows
    lines = p.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise
    return rows


def check_writable(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and prove a file can be written there, before any work
    whose results would go there (DataError naming the folder otherwise)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        raise DataError(f"cannot write to the output folder {folder}: {err.strerror or err}") from None


def fresh_output_paths(inputs: Sequence[str | os.PathLike], out: Path, suffix: str, ext: str, tool: str) -> list[Path]:
    """One output name per input in ``out`` (``me_happy.png``; inputs that share a stem get
    ``-2``, ``-3``), checked before anything is written: an existing file is never replaced."""
    targets, taken = [], set()
    for path in inputs:
        stem, k = Path(path).stem, 1
        while (name := f"{stem}{'' if k == 1 else f'-{k}'}_{suffix}{ext}") in taken:
            k += 1
        taken.add(name)
        targets.append(out / name)
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise DataError(f"{existing[0]} already exists{more}; {tool} never replaces a file: "
                        "give another output folder or move it away")
    return targets
