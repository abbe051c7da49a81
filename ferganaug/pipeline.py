"""`fergan train` end to end (layer 2): get a frozen expression classifier (given, or trained
first on the same data's training split), train the GAN, write grids and curves.

Under torchrun every rank runs all of it: the classifier trains data-parallel through the
classifier trainer, the GAN likewise, and rank 0 alone writes the run folder."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch.nn as nn
from classifiers.checkpoint import load_classifier
from classifiers.train_config import TrainConfig
from classifiers.workflow import DataOptions, run_training
from ferganaug.data.spec import load_dataset, spec_short_name
from ferganaug.emotions import EMOTIONS
from ferganaug.engine import RunFolder, restore_on_every_rank
from ferganaug.engine.checkpoint import CheckpointError, weights_digest
from ferganaug.engine.config import ConfigError
from ferganaug.engine.distributed import barrier, create_run_folder, join_from_environment
from ferganaug.gan.expression import FrozenExpressionClassifier, LogProbEnsemble, loss_classifier_checkpoints
from ferganaug.gan.images import save_labelled_grid
from ferganaug.gan.plots import plot_gan_losses
from ferganaug.gan.config import GANConfig
from ferganaug.gan.pools import check_gan_data
from ferganaug.gan.train import GANTrainer
from ferganaug.presets import GANRunConfig
from ferganaug.utils.hardware import resolve_device

log = logging.getLogger(__name__)

TOOL = "fergan train"
CLASSIFIER_DIR = "expression-classifier"


def expression_classifier(
    spec: str, run_dir: Path, checkpoints: Sequence[str], configs: Sequence[TrainConfig], progress: bool = True,
) -> tuple[FrozenExpressionClassifier, dict]:
    """The frozen classifier behind the expression loss, and facts about where it came from.

    Given ``checkpoints`` are loaded; without them each of ``configs`` (the preset's
    ``[classifier]``, then its ``[ensemble]`` members) is trained by the same path as
    `fer-classify train`. Several classifiers act as one (LogProbEnsemble), and the facts of
    all but the first go under ``ensemble``. Strong augmentation (erasing, shifts, contrast)
    makes a classifier much harder for the generator to fool with texture artefacts;
    class-balanced batches (the builtin preset), because the GAN asks for every target emotion
    equally often.

    Under torchrun each is trained once, data-parallel over the job's ranks (rank 0 writes its
    folder), and every rank loads it after the trainer's closing barrier."""
    if checkpoints:
        members = [_load_member(checkpoint, {"trained_here": False}) for checkpoint in checkpoints]
    else:
        members = [_train_member(spec, run_dir / _member_dir(i), config, progress) for i, config in enumerate(configs)]
    classifiers = [classifier for classifier, _ in members]
    facts = members[0][1] | ({"ensemble": [f for _, f in members[1:]]} if len(members) > 1 else {})
    combined = classifiers[0] if len(classifiers) == 1 else LogProbEnsemble(classifiers)
    return FrozenExpressionClassifier(combined, EMOTIONS), facts


def _member_dir(index: int) -> str:
    return CLASSIFIER_DIR if index == 0 else f"{CLASSIFIER_DIR}-{index + 1}"


def _train_member(spec: str, clf_dir: Path, config: TrainConfig, progress: bool) -> tuple[nn.Module, dict]:
    log.info("training the expression classifier (%s, %d epochs) on the training split first",
             config.model, config.epochs)
    clf_dir, report = run_training(config, DataOptions(spec=spec), run_dir=clf_dir, progress=progress)
    return _load_member(str(clf_dir / "model.pt"), {"trained_here": True, "test_accuracy": report.get("accuracy")})


def _load_member(checkpoint: str, facts: dict) -> tuple[nn.Module, dict]:
    classifier, artifact = load_classifier(checkpoint, expected_class_names=EMOTIONS)
    # absolute, so that --resume finds the file from any working directory, and its weights'
    # hash, so that it refuses another file that took its place
    return classifier, facts | {"checkpoint": str(Path(checkpoint).resolve()), "model": artifact["model_name"],
                                "weights_sha256": weights_digest(artifact["state_dict"])}


def _sample_writer(folder: RunFolder):
    def write(trainer: GANTrainer) -> None:
        row_labels, col_labels = trainer.sample_grid_labels()
        save_labelled_grid(trainer.sample_grid(), folder.samples_dir / f"{trainer.step:06d}.png",
                           row_labels=row_labels, col_labels=col_labels,
                           title=f"EMA generator, step {trainer.step}: each source face (row) edited to each target")
    return write


def train_gan(
    run_config: GANRunConfig,
    spec: str = "builtin",
    runs_root: str | Path = "runs/fergan",
    expr_classifiers: Sequence[str] = (),
    progress: bool = True,
    argv: Sequence[str] | None = None,
) -> Path:
    """A new `fergan train` run; ``argv``, the command line that asked for it, goes to config.json."""
    config = run_config.gan
    data = load_dataset(spec)
    train = data.split("train")
    check_gan_data(train, config)
    group = join_from_environment(resolve_device(config.device))
    folder = create_run_folder(runs_root, f"gan-{spec_short_name(spec)}", group)
    try:
        classifier, facts = expression_classifier(spec, folder.path, expr_classifiers, run_config.loss_classifiers,
                                                  progress=progress)
        trainer = GANTrainer(config, train, classifier, folder, progress=progress, held_out=data.split("val"))
        if group.is_main:
            folder.write_config(TOOL, {
                **run_config.to_dict(),
                "data": {"spec": spec, "train_size": len(train),
                         "train_class_counts": dict(zip(EMOTIONS, train.class_counts()))},
                "expression_classifier": facts | {"loss_stops_at_confidence": trainer.expression_confidence_by_emotion()},
                "run": {"device": str(trainer.device), "numeric_path": trainer.path.to_dict(),
                        "precision_probe_faces_per_s": trainer.probe, "distributed": group.describe()},
            }, argv)
    except BaseException:
        if group.is_main:  # a failed start (a bad classifier file, Ctrl-C) leaves no folder behind
            folder.discard_unstarted()
        raise
    return _fit(trainer, folder)


def resume_gan(run_dir: str | Path, progress: bool = True, steps: int | None = None) -> Path:
    """Continue an interrupted `fergan train` run exactly where its last checkpoint left it; with
    ``steps``, train to that many steps in all, so a finished run can train longer."""
    folder = RunFolder.existing(run_dir, TOOL)
    saved = folder.read_config()
    for key in ("gan", "data", "expression_classifier"):
        if key not in saved:
            raise ConfigError(f"{folder.config_path} has no '{key}': not written by {TOOL}")
    config = GANConfig.from_dict(saved["gan"], f"{folder.config_path} [gan]")
    spec = saved["data"]["spec"]
    data = load_dataset(spec)
    recorded = saved["expression_classifier"]
    classifier, facts = expression_classifier(spec, folder.path, loss_classifier_checkpoints(recorded), (), progress)
    for was, now in zip([recorded, *recorded.get("ensemble", [])], [facts, *facts.get("ensemble", [])]):
        if was.get("weights_sha256", now["weights_sha256"]) != now["weights_sha256"]:
            raise CheckpointError(f"{was['checkpoint']} is not the expression classifier this run trained with "
                                  f"(its weights changed since); the run cannot continue against another classifier")
    trainer = GANTrainer(config, data.split("train"), classifier, folder, progress=progress, held_out=data.split("val"))
    restore_on_every_rank(folder, trainer, trainer.group, expected="a fergan train checkpoint")
    if steps is not None and steps != config.steps:
        _extend(folder, saved, trainer, steps)
    return _fit(trainer, folder)


def _extend(folder: RunFolder, saved: dict, trainer: GANTrainer, steps: int) -> None:
    """Set the run's length to ``steps`` and record it in config.json before the first new step,
    so a plain --resume of an interrupted extension trains to the new length too. No setting
    depends on the length (no step schedule), so the result equals a run started that long."""
    if steps < trainer.step:
        raise ConfigError(f"--steps {steps}: {folder.path} has trained {trainer.step} steps already; "
                          f"give more than {trainer.step} to train it longer")
    trainer.config = replace(trainer.config, steps=steps)
    if trainer.group.is_main:
        saved["gan"]["steps"] = steps
        saved.setdefault("extended", []).append({"from_step": trainer.step, "to_steps": steps,
                                                 "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        folder.rewrite_config(saved)


def _fit(trainer: GANTrainer, folder: RunFolder) -> Path:
    """Train to the end; every rank returns once rank 0 has finished the run folder."""
    trainer.fit(on_sample=_sample_writer(folder))
    if trainer.group.is_main:
        plot_gan_losses(folder.read_stats(), folder / "losses.png")
    barrier(trainer.group)
    return folder.path
