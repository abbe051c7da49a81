"""Checkpoint files: written atomically with a kind and a format version, read back with
``weights_only=True`` (a checkpoint is untrusted input), and every way one can be wrong gets a
message that says which file and what was expected."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import torch

from ferganaug.utils.files import atomic_torch_save

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, of another kind, or does not fit."""


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A short SHA-256 of a network's weights: the same network whatever its file is called."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(state_dict[key].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path: str | Path, kind: str, payload: dict) -> None:
    """Write ``payload`` tagged with ``kind`` and the format version; a crash never leaves a
    half-written file."""
    atomic_torch_save({"kind": kind, "format_version": FORMAT_VERSION, **payload}, path)


def load_checkpoint(
    path: str | Path, kinds: Sequence[str], folder_candidates: Sequence[str] = (), expected: str = "a ferganaug file"
) -> dict:
    """Load a checkpoint dict with weights_only=True and check that its ``kind`` is one of ``kinds``.
    A folder is searched for ``folder_candidates`` in order."""
    path = Path(path)
    if path.is_dir():
        for candidate in folder_candidates:
            if (path / candidate).is_file():
                path = path / candidate
                break
        else:
            raise CheckpointError(f"{path} is a folder without {' or '.join(folder_candidates) or 'a checkpoint'}")
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint file: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a malformed file can make the unpickler raise almost anything
        detail = str(err).splitlines()[0][:200] if str(err) else "no detail"
        raise CheckpointError(
            f"{path} is truncated, corrupt or not a ferganaug checkpoint ({type(err).__name__}: {detail})"
        ) from None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind not in kinds:
        raise CheckpointError(
            f"{path} is not a {' or '.join(kinds)} checkpoint (found kind={kind!r}); expected {expected}"
        )
    if obj.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer ferganaug (format {obj['format_version']})")
    obj["_path"] = str(path)
    return obj
