"""Decorator registry of classifier designs: build any of them by name.

Family files (``classifiers/models/<family>.py``) register a factory
``fn(num_classes=7, in_chans=1, **kw) -> FERClassifier`` with
``@register_model(name, recipe=Recipe(...), provenance=Provenance(...), description=...)``, so a
design's training recipe and the study's claim about it sit beside its code.
:func:`create_model` looks a design up and wires ImageNet weights for designs that have an
ImageNet backbone.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from classifiers.recipes import Recipe

log = logging.getLogger(__name__)


class UnknownModelError(ValueError):
    """A model name that is not in the registry; the message lists the valid names."""


@dataclass(frozen=True)
class Provenance:
    """Where a design comes from: its study (A..E) and the figure that study reported.

    ``reported`` and ``dataset`` are the reference doc's "reported" column as printed: the
    study's own claim, not our measurement. Where a study gives no figure, ``reported`` says so
    in words; ``dataset`` is the data and split the figure is on (None when there is no figure).
    """

    study: str
    reported: str
    dataset: str | None = None

    def __post_init__(self) -> None:
        if not self.study or not self.reported:
            raise ValueError(f"Provenance needs a study and a reported figure (or words), got {self!r}")

    def headline(self) -> str:
        """The figure with its dataset, e.g. "44% on FER2013 test"."""
        return self.reported if self.dataset is None else f"{self.reported} on {self.dataset}"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., nn.Module]
    description: str
    recipe: Recipe
    provenance: Provenance

    @property
    def study(self) -> str:
        return self.provenance.study

    @property
    def family(self) -> str:
        """The family file the design lives in (``classifiers/models/cnn.py`` -> "cnn")."""
        return self.fn.__module__.rsplit(".", 1)[-1]


_REGISTRY: dict[str, ModelEntry] = {}


def _registered_names() -> list[str]:
    """Import the zoo and return the names in listing order."""
    # Importing the registry alone (``from classifiers.registry import create_model``) must still
    # see every design, whatever imported first.
    models = importlib.import_module("classifiers.models")
    rank = {name: i for i, name in enumerate(models.LISTING_ORDER)}
    # sorted() is stable: designs the listing does not name keep their registration order.
    return sorted(_REGISTRY, key=lambda name: rank.get(name, len(rank)))


def register_model(
    name: str, *, recipe: Recipe, provenance: Provenance, description: str
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory under ``name`` (kebab-case, unique) with its recipe and provenance."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"model '{name}': recipe must be a Recipe, got {type(recipe).__name__}")
    if not isinstance(provenance, Provenance):
        raise TypeError(f"model '{name}': provenance must be a Provenance, got {type(provenance).__name__}")

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' is registered twice")
        _REGISTRY[name] = ModelEntry(name, fn, description, recipe, provenance)
        return fn

    return decorator


def list_models() -> list[str]:
    """Registered model names, in the reference doc's order."""
    return _registered_names()


def model_entry(name: str) -> ModelEntry:
    """The registration of ``name``: factory, description, recipe and provenance."""
    names = _registered_names()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownModelError(
            f"unknown model '{name}'{hint}; valid names: {', '.join(names)}"
        ) from None


def create_model(
    name: str,
    num_classes: int = 7,
    in_chans: int = 1,
    *,
    weights: str | None = None,
    pretrained: bool = False,
    **kw: Any,
) -> nn.Module:
    """Build the design called ``name``.

    ``weights`` (a local torchvision state-dict file) or ``pretrained=True`` (look in
    torchvision's cache, never download) load ImageNet weights into designs that have a
    ResNet backbone; what happened is logged and kept in ``model.pretrained_status``.
    Other keyword arguments go to the design's constructor (e.g. ``input_size=112``,
    ``class_names=[...]``, ``drop_rate=0.3``).
    """
    entry = model_entry(name)
    model = entry.fn(num_classes=num_classes, in_chans=in_chans, **kw)
    if weights is not None or pretrained:
        arch = getattr(model, "imagenet_arch", None)
        if arch is None:
            raise ValueError(
                f"model '{name}' has no ImageNet backbone, so it cannot take pretrained weights; "
                f"designs that can: {', '.join(_imagenet_models())}"
            )
        from classifiers.pretrained import load_imagenet_weights

        model.pretrained_status = load_imagenet_weights(model, arch, weights)
        if model.pretrained_status.startswith("no ImageNet weights") and getattr(
            model, "backbone_frozen", False
        ):
            # info, not warning: the trainer unfreezes a random backbone and says so itself.
            log.info(
                "%s: the backbone is frozen but randomly initialised; only the head will learn "
                "unless freeze_backbone(False) is called (or frozen=False passed).",
                name,
            )
    return model


def _imagenet_models() -> list[str]:
    out = []
    for name in _registered_names():
        with torch.device("meta"):
            model = _REGISTRY[name].fn()
        if getattr(model, "imagenet_arch", None):
            out.append(name)
    return out


def model_info(name: str) -> dict[str, Any]:
    """Facts about a design in its default configuration (built on the meta device: no memory).

    Besides the network's facts: its family, its study's provenance (``study``, ``reported``,
    ``dataset``) and its training recipe (``Recipe.to_dict()``). JSON-ready.
    """
    entry = model_entry(name)
    with torch.device("meta"):
        model = entry.fn()
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "name": entry.name,
        "family": entry.family,
        "study": entry.study,
        "reported": entry.provenance.reported,
        "dataset": entry.provenance.dataset,
        "description": entry.description,
        "params": params,
        "trainable_params": trainable,
        "input": {"channels": model.in_chans, "size": 48, "range": (-1.0, 1.0)},
        "input_spec": asdict(model.input_spec),
        "num_features": model.num_features,
        "imagenet_arch": getattr(model, "imagenet_arch", None),
        "frozen_by_default": bool(getattr(model, "backbone_frozen", False)),
        "recipe": entry.recipe.to_dict(),
    }
