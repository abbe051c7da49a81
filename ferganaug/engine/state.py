"""A trainer's resumable state: what it supplies, and the engine's save and restore around it
(the global RNG, the checkpoint file, trimming the statistics a resumed run will write again)."""

from __future__ import annotations

import logging
from typing import Protocol

from ferganaug.engine.checkpoint import load_checkpoint, save_checkpoint
from ferganaug.engine.run_folder import RunFolder
from ferganaug.utils.seeding import global_rng_state, set_global_rng_state

log = logging.getLogger(__name__)


class TrainingState(Protocol):
    """What a trainer exposes to be checkpointed: its kind, its position (steps or epochs done,
    named by ``position_key`` in stats.jsonl) and its own state."""

    state_kind: str
    position_key: str

    @property
    def position(self) -> int: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def save_training_state(folder: RunFolder, trainer: TrainingState) -> None:
    """checkpoints/last.pt: the trainer's state plus the global RNG, atomically."""
    state = trainer.state_dict()
    state.setdefault("rng", {})["global"] = global_rng_state()
    save_checkpoint(folder.last_checkpoint, trainer.state_kind, state)


def restore_training_state(folder: RunFolder, trainer: TrainingState, expected: str) -> bool:
    """Continue from checkpoints/last.pt when there is one (True); else the run starts over from
    its first unit, its statistics emptied so no row appears twice (False)."""
    if not folder.last_checkpoint.is_file():
        log.warning("%s has no %s: starting the run from the beginning", folder.path, folder.last_checkpoint.name)
        folder.trim_stats(trainer.position_key, 0)
        return False
    state = load_checkpoint(folder.last_checkpoint, (trainer.state_kind,), expected=expected)
    trainer.load_state_dict(state)
    set_global_rng_state(state["rng"]["global"])
    folder.trim_stats(trainer.position_key, trainer.position)
    log.info("resuming %s after %s %d", folder.path, trainer.position_key, trainer.position)
    return True
