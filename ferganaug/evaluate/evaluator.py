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

from classifiers.presets import preset_train_table, resolve_preset_config
from classifiers.registry import list_models
from classifiers.train_config import resolve_train_config
from classifiers.workflow import DataOptions, run_training
from ferganaug.data.errors import DataError

log = logging.getLogger(__name__)


SAMPLERS = ("balanced", "natural")  # class-balanced batches, or the data's own class frequencies


DEFAULT_EPOCHS = 12  # the evaluator's own budget when no preset gives one


def train_evaluator(spec: str, out_dir: Path, model: str = "resnet-baseline", epochs: int | None = None, seed: int = 1,
                    progress: bool = True, precision: str = "auto", sampler: str = "balanced",
                    preset: str | None = None) -> Path:
    """An evaluator classifier trained on the real training split only (another design and
    seed than the GAN's loss classifier). Without ``preset``: ``model``'s study recipe with the
    evaluator's own budget (``epochs``, default 12; cosine schedule, standard augmentation) on
    top; with one, that classifier preset's design and recipe (``epochs`` replaces its count
    when given). Either way no early stopping, and ``sampler`` decides the batches."""
    choices = {"seed": seed, "precision": precision, "balanced_sampler": _balanced(sampler), "early_stopping": None}
    if preset is not None:
        config = resolve_preset_config(preset, choices | ({"epochs": epochs} if epochs else {}), "evaluator")
    else:
        config = resolve_train_config(model, choices | {
            "epochs": epochs or DEFAULT_EPOCHS, "scheduler": "cosine", "augment": "standard"}, "evaluator")
    run_dir, _ = run_training(config, DataOptions(spec=spec), run_dir=Path(out_dir), progress=progress)
    return run_dir / "model.pt"


def _balanced(sampler: str) -> bool:
    if sampler not in SAMPLERS:
        raise DataError(f"unknown evaluator sampler '{sampler}'; expected one of {', '.join(SAMPLERS)}")
    return sampler == "balanced"


def evaluator_folder(home: str | Path, model: str, seed: int, sampler: str = "balanced") -> Path:
    """Where an automatic evaluator lives (``model``: its design or classifier preset):
    ``HOME/evaluator-<model>-balanced-seed<seed>``, or
    ``HOME/evaluator-<model>-seed<seed>`` for a natural sampler (the name evaluators had before
    balancing was the default, so those are found again)."""
    kind = "-balanced" if _balanced(sampler) else ""
    return Path(home) / f"evaluator-{model}{kind}-seed{seed}"


def resolve_evaluator(
    checkpoint: str | Path | None, spec: str, home: str | Path, model: str = "resnet-baseline", epochs: int | None = None,
    seed: int = 1, progress: bool = True, precision: str = "auto", sampler: str = "balanced", preset: str | None = None,
) -> tuple[Path, bool]:
    """(evaluator checkpoint, trained now?): ``checkpoint`` when given; else the one an earlier
    evaluation trained in ``evaluator_folder(HOME, ...)`` (refused when it was trained on other
    data than ``spec``); else a new one trained there on ``spec``'s training split (``preset``,
    a classifier preset, replaces ``model`` and its recipe)."""
    if checkpoint is not None:
        return Path(checkpoint), False
    if preset is not None:
        preset_train_table(preset)  # an unknown name fails before any work
    elif model not in list_models():
        raise DataError(f"unknown evaluator model '{model}'; valid names: {', '.join(list_models())}")
    folder = evaluator_folder(home, preset or model, seed, sampler)
    found = folder / "model.pt"
    if found.is_file():
        trained_on = _trained_on(folder)
        if trained_on is not None and trained_on != spec:
            raise DataError(
                f"{folder} holds an evaluator trained on '{trained_on}', not on '{spec}'; give --evaluator CKPT, "
                f"another --evaluator-seed, or --data '{trained_on}'"
            )
        return found, False
    log.info("training the evaluator (%s, seed %d, %s epochs, %s batches) on '%s' into %s", preset or model, seed,
             epochs or "its recipe's", sampler, spec, folder)
    return train_evaluator(spec, folder, model, epochs, seed, progress, precision, sampler, preset), True


def _trained_on(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text())["data"]["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
