"""Run directories: runs/<tool>/00003-<desc>/, numbered so runs sort by creation."""

from __future__ import annotations

import re
from pathlib import Path

_RUN_NAME = re.compile(r"^(\d{5})-")


def next_run_dir(root: str | Path, desc: str) -> Path:
    """Create and return ``root/NNNNN-desc`` with the next free number."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in root.iterdir() if (m := _RUN_NAME.match(p.name))]
    number = max(taken, default=-1) + 1
    safe_desc = re.sub(r"[^A-Za-z0-9._+-]+", "_", desc).strip("_") or "run"
    while True:
        path = root / f"{number:05d}-{safe_desc}"
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another process took this number first
            number += 1
