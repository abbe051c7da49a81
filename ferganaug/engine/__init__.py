"""The run engine under every trainer: a run folder (layout, config.json, stats), atomic
checkpoints with a kind and a format version, and a loop driver with hooks and a divergence
guard. A trainer supplies its step, its state and its hooks; the engine owns the rest."""

from ferganaug.engine.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from ferganaug.engine.loop import DivergenceError, Hook, check_finite, run_loop
from ferganaug.engine.run_folder import RunFolder, RunFolderError
from ferganaug.engine.state import TrainingState, restore_on_every_rank, restore_training_state, save_training_state

__all__ = [
    "FORMAT_VERSION", "CheckpointError", "load_checkpoint", "save_checkpoint",
    "DivergenceError", "Hook", "check_finite", "run_loop",
    "RunFolder", "RunFolderError",
    "TrainingState", "restore_on_every_rank", "restore_training_state", "save_training_state",
]
