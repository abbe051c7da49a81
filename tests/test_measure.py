"""ferganaug.measure: FID / KID and the bootstrap / seed statistics, checked against values
worked out by hand or by closed form."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ferganaug.measure import distances
from ferganaug.measure.bootstrap import (
    bootstrap_metric_ci,
    bootstrap_recall_ci,
    mean_ci_over_seeds,
    paired_bootstrap_delta,
    paired_delta,
    per_class_recall,
    seeds_to_separate,
)
from ferganaug.measure.distances import (
    frechet_distance,
    kernel_inception_distance,
    mmd2_unbiased,
)


def accuracy(t, p):
    return float(np.mean(t == p))


# ---------------------------------------------------------------- Frechet distance


def test_fid_by_hand_diagonal_covariances():
    # Points on the axes: mean 0 and diagonal covariance (ddof=1): var_x = 2/3, var_y = 8/3.
    a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    b = 3.0 * a + np.array([1.0, 1.0])  # mean (1, 1), variances 9x larger
    var_a = np.array([2 / 3, 8 / 3])
    var_b = 9 * var_a
    # Diagonal covariances commute, so the square root is elementwise:
    # per dim s_a + s_b - 2 sqrt(s_a s_b) = (sqrt s_a - sqrt s_b)^2.
    expected = 1.0**2 + 1.0**2 + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert expected == pytest.approx(2 + 40 / 3)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-9)


def test_fid_is_rotation_invariant_with_full_covariances():
    # Rotating both sets leaves the distance unchanged but makes the covariances non-diagonal,
    # so this exercises the full matrix square root.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 3)) * [1.0, 2.0, 0.5]
    b = rng.normal(size=(300, 3)) * [2.0, 1.0, 1.0] + [0.5, -1.0, 0.0]
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    assert abs(np.cov(a @ q, rowvar=False)[0, 1]) > 0.05
    assert frechet_distance(a @ q, b @ q) == pytest.approx(frechet_distance(a, b), rel=1e-8)


def test_fid_of_a_set_with_itself_is_zero_and_accepts_tensors():
    feats = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(feats, feats + 1.0) == pytest.approx(8.0, rel=1e-6)  # mean shift only


def test_fid_of_sampled_gaussians_approaches_closed_form():
    rng = np.random.default_rng(1)
    mu1, s1 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    mu2, s2 = np.array([1.0, 1.0, 0.0]), np.array([2.0, 0.5, 1.0])
    a = rng.normal(mu1, s1, size=(20000, 3))
    b = rng.normal(mu2, s2, size=(20000, 3))
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)  # = 5 + 2 = 7
    assert frechet_distance(a, b) == pytest.approx(closed, rel=0.03)


def test_fid_one_feature_dimension():
    a = np.array([[0.0], [2.0]])  # mean 1, var 2
    b = np.array([[0.0], [4.0], [8.0]])  # mean 4, var 16
    assert frechet_distance(a, b) == pytest.approx(9 + (math.sqrt(2) - 4) ** 2)


def test_fid_singular_covariances_stay_finite():
    # Fewer samples than dimensions: rank-deficient covariances, the usual small-set case.
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 16)), rng.normal(size=(6, 16)) + 0.5
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0


def test_fid_retries_with_regularised_covariances(monkeypatch):
    calls = []
    real = distances._sqrtm

    def flaky(m):
        calls.append(m.copy())
        return np.full_like(m, np.inf) if len(calls) == 1 else real(m)

    monkeypatch.setattr(distances, "_sqrtm", flaky)
    eps = 1e-3
    a = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])  # S_a = diag(2/3, 8/3)
    b = 3.0 * a + np.array([1.0, 1.0])  # S_b = 9 S_a, mean (1, 1)
    value = frechet_distance(a, b, eps=eps)
    assert len(calls) == 2
    var_a = np.array([2 / 3, 8 / 3]) + eps
    var_b = 9 * np.array([2 / 3, 8 / 3]) + eps
    # The retry took the root of (S_a + eps I)(S_b + eps I) ...
    np.testing.assert_allclose(calls[1], np.diag(var_a * var_b))
    # ... and the distance is the exact one between the regularised Gaussians.
    assert value == pytest.approx(2 + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2), rel=1e-9)
    calls.clear()
    assert frechet_distance(a, a, eps=eps) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((1, 3)), np.zeros((5, 3)), "feats_a needs at least 2 rows"),
        (np.zeros((5, 3)), np.zeros((1, 3)), "feats_b needs at least 2 rows"),
        (np.zeros((5, 3)), np.zeros((5, 4)), "feature dimensions differ: feats_a has 3, feats_b has 4"),
        (np.zeros(5), np.zeros((5, 1)), "feats_a must be a 2-D"),
        (np.full((3, 2), np.nan), np.zeros((3, 2)), "feats_a contains NaN"),
    ],
)
def test_distance_bad_inputs(a, b, message):
    with pytest.raises(ValueError, match=message):
        frechet_distance(a, b)
    with pytest.raises(ValueError, match=message):
        kernel_inception_distance(a, b)


# ---------------------------------------------------------------- KID / MMD


def test_mmd2_unbiased_by_hand():
    kxx = np.array([[1.0, 2.0], [2.0, 1.0]])  # off-diagonal mean 2 (with the diagonal: 1.5)
    kyy = np.array([[5.0, 3.0], [3.0, 5.0]])  # off-diagonal mean 3 (with the diagonal: 4)
    kxy = np.array([[1.0, 2.0], [0.0, 1.0]])  # mean 1
    assert mmd2_unbiased(kxx, kyy, kxy) == pytest.approx(2 + 3 - 2 * 1)


def test_mmd2_unbiased_unequal_sizes():
    kxx = np.array([[9.0, 1.0], [1.0, 9.0]])  # 1
    kyy = np.array([[9.0, 2.0, 2.0], [2.0, 9.0, 5.0], [2.0, 5.0, 9.0]])  # (2+2+5)*2 / 6 = 3
    kxy = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]])  # 24 / 6 = 4
    assert mmd2_unbiased(kxx, kyy, kxy) == pytest.approx(1 + 3 - 8)
    with pytest.raises(ValueError, match=r"kernel shapes must be \[m, m\], \[n, n\], \[m, n\]"):
        mmd2_unbiased(kxx, kyy, kxy.T)
    with pytest.raises(ValueError, match="at least 2 samples per set"):
        mmd2_unbiased(np.ones((1, 1)), kyy, np.ones((1, 3)))


def test_kid_by_hand_one_dimension():
    # d = 1: k(x, y) = (x y + 1)^3. With subset size 2 every subset is the whole set.
    a, b = np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])
    xx = 1.0  # k(0, 1)
    yy = 27.0  # k(1, 2)
    xy = (1 + 1 + 8 + 27) / 4  # k(0,1), k(0,2), k(1,1), k(1,2)
    mean, std = kernel_inception_distance(a, b, subsets=3, subset_size=2)
    assert mean == pytest.approx(xx + yy - 2 * xy)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_near_zero_for_same_distribution_and_grows_with_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(400, 16))
    b = rng.normal(size=(400, 16))
    same, _ = kernel_inception_distance(a, b, subsets=5, subset_size=200)
    small, _ = kernel_inception_distance(a, b + 0.25, subsets=5, subset_size=200)
    large, _ = kernel_inception_distance(a, b + 1.0, subsets=5, subset_size=200)
    assert abs(same) < 0.01
    assert small > 0.05
    assert large > 4 * small


def test_kid_of_a_set_with_itself_is_slightly_negative():
    # With the whole set as every subset, the cross term includes the k(x_i, x_i) that the
    # within-set terms leave out: KID = 2 * (off-diagonal mean - full mean) of K, just below 0.
    a = np.random.default_rng(5).normal(size=(100, 8))
    k = (a @ a.T / 8 + 1) ** 3
    n = len(a)
    expected = 2 * ((k.sum() - np.trace(k)) / (n * (n - 1)) - k.mean())
    kid, std = kernel_inception_distance(a, a, subsets=3, subset_size=n)
    assert kid == pytest.approx(expected, rel=1e-9)
    assert -0.2 < kid < 0
    assert std == pytest.approx(0.0, abs=1e-9)


def test_kid_is_deterministic_per_seed_and_subset_size_is_capped():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(30, 4)) + 0.3
    first = kernel_inception_distance(a, b, subsets=4, subset_size=20, seed=7)
    assert kernel_inception_distance(a, b, subsets=4, subset_size=20, seed=7) == first
    assert kernel_inception_distance(a, b, subsets=4, subset_size=20, seed=8) != first
    # subset_size above both set sizes is capped at 30, so b is used whole every time.
    assert kernel_inception_distance(a, b, subsets=4, subset_size=1000, seed=7) == \
        kernel_inception_distance(a, b, subsets=4, subset_size=30, seed=7)
    # Two subsets draw the first subset's rows, then more: v2 = 2 * mean2 - v1, and the std is
    # the population std (ddof=0) of the two values, |v1 - v2| / 2.
    v1, _ = kernel_inception_distance(a, b, subsets=1, subset_size=20, seed=7)
    mean2, std2 = kernel_inception_distance(a, b, subsets=2, subset_size=20, seed=7)
    v2 = 2 * mean2 - v1
    assert abs(v1 - v2) > 1e-3
    assert std2 == pytest.approx(abs(v1 - v2) / 2)
    with pytest.raises(ValueError, match="subsets must be at least 1"):
        kernel_inception_distance(a, b, subsets=0)
    with pytest.raises(ValueError, match="subset_size must be at least 2"):
        kernel_inception_distance(a, b, subset_size=1)


# ---------------------------------------------------------------- bootstrap over test items


def test_per_class_recall_by_hand():
    targets = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 0, 1, 1, 2, 2])
    recall = per_class_recall(targets, preds, num_classes=4)
    np.testing.assert_allclose(recall[:3], [2 / 3, 1 / 2, 1.0])
    assert np.isnan(recall[3])  # class 3 has no test items


def test_bootstrap_accuracy_all_correct_is_one():
    t = np.arange(50) % 7
    assert bootstrap_metric_ci(t, t, accuracy, n_boot=200) == (1.0, 1.0)


def _noisy_predictions(n, p_correct, seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 7, n)
    wrong = (t + rng.integers(1, 7, n)) % 7
    return t, np.where(rng.random(n) < p_correct, t, wrong)


def test_bootstrap_ci_contains_estimate_and_narrows_with_more_data():
    t_small, p_small = _noisy_predictions(200, 0.7, seed=0)
    t_big, p_big = _noisy_predictions(5000, 0.7, seed=0)
    lo_s, hi_s = bootstrap_metric_ci(t_small, p_small, accuracy, n_boot=500)
    lo_b, hi_b = bootstrap_metric_ci(t_big, p_big, accuracy, n_boot=500)
    assert lo_s <= accuracy(t_small, p_small) <= hi_s
    assert lo_b <= accuracy(t_big, p_big) <= hi_b
    # Width shrinks like 1 / sqrt(n): sqrt(25) = 5x here; demand at least 3x.
    assert (hi_b - lo_b) * 3 < hi_s - lo_s
    # 95% binomial interval at n=200, p=0.7 is about +-0.064.
    assert 0.09 < hi_s - lo_s < 0.16


def test_bootstrap_is_deterministic_per_seed():
    t, p = _noisy_predictions(300, 0.6, seed=1)
    first = bootstrap_metric_ci(t, p, accuracy, n_boot=300, seed=5)
    assert bootstrap_metric_ci(t, p, accuracy, n_boot=300, seed=5) == first
    assert bootstrap_metric_ci(t, p, accuracy, n_boot=300, seed=6) != first
    np.testing.assert_array_equal(bootstrap_recall_ci(t, p, 7, n_boot=300, seed=5),
                                  bootstrap_recall_ci(t, p, 7, n_boot=300, seed=5))


def test_bootstrap_recall_ci_matches_per_class_loop():
    # The vectorised version must agree with bootstrapping each class's recall one at a time
    # (both draw the same resamples for the same seed).
    t, p = _noisy_predictions(150, 0.6, seed=2)
    t[t == 5] = 4  # class 5 absent from the test set
    t[:3] = 6  # class 6 rare: absent from some resamples
    t[3:] = np.where(t[3:] == 6, 0, t[3:])
    ci = bootstrap_recall_ci(t, p, num_classes=7, n_boot=400, seed=3)
    assert ci.shape == (7, 2)
    assert np.isnan(ci[5]).all()
    point = per_class_recall(t, p, 7)
    for k in (0, 1, 2, 3, 4, 6):
        def recall_k(tt, pp, k=k):
            return per_class_recall(tt, pp, 7)[k]

        expected = bootstrap_metric_ci(t, p, recall_k, n_boot=400, seed=3)
        np.testing.assert_allclose(ci[k], expected)
        assert ci[k, 0] <= point[k] <= ci[k, 1]


def test_bootstrap_recall_all_correct_class_is_one():
    t = np.array([0, 0, 0, 1, 1, 1, 1])
    p = np.array([0, 0, 0, 1, 0, 1, 0])
    ci = bootstrap_recall_ci(t, p, num_classes=2, n_boot=200)
    np.testing.assert_array_equal(ci[0], [1.0, 1.0])
    assert ci[1, 0] < 0.5 < ci[1, 1]


def test_bootstrap_bad_inputs():
    t = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="same length"):
        bootstrap_metric_ci(t, t[:2], accuracy)
    with pytest.raises(ValueError, match="empty test set"):
        bootstrap_metric_ci(t[:0], t[:0], accuracy)
    with pytest.raises(ValueError, match="n_boot must be at least 1"):
        bootstrap_metric_ci(t, t, accuracy, n_boot=0)
    with pytest.raises(ValueError, match="confidence must be strictly between 0 and 1"):
        bootstrap_metric_ci(t, t, accuracy, confidence=95)
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 2\)"):
        per_class_recall(t, t, num_classes=2)
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 3\)"):
        bootstrap_recall_ci(np.array([0.5, 1.0]), np.array([0, 1]), num_classes=3)


# ---------------------------------------------------------------- across seeds


def test_mean_ci_over_seeds_by_hand():
    mean, std, low, high = mean_ci_over_seeds([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, df=2) * 1.0 / math.sqrt(3)
    assert (mean, std) == (pytest.approx(2.0), pytest.approx(1.0))
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert half == pytest.approx(2.4841, abs=1e-3)  # t_{0.975,2} = 4.3027


def test_mean_ci_over_seeds_single_value_and_bad_input():
    mean, std, low, high = mean_ci_over_seeds([0.7])
    assert mean == 0.7 and std == 0.0 and math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError, match="at least one value"):
        mean_ci_over_seeds([])
    with pytest.raises(ValueError, match="values must be finite"):
        mean_ci_over_seeds([1.0, float("nan")])


@pytest.mark.parametrize(
    "deltas, verdict",
    [
        ([0.020, 0.030, 0.025, 0.022], "helped"),
        ([-0.020, -0.030, -0.025, -0.022], "hurt"),
        ([0.050, -0.040, 0.010, -0.005], "within noise"),
    ],
)
def test_paired_delta_verdicts(deltas, verdict):
    baseline = np.array([0.61, 0.64, 0.60, 0.66])  # seed-to-seed spread larger than the deltas
    result = paired_delta(baseline + deltas, baseline)
    mean, std, low, high = mean_ci_over_seeds(deltas)
    assert result["verdict"] == verdict
    assert result["n_seeds"] == 4 and result["note"] is None
    assert result["mean_delta"] == pytest.approx(mean)
    assert result["std"] == pytest.approx(std)
    assert (result["ci_low"], result["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert result["seeds_needed"] == (seeds_to_separate(mean, std) if verdict == "within noise" else None)


def test_seeds_to_separate_by_the_t_table():
    # mean 5 points, spread 8: t(11) 2.201 * 8 / sqrt(12) = 5.08 still reaches zero, t(12) 2.179 * 8 / sqrt(13) = 4.83 not
    assert seeds_to_separate(0.05, 0.08) == 13
    assert seeds_to_separate(-0.05, 0.08) == 13  # a loss needs as many seeds as a gain
    assert seeds_to_separate(0.05, 0.08, confidence=0.5) < 13
    assert seeds_to_separate(0.0, 0.08) is None and seeds_to_separate(0.001, 0.5) is None  # over 100 seeds
    within = paired_delta([0.70, 0.60, 0.66], [0.60, 0.66, 0.61])  # +10, -6, +5 points
    assert within["verdict"] == "within noise"
    assert within["seeds_needed"] == seeds_to_separate(within["mean_delta"], within["std"]) > 3


def test_paired_delta_single_seed_has_no_interval():
    result = paired_delta([0.70], [0.60])
    assert result["verdict"] == "within noise"
    assert result["mean_delta"] == pytest.approx(0.10)
    assert result["ci_low"] is None and result["ci_high"] is None
    assert "single seed" in result["note"]
    with pytest.raises(ValueError, match="one baseline per condition seed, got 2 and 3"):
        paired_delta([0.1, 0.2], [0.1, 0.2, 0.3])


def test_paired_bootstrap_delta():
    t = np.arange(200) % 7
    good = t.copy()
    half = np.where(np.arange(200) % 2 == 0, t, (t + 1) % 7)
    helped = paired_bootstrap_delta(t, good, half, accuracy, n_boot=300)
    assert helped["delta"] == pytest.approx(0.5)
    assert helped["verdict"] == "helped"
    assert helped["ci_low"] <= 0.5 <= helped["ci_high"] and helped["ci_low"] > 0.35
    assert paired_bootstrap_delta(t, half, good, accuracy, n_boot=300)["verdict"] == "hurt"
    same = paired_bootstrap_delta(t, half, half, accuracy, n_boot=300)
    # Scored on the same items, identical predictions differ by exactly 0 in every draw.
    assert (same["ci_low"], same["ci_high"], same["verdict"]) == (0.0, 0.0, "within noise")
    assert paired_bootstrap_delta(t, good, half, accuracy, n_boot=300, seed=0) == helped


def test_paired_bootstrap_delta_small_difference_is_within_noise():
    t, a = _noisy_predictions(300, 0.7, seed=4)
    b = a.copy()
    b[:2] = (t[:2] + 1) % 7  # b differs from a on two items only
    a[:2] = t[:2]
    result = paired_bootstrap_delta(t, a, b, accuracy, n_boot=500)
    assert result["delta"] == pytest.approx(2 / 300)
    assert result["verdict"] == "within noise"
    # Paired: a draw's delta is (copies of the two differing items) / 300, never below 0, and 0
    # whenever neither is drawn (~13% of draws). Unpaired resampling would give about +-0.07.
    assert result["ci_low"] == 0.0
    assert 2 / 300 <= result["ci_high"] <= 6 / 300
