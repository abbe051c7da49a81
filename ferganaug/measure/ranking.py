"""How well a recogniser ranks one class's faces above the others, whatever its boundary.

F1 and recall judge a model at its decision boundary, and a boundary can be moved for free
(:mod:`ferganaug.measure.threshold`). Ranking scores cannot be: ROC AUC is the chance that a
random face of the class scores above a random other face, and average precision is the mean
precision at the rank of each face of the class (the area under the precision-recall curve,
which, unlike AUC, weighs the top of the ranking where a rare class's boundary sits), and
R-precision is the share of the class among as many top-ranked faces as the class has (the
precision at the one cut where precision equals recall). A condition whose ranking is no better than another's cannot beat it at every boundary. Pure
numpy: scores and a bool mask in, numbers out; ties are shared fairly in both.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _check(scores, positives) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    p = np.asarray(positives, dtype=bool).ravel()
    if s.shape != p.shape:
        raise ValueError(f"one score per item is needed: got {s.size} scores for {p.size} items")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return s, p


def roc_auc(scores: ArrayLike, positives: ArrayLike) -> float | None:
    """P(score of a positive > score of a negative), ties counting one half (Mann-Whitney U);
    None without both positives and negatives."""
    s, p = _check(scores, positives)
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.arange(1, len(s) + 1)
    _, first, counts = np.unique(s[order], return_index=True, return_counts=True)
    for start, count in zip(first, counts):  # tied scores share their mean rank
        if count > 1:
            ranks[order[start:start + count]] = start + (count + 1) / 2.0
    u = ranks[p].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_precision(scores: ArrayLike, positives: ArrayLike) -> float | None:
    """Sum over distinct score thresholds, from the top, of precision times the recall gained
    there (the step-wise area under the precision-recall curve); None without positives."""
    s, p = _check(scores, positives)
    n_pos = int(p.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, p = s[order], p[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold sits after each run of equal scores
    hits = np.cumsum(p)[last_of_tie]
    seen = np.arange(1, len(s) + 1)[last_of_tie]
    gained = np.diff(np.r_[0, hits]) / n_pos
    return float(np.sum(gained * hits / seen))


def r_precision(scores: ArrayLike, positives: ArrayLike) -> float | None:
    """The share of positives among the ``n`` highest scores, ``n`` the number of positives; a
    tie across the cut counts its positives in proportion to the places it gets there (the
    expected share when the tie is broken at random). None without positives."""
    s, p = _check(scores, positives)
    n_pos = int(p.sum())
    if n_pos == 0:
        return None
    cut = np.sort(s)[::-1][n_pos - 1]  # the n-th highest score
    above, tied = s > cut, s == cut
    places_in_tie = n_pos - int(above.sum())
    hits = int(p[above].sum()) + places_in_tie * int(p[tied].sum()) / int(tied.sum())
    return float(hits / n_pos)
