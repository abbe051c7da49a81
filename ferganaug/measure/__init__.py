"""Measurement functions for the augmentation study (layer 0).

``distances``: how far apart two feature sets are (FID, KID).
``bootstrap``: how sure we are of a score and of a difference between conditions.
``two_sample``: whether a small critic can tell synthetic faces from real ones (torch).
``threshold``: moving one class's decision boundary by a bias chosen on a validation split.

Nothing here reads files or knows the toolkit's models: callers extract features and
predictions, these functions turn arrays into numbers; the distances and intervals are pure
numpy and scipy, so every one can be checked by hand.
"""

from ferganaug.measure.bootstrap import (
    bootstrap_metric_ci,
    bootstrap_recall_ci,
    mean_ci_over_seeds,
    paired_bootstrap_delta,
    paired_delta,
    per_class_recall,
    seeds_to_separate,
    summarise_seeds,
)
from ferganaug.measure.distances import (
    frechet_distance,
    kernel_inception_distance,
    mmd2_unbiased,
)

__all__ = [
    "bootstrap_metric_ci",
    "bootstrap_recall_ci",
    "frechet_distance",
    "kernel_inception_distance",
    "mean_ci_over_seeds",
    "mmd2_unbiased",
    "paired_bootstrap_delta",
    "paired_delta",
    "per_class_recall",
    "seeds_to_separate",
    "summarise_seeds",
]
