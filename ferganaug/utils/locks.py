"""Lock and claim files shared by processes, on one machine or on a shared filesystem: created
exclusively, holding the holder's pid and host. A file left by a process that no longer runs
on this host is stale and taken over; one of another host is never judged stale from here."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path


def me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def try_claim(path: str | Path) -> bool:
    """Create ``path`` for this process; False when a live holder has it."""
    path = Path(path)
    for _ in range(2):  # a second try after taking over a stale file
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if not is_stale(holder_of(path)):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me(), f)
        return True
    return False  # another process took it between our two tries


def release(path: str | Path) -> None:
    """Remove ``path`` if this process holds it."""
    if holder_of(path) == me():
        Path(path).unlink(missing_ok=True)


def holder_of(path: str | Path) -> dict:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def is_stale(holder: dict) -> bool:
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return not holder  # empty or unreadable: its writer died while creating it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe(holder: dict) -> str:
    return f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
