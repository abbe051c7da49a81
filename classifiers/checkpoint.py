"""Saving and loading classifier artefacts. A checkpoint is untrusted input: weights_only loads,
and every way it can be wrong gets a message that says which file and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch.nn as nn

from ferganaug.engine.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint
from ferganaug.utils.files import atomic_torch_save

MODEL_KIND = "ferganaug.classifier"
TRAIN_STATE_KIND = "ferganaug.classifier-train-state"
__all__ = ["CheckpointError", "FORMAT_VERSION", "read_checkpoint", "load_classifier", "save_model", "model_artifact"]


def model_artifact(
    model: nn.Module, model_name: str, model_kwargs: dict, class_names: Sequence[str], info: dict | None = None
) -> dict:
    """The inference artefact: enough to rebuild the model with no other file."""
    return {
        "kind": MODEL_KIND,
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "class_names": list(class_names),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "info": info or {},
    }


def save_model(path: str | Path, artifact: dict) -> None:
    atomic_torch_save(artifact, path)


def read_checkpoint(path: str | Path, kinds: Sequence[str] = (MODEL_KIND, TRAIN_STATE_KIND)) -> dict:
    """Load a classifier checkpoint (or a run folder's model.pt) safely."""
    return load_checkpoint(
        path, kinds, ("model.pt", "checkpoints/best.pt", "checkpoints/last.pt"),
        expected="a file written by fer-classify train",
    )


def check_class_names(found: Sequence[str], expected: Sequence[str], path: str | Path) -> None:
    if list(found) != list(expected):
        raise CheckpointError(
            f"{path}: class order {list(found)} does not match the expected {list(expected)}"
        )


def build_model_from_artifact(artifact: dict, path: str | Path = "<checkpoint>") -> nn.Module:
    """Rebuild a registered model and load its weights strictly."""
    from classifiers.registry import UnknownModelError, create_model

    try:
        model = create_model(
            artifact["model_name"],
            num_classes=len(artifact["class_names"]),
            class_names=tuple(artifact["class_names"]),
            **artifact.get("model_kwargs", {}),
        )
    except UnknownModelError as err:
        raise CheckpointError(f"{path}: {err}") from None
    try:
        model.load_state_dict(artifact["state_dict"], strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()
        raise CheckpointError(
            f"{path}: weights do not fit architecture '{artifact['model_name']}' "
            f"({' '.join(first[:2])[:300]})"
        ) from None
    return model


def load_classifier(
    path: str | Path, expected_class_names: Sequence[str] | None = None
) -> tuple[nn.Module, dict]:
    """Load a classifier (model.pt, a training checkpoint, or a run folder) in eval mode."""
    artifact = read_checkpoint(path)
    if expected_class_names is not None:
        check_class_names(artifact["class_names"], expected_class_names, path)
    model = build_model_from_artifact(artifact, path)
    return model.eval(), artifact
