"""Decorator registry of classifier designs: build any of them by name.

Model files register a factory ``fn(num_classes=7, in_chans=1, **kw) -> FERClassifier`` with
``@register_model(name, study=..., description=...)``; :func:`create_model` looks it up and
wires ImageNet weights for designs that have an ImageNet backbone.
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

log = logging.getLogger(__name__)


class UnknownModelError(ValueError):
    """A model name that is not in the registry; the message lists the valid names."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., nn.Module]
    study: str
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def _ensure_registered() -> None:
    # Importing the registry alone (``from classifiers.registry import create_model``) must still
    # see every design, whatever imported first.
    importlib.import_module("classifiers.models")


def register_model(
    name: str, *, study: str, description: str
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory under ``name`` (kebab-case, unique)."""

    def decorator(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' is registered twice")
        _REGISTRY[name] = ModelEntry(name, fn, study, description)
        return fn

    return decorator


def list_models() -> list[str]:
    """Registered model names, in the reference doc's order."""
    _ensure_registered()
    return list(_REGISTRY)


def _entry(name: str) -> ModelEntry:
    _ensure_registered()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownModelError(
            f"unknown model '{name}'{hint}; valid names: {', '.join(_REGISTRY)}"
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
    entry = _entry(name)
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
    for entry in _REGISTRY.values():
        with torch.device("meta"):
            model = entry.fn()
        if getattr(model, "imagenet_arch", None):
            out.append(entry.name)
    return out


def model_info(name: str) -> dict[str, Any]:
    """Facts about a design in its default configuration (built on the meta device: no memory)."""
    entry = _entry(name)
    with torch.device("meta"):
        model = entry.fn()
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "name": entry.name,
        "study": entry.study,
        "description": entry.description,
        "params": params,
        "trainable_params": trainable,
        "input": {"channels": model.in_chans, "size": 48, "range": (-1.0, 1.0)},
        "input_spec": asdict(model.input_spec),
        "num_features": model.num_features,
        "imagenet_arch": getattr(model, "imagenet_arch", None),
        "frozen_by_default": bool(getattr(model, "backbone_frozen", False)),
    }
