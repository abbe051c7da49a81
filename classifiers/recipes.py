"""Training recipes: each design's recipe as its study gives it, our choices where it is silent.

A design's recipe sits beside its registration in its family file (``classifiers/models/``);
this module holds the :class:`Recipe` type and the lookups. Numbers the reference doc prints
are kept exactly; every recipe's ``notes`` says which fields are the study's and which are
ours. The trainer (not this module) turns a Recipe into an optimiser, scheduler, loss and
augmentation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Union

Optimizer = Literal["adam", "adamw", "sgd"]
Scheduler = Literal["none", "plateau", "onecycle", "cosine"]
Augment = Literal["none", "light", "standard", "strong"]
ClassWeights = Union[None, Literal["inverse", "effective"], tuple[float, ...]]

_OPTIMIZERS = ("adam", "adamw", "sgd")
_SCHEDULERS = ("none", "plateau", "onecycle", "cosine")
_AUGMENTS = ("none", "light", "standard", "strong")


@dataclass(frozen=True)
class Recipe:
    """A training recipe.

    ``class_weights``: None (plain CE), "inverse" (1/frequency), "effective" (Cui et al.'s
    effective number of samples) or explicit per-class weights in canonical EMOTIONS order.
    ``freeze_epochs``: the backbone is frozen (``model.freeze_backbone(True)``) for the first
    ``freeze_epochs`` epochs, then unfrozen; 0 = no freezing schedule, >= ``epochs`` = frozen
    for the whole run. ``early_stopping_patience``: epochs without validation improvement
    before stopping and restoring the best weights; None = run all epochs.
    """

    optimizer: Optimizer
    lr: float
    epochs: int
    batch_size: int
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    nesterov: bool = False
    scheduler: Scheduler = "none"
    plateau_factor: float = 0.5
    plateau_patience: int = 5
    label_smoothing: float = 0.0
    class_weights: ClassWeights = None
    augment: Augment = "standard"
    early_stopping_patience: int | None = None
    freeze_epochs: int = 0
    notes: str = ""

    def __post_init__(self) -> None:
        def bad(field: str, value: Any, allowed: str) -> ValueError:
            return ValueError(f"Recipe.{field} must be {allowed}, got {value!r}")

        if self.optimizer not in _OPTIMIZERS:
            raise bad("optimizer", self.optimizer, " | ".join(_OPTIMIZERS))
        if self.scheduler not in _SCHEDULERS:
            raise bad("scheduler", self.scheduler, " | ".join(_SCHEDULERS))
        if self.augment not in _AUGMENTS:
            raise bad("augment", self.augment, " | ".join(_AUGMENTS))
        if not self.lr > 0:
            raise bad("lr", self.lr, "> 0")
        if self.epochs < 1 or self.batch_size < 1:
            raise bad("epochs/batch_size", (self.epochs, self.batch_size), ">= 1")
        if self.weight_decay < 0 or not 0 <= self.label_smoothing < 1:
            raise bad("weight_decay/label_smoothing", (self.weight_decay, self.label_smoothing), "in range")
        if self.freeze_epochs < 0:
            raise bad("freeze_epochs", self.freeze_epochs, ">= 0")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise bad("early_stopping_patience", self.early_stopping_patience, "None or >= 1")
        cw = self.class_weights
        if isinstance(cw, (list, tuple)):
            # Normalise lists (e.g. from JSON) to a hashable tuple of floats.
            object.__setattr__(self, "class_weights", tuple(float(w) for w in cw))
            if any(w < 0 for w in self.class_weights):
                raise bad("class_weights", cw, "non-negative")
        elif cw not in (None, "inverse", "effective"):
            raise bad("class_weights", cw, "None | 'inverse' | 'effective' | a tuple of floats")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for config.json)."""
        d = asdict(self)
        d["betas"] = list(self.betas)
        if isinstance(self.class_weights, tuple):
            d["class_weights"] = list(self.class_weights)
        return d


# Appended to the notes of study A and B designs whose study gives optimiser, lr and batch only.
OUR_SCHEDULE_NOTE = "; epochs, scheduler and augmentation are our choice (the study gives none)"

# Study E gives no recipe; its three designs (cnn-e, vgg-e, resnet18-e) share these defaults.
STUDY_E_DEFAULTS = Recipe(
    optimizer="adam", lr=1e-3, epochs=50, batch_size=64, scheduler="plateau",
    plateau_factor=0.5, plateau_patience=5, augment="standard",
    notes="study E gives no recipe: Adam 1e-3, batch 64, 50 epochs, plateau(0.5, 5) and "
    "standard augmentation are our defaults",
)  # fmt: skip


def recipe_for(name: str) -> Recipe:
    """The training recipe of the design called ``name`` (UnknownModelError for other names)."""
    # Imported here, not at the top: the registry imports this module for Recipe.
    from classifiers.registry import model_entry

    return model_entry(name).recipe


def recipes() -> dict[str, Recipe]:
    """Every registered design's recipe, in list_models() order."""
    from classifiers.registry import list_models, model_entry

    return {name: model_entry(name).recipe for name in list_models()}
