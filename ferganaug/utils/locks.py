"""Lock and claim files shared by processes, on one machine or on a shared filesystem: created
exclusively, holding the holder's pid and host. A file left by a process that no longer runs
on this host is stale and taken over; one of another host is never judged stale from here.

A claim is written to a private file first and then hard-linked into place, so no other
process can ever read a claim file that is still empty: an empty one would otherwise look like
the leftover of a writer that died while creating it, and be taken over by a second claimant.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
from pathlib import Path

# An empty or unreadable claim (left by a filesystem without hard links, or a writer killed
# mid-write) is judged stale only once it is this old, so a claim being written is never taken.
EMPTY_CLAIM_GRACE_S = 10.0


def me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def try_claim(path: str | Path) -> bool:
    """Create ``path`` for this process; False when a live holder has it."""
    path = Path(path)
    for _ in range(2):  # a second try after moving a stale file aside
        if _publish(path):
            return True
        if not _remove_if_stale(path):
            return False
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


def is_stale(path: str | Path) -> bool:
    """Whether the claim file at ``path`` was left by a process that is gone."""
    holder = holder_of(path)
    pid = holder.get("pid")
    if not holder:
        return _age_s(path) > EMPTY_CLAIM_GRACE_S
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe(holder: dict) -> str:
    return f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"


def _publish(path: Path) -> bool:
    """Make ``path`` hold this process's claim, whole from the moment it exists; False if taken."""
    private = _private_name(path, "claiming")
    private.write_text(json.dumps(me()))
    try:
        os.link(private, path)  # atomic and exclusive, on NFS too
        return True
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        return _create_exclusively(path)  # a filesystem without hard links
    finally:
        private.unlink(missing_ok=True)


def _create_exclusively(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(me(), f)
    return True


def _remove_if_stale(path: Path) -> bool:
    """Move a stale claim out of the way; True when the name may be free for another try.

    The file is renamed aside before it is judged again, so two processes that both found it
    stale cannot remove a fresh claim that one of them published in the meantime."""
    if not is_stale(path):
        return False
    aside = _private_name(path, "stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True  # another process moved it first
    try:
        if is_stale(aside):
            return True
        try:  # what we moved is a live claim published after our first look: give it back
            os.link(aside, path)
        except FileExistsError:
            pass
        return False
    finally:
        aside.unlink(missing_ok=True)


def _private_name(path: Path, purpose: str) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.{purpose}")


def _age_s(path: str | Path) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")  # gone already: nothing to wait for
