"""A trainer's resumable state: what it supplies, and the engine's save and restore around it
(the global RNG, the checkpoint file, trimming the statistics a resumed run will write again)."""

from __future__ import annotations

import logging
from typing import Protocol

from ferganaug.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ferganaug.engine.distributed import ProcessGroup, barrier
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


def restore_training_state(folder: RunFolder, trainer: TrainingState, expected: str, tidy: bool = True) -> bool:
    """Continue from checkpoints/last.pt when there is one (True). A run interrupted before its
    first checkpoint starts from the beginning (False); one whose statistics record finished
    units but whose checkpoint is gone is refused: starting over would silently redo them.
    ``tidy`` also sweeps a killed save's temporary file and trims statistics past the
    checkpoint: the one process that writes the folder does it, the others only read."""
    if tidy:
        for leftover in folder.checkpoints_dir.glob(".*.tmp"):  # an atomic save killed midway
            leftover.unlink(missing_ok=True)
    if not folder.last_checkpoint.is_file():
        done = [r.get(trainer.position_key, 0) for r in folder.read_stats()]
        if done:
            raise CheckpointError(
                f"{folder.last_checkpoint} is missing, but {folder.stats_path.name} records {trainer.position_key}s "
                f"up to {max(done)}: the run cannot continue where it stopped; start a new run instead of --resume"
            )
        log.info("%s stopped before its first checkpoint: starting it from the beginning", folder.path)
        return False
    state = load_checkpoint(folder.last_checkpoint, (trainer.state_kind,), expected=expected)
    trainer.load_state_dict(state)
    set_global_rng_state(state["rng"]["global"])
    if tidy:
        folder.trim_stats(trainer.position_key, trainer.position)
    log.info("resuming %s after %s %d", folder.path, trainer.position_key, trainer.position)
    return True


def restore_on_every_rank(folder: RunFolder, trainer: TrainingState, group: ProcessGroup, expected: str) -> bool:
    """Every rank of a job restores the checkpoint rank 0 wrote. Rank 0 goes first and alone
    tidies the folder; the others read it after a barrier (a plain run: just rank 0)."""
    resumed = restore_training_state(folder, trainer, expected) if group.is_main else False
    barrier(group)
    if not group.is_main:
        resumed = restore_training_state(folder, trainer, expected, tidy=False)
    return resumed
