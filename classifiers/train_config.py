"""A classifier training run's config, and its resolution: the design's study recipe first,
then what the caller chose. Every path that trains a classifier (``fer-classify train``, the
GAN's loss classifier, the evaluator, the study's cells) resolves it here, so "deep-cnn"
means deep-cnn's recipe everywhere."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from classifiers.inference import TTA_MODES
from ferganaug.data.augment import preset
from ferganaug.engine.config import ConfigError, check_keys, config_from_dict, config_to_dict

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "plateau", "onecycle", "cosine")
MONITORS = ("val_acc", "val_loss", "val_macro_f1")

# Recipe field -> TrainConfig field (the recipe says "early_stopping_patience").
RECIPE_FIELDS = {
    "optimizer": "optimizer", "lr": "lr", "weight_decay": "weight_decay", "betas": "betas",
    "momentum": "momentum", "nesterov": "nesterov", "scheduler": "scheduler",
    "plateau_factor": "plateau_factor", "plateau_patience": "plateau_patience", "epochs": "epochs",
    "batch_size": "batch_size", "label_smoothing": "label_smoothing", "class_weights": "class_weights",
    "augment": "augment", "early_stopping_patience": "early_stopping", "freeze_epochs": "freeze_epochs",
}


@dataclass(frozen=True)
class TrainConfig:
    model: str = "deep-cnn"
    model_kwargs: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    scheduler: str = "none"
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    label_smoothing: float = 0.0
    class_weights: str | tuple[float, ...] | None = None
    balanced_sampler: bool = False
    # With the balanced sampler: the probability that a draw of an emotion with synthetic faces
    # is a synthetic one; None = every face of the emotion equally likely.
    synthetic_share: float | None = None
    # With the balanced sampler and synthetic faces: the last N epochs draw real faces only, a
    # finish on real data that lets the recogniser unlearn what marks a face as synthetic. The
    # best epoch is chosen among the finish's, and early stopping waits for the finish.
    real_finish_epochs: int = 0
    # Logit adjustment (Menon et al. 2021): train on logits + tau * log(class prior); 0 = off.
    logit_adjust_tau: float = 0.0
    augment: str = "standard"
    early_stopping: int | None = None
    monitor: str = "val_acc"
    freeze_epochs: int = 0
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    weights: str | None = None
    eval_batch_size: int = 128
    # Test-time augmentation of the final test report (the plain figures are kept beside it).
    test_tta: str = "none"
    # Under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm, GPUs only)
    # instead of each rank's shard.
    sync_batchnorm: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer '{self.optimizer}'; expected one of {', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler '{self.scheduler}'; expected one of {', '.join(SCHEDULERS)}")
        if self.monitor not in MONITORS:
            raise ValueError(f"unknown monitor '{self.monitor}'; expected one of {', '.join(MONITORS)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if not 0 < self.lr < math.inf:  # also refuses nan: a run that cannot learn must not start
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        for name in ("weight_decay", "momentum", "plateau_factor", "logit_adjust_tau"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if isinstance(self.class_weights, tuple) and not all(0 <= w < math.inf for w in self.class_weights):
            raise ValueError(f"class_weights must be finite and >= 0, got {list(self.class_weights)}")
        if self.synthetic_share is not None:
            if not 0 <= self.synthetic_share <= 1:  # also refuses nan
                raise ValueError(f"synthetic_share must be in [0, 1] (or none), got {self.synthetic_share}")
            if not self.balanced_sampler:
                raise ValueError("synthetic_share needs balanced_sampler: it is the synthetic share of an emotion's "
                                 "draws in the class-balanced sampler")
        if not 0 <= self.real_finish_epochs < self.epochs:
            raise ValueError(f"real_finish_epochs must be in [0, epochs) = [0, {self.epochs}), got "
                             f"{self.real_finish_epochs}: at least one epoch must see the synthetic faces")
        if self.real_finish_epochs and not self.balanced_sampler:
            raise ValueError("real_finish_epochs needs balanced_sampler: the finish draws each emotion's real faces "
                             "in the class-balanced sampler")
        if self.test_tta not in TTA_MODES:
            raise ValueError(f"unknown test_tta '{self.test_tta}'; expected one of {', '.join(TTA_MODES)}")
        preset(self.augment)  # validates the name

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "train config") -> TrainConfig:
        return config_from_dict(cls, data, where)


def resolve_train_config(model: str, choices: Mapping[str, Any], where: str = "train config") -> TrainConfig:
    """``model``'s study recipe, with ``choices`` (any TrainConfig fields) on top."""
    from classifiers.recipes import recipe_for

    check_keys(TrainConfig, choices, where)
    if "model" in choices and choices["model"] != model:
        raise ConfigError(f"{where}: model '{choices['model']}' given twice (also '{model}')")
    recipe = recipe_for(model)
    values = {target: getattr(recipe, name) for name, target in RECIPE_FIELDS.items()}
    return TrainConfig.from_dict({**values, **choices, "model": model}, where)
