"""Moving one class's decision boundary: an additive bias on its log-probability, chosen on a
validation split to maximise a score, then applied unchanged to the test split.

A rebalancer that trades one class's recall for its precision (oversampling, synthetic faces)
moves that class's boundary; so does adding a constant to its log-probability after training,
which costs nothing. Comparing a condition with another one's tuned boundary asks whether it
bought more than a shift. Pure numpy: arrays in, numbers out.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Objective = Literal["f1", "macro_f1"]
DEFAULT_GRID = np.round(np.arange(-4.0, 4.0001, 0.05), 2)  # log-probability units; 0 is "as trained"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def shifted_predictions(log_probs: np.ndarray, class_index: int, bias: float) -> np.ndarray:
    """Argmax after adding ``bias`` to one class's log-probability."""
    shifted = np.array(log_probs, dtype=np.float64, copy=True)
    shifted[:, class_index] += bias
    return shifted.argmax(axis=1)


def class_f1(targets: np.ndarray, predictions: np.ndarray, class_index: int) -> float:
    tp = float(np.sum((predictions == class_index) & (targets == class_index)))
    predicted, actual = float(np.sum(predictions == class_index)), float(np.sum(targets == class_index))
    return 0.0 if predicted + actual == 0 else 2 * tp / (predicted + actual)


def macro_f1(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    """Mean F1 over the classes present in ``targets`` (the toolkit's macro-F1)."""
    present = [c for c in range(num_classes) if np.any(targets == c)]
    return float(np.mean([class_f1(targets, predictions, c) for c in present])) if present else 0.0


def tune_bias(log_probs: np.ndarray, targets: np.ndarray, class_index: int, objective: Objective = "f1",
              grid: np.ndarray = DEFAULT_GRID) -> float:
    """The bias of ``grid`` that maximises ``objective`` ("f1": the class's own F1, "macro_f1")
    on these items; among equal scores the one nearest 0, so that a flat score keeps the
    boundary where training left it."""
    log_probs, targets = np.asarray(log_probs), np.asarray(targets)
    if log_probs.ndim != 2 or len(log_probs) != len(targets):
        raise ValueError(f"expected log_probs [N, C] and N targets, got {log_probs.shape} and {targets.shape}")
    if not 0 <= class_index < log_probs.shape[1]:
        raise ValueError(f"class_index {class_index} is outside the {log_probs.shape[1]} classes")
    if objective not in ("f1", "macro_f1"):
        raise ValueError(f"objective '{objective}': expected 'f1' or 'macro_f1'")

    def score(bias: float) -> float:
        predictions = shifted_predictions(log_probs, class_index, bias)
        if objective == "f1":
            return class_f1(targets, predictions, class_index)
        return macro_f1(targets, predictions, log_probs.shape[1])

    by_closeness = sorted((float(b) for b in grid), key=abs)  # max() keeps the first of equals
    return max(by_closeness, key=score)
