"""Each design's training recipe as its study gives it; our choices where the study is silent.

Numbers the reference doc prints are kept exactly; every recipe's ``notes`` says which fields
are the study's and which are ours. The trainer (not this module) turns a Recipe into an
optimiser, scheduler, loss and augmentation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Union

from classifiers.registry import list_models

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


_SMALL_CNN_NOTE = "; epochs, scheduler and augmentation are our choice (the study gives none)"

_RECIPES: dict[str, Recipe] = {
    "basic-cnn": Recipe(
        optimizer="adam", lr=1e-3, epochs=30, batch_size=64, augment="light",
        notes="study B baseline: Adam 1e-3, batch 64" + _SMALL_CNN_NOTE,
    ),
    "deep-cnn": Recipe(
        optimizer="adam", lr=1e-3, epochs=60, batch_size=64, scheduler="plateau",
        plateau_factor=0.5, plateau_patience=5, augment="standard",
        notes="study B: Adam 1e-3, batch 64" + _SMALL_CNN_NOTE,
    ),
    "cnn-baseline": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam 1e-3, batch 64" + _SMALL_CNN_NOTE,
    ),
    "cnn-improved": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam; the study grid-searched batch {64,128,256} x lr {1e-3,5e-3,1e-2} "
        "and averaged 3 seeds; this is the grid's first point (batch 64, lr 1e-3)" + _SMALL_CNN_NOTE,
    ),
    "resnet-baseline": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam 1e-3, batch 64" + _SMALL_CNN_NOTE,
    ),
    "se-resnet": Recipe(
        optimizer="adamw", lr=1e-3, weight_decay=1e-5, epochs=50, batch_size=64,
        scheduler="plateau", plateau_factor=0.5, plateau_patience=5, label_smoothing=0.1,
        early_stopping_patience=7, augment="light",
        notes="study A: AdamW lr 1e-3 wd 1e-5, ReduceLROnPlateau(0.5, patience 5), early stopping "
        "patience 7 restoring best weights, label smoothing 0.1, flip + 15% margin crop "
        "(augment 'light'); epochs cap and batch size are our choice",
    ),
    "resnet50-gray": Recipe(
        optimizer="adam", lr=1e-4, betas=(0.9, 0.999), epochs=60, batch_size=32,
        class_weights=(0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1), freeze_epochs=5, augment="light",
        notes="study C: Adam lr 1e-4 betas 0.9/0.999, 60 epochs, batch 32, weighted CE with "
        "w = [0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1] as printed in FER2013 order (it weights happy, "
        "the largest class, highest: likely a mis-print, kept as given; try class_weights="
        "'inverse'); 'pretrained layers frozen at first': 5 frozen epochs and the augmentation "
        "are our choice; the study's 80/20 random split leaks near-duplicates, use the official "
        "splits",
    ),
    "resnet50-transfer": Recipe(
        optimizer="adam", lr=1e-4, epochs=30, batch_size=32, early_stopping_patience=5,
        freeze_epochs=30, augment="light",
        notes="study B: Adam 1e-4, base frozen throughout (freeze_epochs = epochs), mixed "
        "precision, early stopping patience 5; epochs cap, batch size and augmentation are our "
        "choice",
    ),
    "resnet18-transfer": Recipe(
        optimizer="sgd", lr=0.0229, momentum=0.9, weight_decay=1e-4, scheduler="onecycle",
        epochs=50, batch_size=32, augment="strong",
        notes="study D: SGD lr 0.0229 momentum 0.9 wd 1e-4, OneCycle over 50 epochs, batch 32, "
        "all layers trainable; train transform resize 256 + random 224 crop, flip, +-10 deg, "
        "brightness/contrast (augment 'strong'), ImageNet normalisation (in the model)",
    ),
    "cnn-e": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, scheduler="plateau",
        plateau_factor=0.5, plateau_patience=5, augment="standard",
        notes="study E gives no recipe: Adam 1e-3, batch 64, 50 epochs, plateau(0.5, 5) and "
        "standard augmentation are our defaults",
    ),
    "vgg-e": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, scheduler="plateau",
        plateau_factor=0.5, plateau_patience=5, augment="standard",
        notes="study E gives no recipe: Adam 1e-3, batch 64, 50 epochs, plateau(0.5, 5) and "
        "standard augmentation are our defaults",
    ),
    "resnet18-e": Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, scheduler="plateau",
        plateau_factor=0.5, plateau_patience=5, augment="standard",
        notes="study E gives no recipe: Adam 1e-3, batch 64, 50 epochs, plateau(0.5, 5) and "
        "standard augmentation are our defaults",
    ),
}  # fmt: skip


def recipe_for(name: str) -> Recipe:
    """The training recipe of the design called ``name`` (UnknownModelError for other names)."""
    if name not in _RECIPES:
        from classifiers.registry import _entry

        _entry(name)  # raises UnknownModelError listing the valid names
        raise KeyError(f"model '{name}' is registered but has no recipe")  # pragma: no cover
    return _RECIPES[name]


def recipes() -> dict[str, Recipe]:
    """Every registered design's recipe, in registry order."""
    return {name: _RECIPES[name] for name in list_models() if name in _RECIPES}
