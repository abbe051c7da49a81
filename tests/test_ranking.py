"""Ranking scores: ROC AUC, average precision and R-precision against their definitions, ties included."""

import numpy as np
import pytest

from ferganaug.measure.ranking import average_precision, r_precision, roc_auc


def _auc_by_pairs(scores, positives):
    pos, neg = scores[positives], scores[~positives]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def _ap_by_thresholds(scores, positives):
    total, recall_before = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= t
        recall = (predicted & positives).sum() / positives.sum()
        total += (recall - recall_before) * (predicted & positives).sum() / predicted.sum()
        recall_before = recall
    return total


def _r_precision_over_tie_breaks(scores, positives, draws=4000, seed=0):
    """The mean share of positives among the top n over random orders of the tied scores."""
    rng = np.random.default_rng(seed)
    n = positives.sum()
    shares = [positives[np.lexsort((rng.random(len(scores)), -scores))][:n].mean() for _ in range(draws)]
    return float(np.mean(shares))


def test_hand_computed_values():
    scores, positives = [0.9, 0.8, 0.7, 0.1], [True, False, True, False]
    assert roc_auc(scores, positives) == pytest.approx(3 / 4)  # 0.7 loses only to 0.8
    assert average_precision(scores, positives) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert roc_auc([0.5] * 3, [True, False, False]) == 0.5  # all tied: a coin toss
    assert average_precision([0.5] * 3, [True, False, False]) == pytest.approx(1 / 3)
    assert r_precision(scores, positives) == pytest.approx(1 / 2)  # the top two: 0.9 (hit) and 0.8
    assert r_precision([0.5] * 3, [True, False, False]) == pytest.approx(1 / 3)
    # one place left at the cut, two faces tied for it, one of them a hit: half a hit
    assert r_precision([3, 2, 2, 1], [True, True, False, False]) == pytest.approx(1.5 / 2)


def test_against_the_definitions_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(5, 80))
        scores, positives = np.round(rng.normal(size=n), 1), rng.random(n) < 0.3
        positives[0], positives[1] = True, False
        assert roc_auc(scores, positives) == pytest.approx(_auc_by_pairs(scores, positives))
        assert average_precision(scores, positives) == pytest.approx(_ap_by_thresholds(scores, positives))


def test_r_precision_is_the_mean_over_random_breaks_of_its_ties():
    rng = np.random.default_rng(1)
    for _ in range(10):
        n = int(rng.integers(5, 30))
        scores, positives = np.round(rng.normal(size=n)), rng.random(n) < 0.4  # coarse: many ties
        positives[0] = True
        assert r_precision(scores, positives) == pytest.approx(_r_precision_over_tie_breaks(scores, positives),
                                                               abs=0.02)


def test_a_perfect_ranking_and_undefined_cases():
    assert roc_auc([3, 2, 1], [True, True, False]) == 1.0 and average_precision([3, 2, 1], [True, True, False]) == 1.0
    assert roc_auc([1, 2], [False, False]) is None and average_precision([1, 2], [False, False]) is None
    assert roc_auc([1, 2], [True, True]) is None
    assert r_precision([3, 2, 1], [True, True, False]) == 1.0 and r_precision([1, 2], [False, False]) is None
    with pytest.raises(ValueError, match="one score per item"):
        roc_auc([1, 2, 3], [True, False])
    with pytest.raises(ValueError, match="finite"):
        average_precision([1, float("nan")], [True, False])
