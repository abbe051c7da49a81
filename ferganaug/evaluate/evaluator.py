"""The independent evaluator classifier: given, found where an earlier evaluation left it, or
trained on the real training split (another design and seed than the GAN's loss classifier).

By default it learns from class-balanced batches. A hit rate asks whether a face shows the
target emotion, and every target gets as many synthetic faces: an evaluator that learnt the
real data's prior (built-in disgust is 2% of the training faces) answers "not disgust" for most
real disgust faces too (recall 30% against 83% balanced, at the same accuracy; README), so its
hit rate measured the prior as much as the generator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from classifiers.registry import list_models
from classifiers.train_config import resolve_train_config
from classifiers.workflow import DataOptions, run_training
from ferganaug.data.errors import DataError

log = logging.getLogger(__name__)


SAMPLERS = ("balanced", "natural")  # class-balanced batches, or the data's own class frequencies


def train_evaluator(spec: str, out_dir: Path, model: str = "resnet-baseline", epochs: int = 12, seed: int = 1,
                    progress: bool = True, precision: str = "auto", sampler: str = "balanced") -> Path:
    """An evaluator classifier trained on the real training split only (another design and
    seed than the GAN's loss classifier): the design's study recipe, with the evaluator's own
    budget (epochs, cosine schedule, standard augmentation, no early stopping) on top."""
    config = resolve_train_config(model, {
        "epochs": epochs, "seed": seed, "scheduler": "cosine", "augment": "standard", "early_stopping": None,
        "precision": precision, "balanced_sampler": _balanced(sampler),
    }, "evaluator")
    run_dir, _ = run_training(config, DataOptions(spec=spec), run_dir=Path(out_dir), progress=progress)
    return run_dir / "model.pt"


def _balanced(sampler: str) -> bool:
    if sampler not in SAMPLERS:
        raise DataError(f"unknown evaluator sampler '{sampler}'; expected one of {', '.join(SAMPLERS)}")
    return sampler == "balanced"


def evaluator_folder(home: str | Path, model: str, seed: int, sampler: str = "balanced") -> Path:
    """Where an automatic evaluator lives: ``HOME/evaluator-<model>-balanced-seed<seed>``, or
    ``HOME/evaluator-<model>-seed<seed>`` for a natural sampler (the name evaluators had before
    balancing was the default, so those are found again)."""
    kind = "-balanced" if _balanced(sampler) else ""
    return Path(home) / f"evaluator-{model}{kind}-seed{seed}"


def resolve_evaluator(
    checkpoint: str | Path | None, spec: str, home: str | Path, model: str = "resnet-baseline", epochs: int = 12,
    seed: int = 1, progress: bool = True, precision: str = "auto", sampler: str = "balanced",
) -> tuple[Path, bool]:
    """(evaluator checkpoint, trained now?): ``checkpoint`` when given; else the one an earlier
    evaluation trained in ``evaluator_folder(HOME, ...)`` (refused when it was trained on other
    data than ``spec``); else a new one trained there on ``spec``'s training split."""
    if checkpoint is not None:
        return Path(checkpoint), False
    if model not in list_models():
        raise DataError(f"unknown evaluator model '{model}'; valid names: {', '.join(list_models())}")
    folder = evaluator_folder(home, model, seed, sampler)
    found = folder / "model.pt"
    if found.is_file():
        trained_on = _trained_on(folder)
        if trained_on is not None and trained_on != spec:
            raise DataError(
                f"{folder} holds an evaluator trained on '{trained_on}', not on '{spec}'; give --evaluator CKPT, "
                f"another --evaluator-seed, or --data '{trained_on}'"
            )
        return found, False
    log.info("training the evaluator (%s, seed %d, %d epochs, %s batches) on '%s' into %s", model, seed, epochs,
             sampler, spec, folder)
    return train_evaluator(spec, folder, model, epochs, seed, progress, precision, sampler), True


def _trained_on(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text())["data"]["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
