"""Pure measurement functions for the augmentation study (layer 0: numpy and scipy only).

``distances``: how far apart two feature sets are (FID, KID).
``bootstrap``: how sure we are of a score and of a difference between conditions.

Nothing here touches models, files or torch: callers extract features and predictions, these
functions only turn arrays into numbers, so every one can be checked by hand.
"""

from ferganaug.measure.bootstrap import (
    bootstrap_metric_ci,
    bootstrap_recall_ci,
    mean_ci_over_seeds,
    paired_bootstrap_delta,
    paired_delta,
    per_class_recall,
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
]
