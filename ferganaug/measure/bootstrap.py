"""How sure are we? Bootstrap intervals over test items, t-intervals over training seeds, and
paired deltas between an augmentation condition and its baseline.

Two sources of noise, two tools: resampling the test set (``bootstrap_*``) says how much a
score would move on another test set of the same size; repeating training with other seeds
(``mean_ci_over_seeds``, ``paired_delta``) says how much it moves from run to run. A verdict
of "helped" or "hurt" needs the whole interval on one side of zero.

Dict results use None for an interval that does not exist, so they can be written as JSON.
"""

from __future__ import annotations

import math

import warnings
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

MetricFn = Callable[[np.ndarray, np.ndarray], float]

# Rows of resampled indices drawn per chunk: bounds memory at about this many int64s.
_CHUNK_ELEMENTS = 1 << 22


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")


def _check_pair(targets, predictions) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(targets), np.asarray(predictions)
    if t.ndim != 1:
        raise ValueError(f"targets must be 1-D, got shape {t.shape}")
    if p.ndim < 1 or len(p) != len(t):
        raise ValueError(f"targets and predictions must have the same length, got {len(t)} and {p.shape}")
    if len(t) == 0:
        raise ValueError("cannot bootstrap an empty test set")
    return t, p


def _check_labels(targets: np.ndarray, num_classes: int) -> np.ndarray:
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    t = targets.astype(np.int64)
    if not np.array_equal(t, targets) or t.min() < 0 or t.max() >= num_classes:
        raise ValueError(f"targets must be integer class indices in [0, {num_classes}), got range "
                         f"[{targets.min()}, {targets.max()}]")
    return t


def _resamples(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Yield [chunk, n] index arrays, n_boot rows in all. Every bootstrap function draws
    through here, so the same seed gives the same resamples in all of them."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_boot - start), n))


def _percentile_interval(draws: np.ndarray, confidence: float, axis: int = 0) -> np.ndarray:
    """Percentile interval along ``axis``, ignoring NaN draws (a resample where the metric is
    undefined); all-NaN gives NaN."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        # An all-NaN column is an expected outcome (class absent from the test set), not news.
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(draws, [tail, 100.0 - tail], axis=axis)


def _verdict(low: float | None, high: float | None) -> str:
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return "within noise"
    if low > 0:
        return "helped"
    if high < 0:
        return "hurt"
    return "within noise"


def bootstrap_metric_ci(targets: ArrayLike, predictions: ArrayLike, metric_fn: MetricFn, n_boot: int = 1000,
                        confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric_fn(targets, predictions)`` over test items
    resampled with replacement. ``predictions`` may be labels [N] or scores [N, C]."""
    _check_confidence(confidence)
    t, p = _check_pair(targets, predictions)
    rng = np.random.default_rng(seed)
    draws = np.array([metric_fn(t[idx], p[idx]) for chunk in _resamples(rng, len(t), n_boot) for idx in chunk],
                     dtype=np.float64)
    low, high = _percentile_interval(draws, confidence)
    return float(low), float(high)


def per_class_recall(targets: ArrayLike, predictions: ArrayLike, num_classes: int) -> np.ndarray:
    """Recall of each class [num_classes]; NaN for a class with no test items."""
    t, p = _check_pair(targets, predictions)
    t = _check_labels(t, num_classes)
    support = np.bincount(t, minlength=num_classes)
    hits = np.bincount(t, weights=(t == p), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / np.maximum(support, 1), np.nan)


def bootstrap_recall_ci(targets: ArrayLike, predictions: ArrayLike, num_classes: int, n_boot: int = 1000, seed: int = 0,
                        confidence: float = 0.95) -> np.ndarray:
    """Percentile bootstrap interval of every class's recall at once: [num_classes, 2].

    Each resample is counted with one bincount over (draw, class) keys, so all classes and a
    chunk of draws cost a single pass. A class missing from a resample gives NaN there and is
    ignored; a class missing from every resample gives a NaN row.
    """
    _check_confidence(confidence)
    t, p = _check_pair(targets, predictions)
    t = _check_labels(t, num_classes)
    correct = (t == p).astype(np.float64)
    rng = np.random.default_rng(seed)
    recalls = []
    for idx in _resamples(rng, len(t), n_boot):
        rows = idx.shape[0]
        keys = (np.arange(rows)[:, None] * num_classes + t[idx]).ravel()
        support = np.bincount(keys, minlength=rows * num_classes).reshape(rows, num_classes)
        hits = np.bincount(keys, weights=correct[idx].ravel(), minlength=rows * num_classes).reshape(rows, num_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls.append(np.where(support > 0, hits / np.maximum(support, 1), np.nan))
    return _percentile_interval(np.concatenate(recalls), confidence).T


def mean_ci_over_seeds(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std, low, high) of one score across training seeds: std with ddof=1 and a
    Student-t interval of the mean. One seed has no spread: std 0 and a NaN interval."""
    _check_confidence(confidence)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_ci_over_seeds needs at least one value")
    if not np.isfinite(v).all():
        raise ValueError(f"values must be finite, got {v.tolist()}")
    mean = float(v.mean())
    if v.size == 1:
        return mean, 0.0, float("nan"), float("nan")
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df=v.size - 1)) * std / np.sqrt(v.size)
    return mean, std, mean - half, mean + half


def summarise_seeds(values: ArrayLike, confidence: float = 0.95) -> dict:
    """Per-seed values with their mean, std and t-interval of the mean (None: one seed), as
    results files hold them."""
    mean, std, low, high = mean_ci_over_seeds(values, confidence)
    return {"values": [float(v) for v in values], "mean": mean, "std": std,
            "ci_low": None if math.isnan(low) else low, "ci_high": None if math.isnan(high) else high}


def paired_delta(condition_values: ArrayLike, baseline_values: ArrayLike, confidence: float = 0.95) -> dict:
    """Condition minus baseline, paired seed by seed (seed i against seed i), with a t-interval
    of the mean delta and a verdict: "helped" (interval > 0), "hurt" (< 0) or "within noise".

    Pairing removes what the two runs of one seed share (data order, initialisation), so the
    interval is usually tighter than comparing two unpaired means.
    """
    c = np.asarray(condition_values, dtype=np.float64).ravel()
    b = np.asarray(baseline_values, dtype=np.float64).ravel()
    if c.size != b.size:
        raise ValueError(f"paired values need one baseline per condition seed, got {c.size} and {b.size}")
    deltas = c - b
    mean, std, low, high = mean_ci_over_seeds(deltas, confidence)
    result = {"n_seeds": int(deltas.size), "mean_delta": mean, "std": std, "ci_low": None, "ci_high": None,
              "confidence": confidence, "verdict": "within noise", "note": None, "seeds_needed": None}
    if deltas.size == 1:
        result["note"] = "single seed: no spread between seeds to build an interval from, so no verdict"
        return result
    result.update(ci_low=low, ci_high=high, verdict=_verdict(low, high))
    if result["verdict"] == "within noise":
        result["seeds_needed"] = seeds_to_separate(mean, std, confidence)
    return result


def seeds_to_separate(mean_delta: float, std: float, confidence: float = 0.95, limit: int = 100) -> int | None:
    """The fewest paired seeds n whose t-interval, mean_delta +- t(n-1) * std / sqrt(n), would
    leave out zero if the mean delta and its seed-to-seed spread stayed as measured: a planning
    figure for a change found within noise. None when even ``limit`` seeds would not (or the
    mean delta is zero)."""
    _check_confidence(confidence)
    if mean_delta == 0 or not np.isfinite(mean_delta) or not np.isfinite(std):
        return None
    for n in range(2, limit + 1):
        if float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1)) * std / np.sqrt(n) < abs(mean_delta):
            return n
    return None


def paired_bootstrap_delta(targets: ArrayLike, preds_a: ArrayLike, preds_b: ArrayLike, metric_fn: MetricFn,
                           n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict:
    """metric(a) - metric(b) on one test set, with both conditions scored on the same resampled
    items in every draw (so item difficulty cancels). ``delta`` is the full-set value,
    ``mean_delta`` the mean over draws; the verdict reads the percentile interval."""
    _check_confidence(confidence)
    t, a = _check_pair(targets, preds_a)
    _, b = _check_pair(targets, preds_b)
    rng = np.random.default_rng(seed)
    draws = np.array([metric_fn(t[idx], a[idx]) - metric_fn(t[idx], b[idx])
                      for chunk in _resamples(rng, len(t), n_boot) for idx in chunk], dtype=np.float64)
    low, high = (float(x) for x in _percentile_interval(draws, confidence))
    result = {"delta": float(metric_fn(t, a) - metric_fn(t, b)), "mean_delta": float("nan"), "ci_low": None,
              "ci_high": None, "n_boot": n_boot, "confidence": confidence, "verdict": "within noise", "note": None}
    if np.isnan(low):
        result["note"] = "the metric was undefined on every resample, so no interval"
        return result
    result.update(mean_delta=float(np.nanmean(draws)), ci_low=low, ci_high=high, verdict=_verdict(low, high))
    return result
