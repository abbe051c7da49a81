"""A study's settings as one frozen, JSON-round-trippable value (stored in study.json).

Every cell shares one TrainConfig: the design's recipe (optimiser, learning rate, weight decay,
label smoothing, ...), or a classifier preset's (``--preset``, see `fer-classify presets`), with
the study's budget (epochs, batch size, augmentation, scheduler, precision) on top. Only the seed, the class weights, the sampler (and its synthetic share) and
the logit adjustment differ between cells, so a difference between conditions is the
condition's doing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from classifiers.presets import preset_train_table
from classifiers.registry import list_models
from classifiers.train_config import TrainConfig, resolve_train_config
from ferganaug.engine.config import ConfigError, config_from_dict, config_to_dict
from ferganaug.emotions import EMOTIONS, UnknownEmotionError, canonical_name
from ferganaug.study.conditions import (
    CONDITIONS,
    SYNTHETIC_CONDITIONS,
    Cell,
    StudyError,
    condition_names,
    parse_amounts,
    parse_conditions,
)
from ferganaug.study.shift import OBJECTIVES as SHIFT_OBJECTIVES
from ferganaug.utils.hardware import resolve_device

# The study's budget: with a preset, each one not given takes the preset's value.
BUDGET_FIELDS = ("model", "epochs", "batch_size", "augment", "scheduler")


def study_budget(preset: str | None, given: dict[str, Any]) -> dict[str, Any]:
    """The budget fields of a study: those ``given`` (not None), else the preset's, else
    StudyConfig's defaults."""
    try:
        table = preset_train_table(preset) if preset else {}
    except ConfigError as err:
        raise StudyError(f"--preset: {err}") from None
    defaults = {name: StudyConfig.__dataclass_fields__[name].default for name in BUDGET_FIELDS}
    return {name: given[name] if given.get(name) is not None else table.get(name, defaults[name])
            for name in BUDGET_FIELDS}


def _canonical_emotions(emotions) -> tuple[str, ...]:
    """The chosen emotions under their canonical names, in EMOTIONS order; at least one."""
    try:
        chosen = {canonical_name(e) for e in emotions}
    except UnknownEmotionError as err:
        raise StudyError(str(err)) from None
    if not chosen:
        raise StudyError(f"no emotion chosen for synthetic faces; expected some of {', '.join(EMOTIONS)}")
    return tuple(e for e in EMOTIONS if e in chosen)


def _checked_seeds(seeds) -> tuple[int, ...]:
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise StudyError("at least one seed is needed (--seeds N >= 1)")
    if len(set(seeds)) != len(seeds):
        raise StudyError(f"seeds must be distinct, got {list(seeds)}")
    if any(s < 0 for s in seeds):
        raise StudyError(f"seeds must be >= 0, got {list(seeds)}")
    return seeds


@dataclass(frozen=True)
class StudyConfig:
    """What to compare, on what data, with what training budget."""

    data: str = "builtin"
    conditions: tuple[str, ...] = CONDITIONS
    synthetic: str | None = None
    emotions: tuple[str, ...] = ("disgust",)
    amounts: tuple[str, ...] = ("median",)
    seeds: tuple[int, ...] = (0, 1, 2)
    model: str = "deep-cnn"
    # A classifier preset whose recipe the cells train under (None: the design's study recipe);
    # the budget fields above and below still apply on top of it.
    preset: str | None = None
    epochs: int = 10
    batch_size: int = 64
    augment: str = "standard"
    scheduler: str = "cosine"
    precision: str = "auto"
    device: str = "auto"
    n_boot: int = 1000
    cache_dir: str | None = None
    synthetic_share: float = 0.5  # synthetic+oversample: chance that a draw of an augmented emotion is synthetic
    real_finish_epochs: int = 0  # synthetic+oversample: the last N epochs draw real faces only
    synthetic_weight: float = 1.0  # synthetic conditions: each synthetic face's loss term weighs this (real: 1)
    shift: str = "f1"  # what a shifted view's validation bias maximises (f1, macro_f1), or none

    def __post_init__(self) -> None:
        # Normalise (lists from JSON, names in canonical order) and validate, so a StudyConfig
        # that exists is one that can run.
        set_ = object.__setattr__
        set_(self, "conditions", parse_conditions(self.conditions))
        set_(self, "amounts", tuple(a.label for a in parse_amounts(self.amounts)))
        set_(self, "emotions", _canonical_emotions(self.emotions))
        set_(self, "seeds", _checked_seeds(self.seeds))
        self._check_synthetic_options()
        if self.model not in list_models():
            raise StudyError(f"unknown model '{self.model}'; expected one of {', '.join(list_models())}")
        try:
            resolve_device(self.device)
        except (RuntimeError, ValueError) as err:
            raise StudyError(f"--device {self.device}: {err}") from None
        if self.n_boot < 1:
            raise StudyError(f"n_boot must be at least 1, got {self.n_boot}")
        if self.shift not in SHIFT_OBJECTIVES:
            raise StudyError(f"--shift {self.shift}: expected one of {', '.join(SHIFT_OBJECTIVES)}")
        self.train_config(self.seeds[0])  # TrainConfig validates epochs, scheduler, augment ...

    def _check_synthetic_options(self) -> None:
        """The options that steer synthetic faces: in range, and only where a condition uses them."""
        if self.synthetic is None and self.uses_synthetic:
            wanted = [c for c in self.conditions if c in SYNTHETIC_CONDITIONS]
            raise StudyError(f"condition(s) {', '.join(wanted)} need --synthetic DIR, a folder written by "
                             "fergan synthesize")
        if not 0 <= self.synthetic_share <= 1:  # also refuses nan
            raise StudyError(f"--synthetic-share must be in [0, 1], got {self.synthetic_share}")
        if self.real_finish_epochs:
            if "synthetic+oversample" not in self.conditions:
                raise StudyError("--real-finish-epochs finishes the synthetic+oversample cells on real faces; "
                                 "that condition is not in --conditions")
            if not 0 < self.real_finish_epochs < self.epochs:
                raise StudyError(f"--real-finish-epochs must be below --epochs ({self.epochs}), got "
                                 f"{self.real_finish_epochs}: at least one epoch must see the synthetic faces")
        if not 0 <= self.synthetic_weight < math.inf:  # also refuses nan
            raise StudyError(f"--synthetic-weight must be a finite number >= 0, got {self.synthetic_weight}")
        if self.synthetic_weight != 1.0 and not self.uses_synthetic:
            raise StudyError("--synthetic-weight weighs synthetic faces, but no synthetic condition is in --conditions")

    @property
    def uses_synthetic(self) -> bool:
        return any(c in SYNTHETIC_CONDITIONS for c in self.conditions)

    @property
    def condition_names(self) -> tuple[str, ...]:
        return condition_names(self.conditions, parse_amounts(self.amounts))

    def train_config(self, seed: int = 0, class_weights: str | None = None, balanced_sampler: bool = False,
                     logit_adjust_tau: float = 0.0, synthetic_share: float | None = None,
                     real_finish_epochs: int = 0) -> TrainConfig:
        """The design's study recipe (or the preset's) under the study's budget, with one cell's
        seed, class weights, sampler and logit adjustment. Every cell trains the whole budget (no
        early stopping), so that cells compare."""
        try:
            recipe = preset_train_table(self.preset) if self.preset else {}
        except ConfigError as err:
            raise StudyError(f"--preset: {err}") from None
        recipe.pop("model", None)  # the study's model (by default the preset's) is the design
        try:
            return resolve_train_config(self.model, recipe | {
                "epochs": self.epochs, "batch_size": self.batch_size, "augment": self.augment,
                "scheduler": self.scheduler, "precision": self.precision, "device": self.device, "seed": seed,
                "class_weights": class_weights, "balanced_sampler": balanced_sampler, "early_stopping": None,
                "logit_adjust_tau": logit_adjust_tau, "synthetic_share": synthetic_share,
                "real_finish_epochs": real_finish_epochs,
            }, "study")
        except ValueError as err:
            raise StudyError(str(err)) from None

    def cell_train_config(self, cell: Cell) -> TrainConfig:
        # Only a sampler over real and synthetic faces has a synthetic share to hold.
        over_synthetic = cell.synthetic and cell.balanced_sampler
        share = self.synthetic_share if over_synthetic else None
        finish = self.real_finish_epochs if over_synthetic else 0
        return self.train_config(cell.seed, cell.class_weights, cell.balanced_sampler, cell.logit_adjust_tau, share,
                                 finish)

    def command(self, out: str | None = None) -> list[str]:
        """A `fergan study` command line that plans this same study, every setting explicit."""
        args = ["fergan", "study", "--data", self.data, "--conditions", ",".join(self.conditions)]
        if self.synthetic:
            args += ["--synthetic", self.synthetic, "--emotions", ",".join(self.emotions),
                     "--amounts", ",".join(self.amounts)]
        if "synthetic+oversample" in self.conditions:
            args += ["--synthetic-share", str(self.synthetic_share)]
            if self.real_finish_epochs:
                args += ["--real-finish-epochs", str(self.real_finish_epochs)]
        if self.synthetic_weight != 1.0:
            args += ["--synthetic-weight", str(self.synthetic_weight)]
        if self.preset:
            args += ["--preset", self.preset]
        args += ["--seed-list", ",".join(map(str, self.seeds)), "--model", self.model, "--epochs", str(self.epochs),
                 "--batch-size", str(self.batch_size), "--augment", self.augment, "--scheduler", self.scheduler,
                 "--precision", self.precision, "--device", self.device, "--bootstrap", str(self.n_boot),
                 "--shift", self.shift]
        if self.cache_dir:
            args += ["--cache-dir", self.cache_dir]
        return args + (["--out", str(out)] if out is not None else [])

    def to_dict(self) -> dict:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "study.json") -> StudyConfig:
        return config_from_dict(cls, d, where)
