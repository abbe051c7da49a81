"""Helpers that tamper with saved checkpoints, for tests of what a run refuses to continue with."""

from __future__ import annotations

from pathlib import Path

import torch


def nudge_first_weight(checkpoint: Path) -> None:
    """Add 1 to the first tensor of a saved ``state_dict``: the same file name, other weights."""
    artifact = torch.load(checkpoint, weights_only=True)
    first = next(iter(artifact["state_dict"]))
    artifact["state_dict"][first] = artifact["state_dict"][first] + 1
    torch.save(artifact, checkpoint)
