"""Decision boundaries moved after training: a bias on chosen emotions' log-probabilities, tuned
on the validation split, stored in a checkpoint and applied by fer-classify evaluate, predict and
video.

Oversampling a rare class buys its recall with its precision; adding a constant to its
log-probability after training moves the boundary back, at no cost. On FER2013, oversampling with
the disgust boundary tuned this way is the best rebalancing `fergan study` has measured
(``oversample+shift``). `fer-classify shift` gives any trained model that boundary, by the study's
rule: for each chosen emotion in order, the bias of a fixed grid that maximises its F1 (or
macro-F1) on the validation split, with the earlier emotions' biases applied. The test split
never chooses anything.

A shifted checkpoint is the same artefact plus ``decision_bias``: ``biases`` (one per class, 0 for
the classes left alone) and how they were chosen. Its probabilities are the softmax of the
shifted log-probabilities: the model's beliefs re-weighted, not re-calibrated.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from classifiers.checkpoint import MODEL_KIND, build_model_from_artifact, read_checkpoint, save_model
from classifiers.inference import CPU, FP32, TTA_MODES, fold_batchnorm, predict_logits
from classifiers.train import split_train_val
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import UnknownEmotionError, canonical_name
from ferganaug.engine.checkpoint import CheckpointError
from ferganaug.measure.threshold import class_f1, log_softmax, macro_f1, tune_bias

DECISION_BIAS = "decision_bias"
OBJECTIVES = ("f1", "macro_f1")


def decision_bias(artifact: dict) -> torch.Tensor | None:
    """The per-class bias of a shifted checkpoint (float32 [classes]), or None for a plain one."""
    record = artifact.get(DECISION_BIAS)
    if record is None:
        return None
    where = artifact.get("_path", "<checkpoint>")
    biases = record.get("biases") if isinstance(record, dict) else None
    n_classes = len(artifact["class_names"])
    if (not isinstance(biases, list) or len(biases) != n_classes
            or not all(isinstance(b, (int, float)) and math.isfinite(b) for b in biases)):
        raise CheckpointError(f"{where}: '{DECISION_BIAS}' must hold {n_classes} finite biases, one per class; "
                              f"found {biases!r}")
    return torch.tensor(biases, dtype=torch.float32)


def apply_decision_bias(logits: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Shifted log-probabilities (their argmax and softmax are the shifted model's); unchanged without a bias."""
    return logits if bias is None else torch.log_softmax(logits.float(), dim=1) + bias


def shift_checkpoint(
    checkpoint: str | Path,
    spec: str,
    emotions: Sequence[str],
    out: str | Path | None = None,
    objective: str = "f1",
    tta: str = "none",
    cache_dir: str | None = None,
) -> dict:
    """Tune each of ``emotions``' biases on the validation split of ``spec`` (the data's own val
    split, or the share of train the model's training carved out with its seed) and write the
    shifted checkpoint to ``out`` (default: beside the checkpoint, ``<name>-shifted.pt``).
    Returns what was chosen and the validation scores before and after."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective '{objective}': expected one of {', '.join(OBJECTIVES)}")
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation '{tta}'; expected one of {', '.join(TTA_MODES)}")
    artifact = read_checkpoint(checkpoint, kinds=(MODEL_KIND,))
    source = Path(artifact.pop("_path"))
    target = Path(out) if out is not None else source.with_name(f"{source.stem}-shifted.pt")
    if target.resolve() == source.resolve():
        raise DataError(f"--out {target} is the checkpoint itself; the shifted model goes to another file")
    names = list(artifact["class_names"])
    classes = _class_indices(emotions, names, source)
    data = load_dataset(spec, cache_dir=cache_dir)
    if list(data.class_names) != names:
        raise DataError(f"{spec}: classes {list(data.class_names)} differ from the checkpoint's {names}")
    seed = int(artifact.get("info", {}).get("train_config", {}).get("seed", 0))
    val = split_train_val(data, seed)
    _check_val_faces(val.val.labels, classes, names, spec)
    model = fold_batchnorm(build_model_from_artifact(artifact, source))
    val_log_probs = log_softmax(predict_logits(model, val.val.images, FP32, CPU, tta=tta).numpy())
    targets = val.val.labels.numpy()
    biases = np.zeros(len(names))
    for c in classes:  # in order, each with the earlier ones applied (as fergan study's +shift)
        biases[c] = tune_bias(val_log_probs + biases, targets, c, objective)
    artifact[DECISION_BIAS] = {
        "biases": [float(b) for b in biases], "emotions": [names[c] for c in classes], "objective": objective,
        "tta": tta, "data": data.source, "split": val.val_source, "n_val": len(targets), "from": str(source),
    }
    save_model(target, artifact)
    before, after = val_log_probs.argmax(axis=1), (val_log_probs + biases).argmax(axis=1)
    return {"checkpoint": str(source), "out": str(target), "objective": objective, "tta": tta,
            "split": val.val_source, "n_val": len(targets),
            "macro_f1": {"before": macro_f1(targets, before, len(names)), "after": macro_f1(targets, after, len(names))},
            "per_emotion": {names[c]: {"bias": float(biases[c]),
                                       "f1_before": class_f1(targets, before, c), "f1_after": class_f1(targets, after, c)}
                            for c in classes}}


def _class_indices(emotions: Sequence[str], names: list[str], source: Path) -> list[int]:
    if not emotions:
        raise DataError("name at least one emotion whose boundary to move (--emotion disgust)")
    indices = []
    for emotion in emotions:
        try:
            name = canonical_name(emotion)
        except UnknownEmotionError as err:
            raise DataError(f"--emotion {emotion}: {err}") from None
        if name not in names:
            raise DataError(f"--emotion {emotion}: {source} has no class '{name}' (classes: {', '.join(names)})")
        if names.index(name) in indices:
            raise DataError(f"--emotion {emotion}: named twice")
        indices.append(names.index(name))
    return indices


def _check_val_faces(labels: torch.Tensor, classes: list[int], names: list[str], spec: str) -> None:
    counts = torch.bincount(labels, minlength=len(names))
    empty = [names[c] for c in classes if counts[c] == 0]
    if empty:
        raise DataError(f"{spec}: the validation split has no {', '.join(empty)} faces to tune the boundary on")
