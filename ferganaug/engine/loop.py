"""The loop driver: advance a trainer one unit (a step or an epoch) at a time and run its
hooks at their intervals, in the order given. A trainer lists its hooks as log, sample,
evaluate, checkpoint: statistics are written before the checkpoint that covers them, so a
run interrupted between the two replays that unit on resume instead of losing its row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch


class DivergenceError(FloatingPointError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""


def check_finite(loss: torch.Tensor, what: str, where: str, last_checkpoint: str | Path, hint: str) -> None:
    """The divergence guard: stop before a non-finite loss reaches the weights."""
    if not torch.isfinite(loss):
        raise DivergenceError(
            f"the {what} loss became {loss.item()} at {where}; training stopped. The last good checkpoint "
            f"is {last_checkpoint} ({hint})"
        )


@dataclass(frozen=True)
class Hook:
    """``fn(position)`` runs after every ``every`` units and after the last one; it returns True
    to end the run early (early stopping)."""

    name: str
    every: int
    fn: Callable[[int], bool | None]


def run_loop(advance: Callable[[], int], position: int, total: int, hooks: Sequence[Hook]) -> int:
    """Advance from ``position`` to ``total`` (``advance`` returns the new position) and return
    where the loop stopped."""
    for hook in hooks:
        if hook.every < 1:
            raise ValueError(f"hook '{hook.name}' must run every 1 or more units, got {hook.every}")
    while position < total:
        position = advance()
        due = [hook for hook in hooks if position % hook.every == 0 or position == total]
        stop = False
        for hook in due:
            stop = bool(hook.fn(position)) or stop
        if stop:
            break
    return position
