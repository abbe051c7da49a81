"""Distances between two sets of feature vectors: Frechet (FID) and kernel (KID) distance.

Inputs are [N, D] arrays (numpy or CPU torch tensors); all arithmetic is float64 because the
FID matrix square root loses digits quickly in float32.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from numpy.typing import ArrayLike
import scipy.linalg

log = logging.getLogger(__name__)


def _as_features(feats, name: str) -> np.ndarray:
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D [N, D] feature array, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _as_pair(feats_a, feats_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: feats_a has {a.shape[1]}, feats_b has {b.shape[1]}")
    return a, b


def _sqrtm(m: np.ndarray) -> np.ndarray:
    # Singular products are routine (fewer samples than dimensions); we check the result
    # ourselves, so scipy's warning would only be noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scipy.linalg.sqrtm(m)


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula):
    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    When the matrix square root is not finite (near-singular covariances), ``eps`` * I is
    added to both covariances and it is retried, as the reference FID implementations do.
    """
    a, b = _as_pair(feats_a, feats_b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    # atleast_2d: np.cov returns a 0-d array for one feature dimension.
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))

    covmean = _sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        log.warning("frechet_distance: sqrtm of the covariance product is not finite; adding %g to the diagonal", eps)
        # Regularise the covariances everywhere, not only inside the root as pytorch-fid does:
        # that way the result is the exact distance between the regularised Gaussians and a
        # set against itself is still 0 (root-only gives a -2 * eps * D bias).
        offset = np.eye(s_a.shape[0]) * eps
        s_a, s_b = s_a + offset, s_b + offset
        covmean = _sqrtm(s_a @ s_b)
        if not np.isfinite(covmean).all():
            raise FloatingPointError("frechet_distance: covariance square root is not finite even after regularising")
    if np.iscomplexobj(covmean):
        # The product of two PSD matrices has real non-negative eigenvalues; an imaginary part
        # is round-off. Report it when it is large enough to matter, then drop it.
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > 1e-3:
            log.warning("frechet_distance: dropping an imaginary component of %g in the covariance square root", imag)
        covmean = covmean.real

    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    if value < 0.0:
        # Round-off pushes identical sets a hair below zero; anything larger is an inaccurate
        # square root, worth a warning rather than a silent zero.
        if value < -1e-6 * (1.0 + np.trace(s_a) + np.trace(s_b)):
            log.warning("frechet_distance: negative value %g clipped to 0 (inaccurate square root?)", value)
        value = 0.0
    return value


def mmd2_unbiased(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    """Unbiased estimate of MMD^2 from kernel matrices kxx [m, m], kyy [n, n], kxy [m, n]:
    mean of kxx off its diagonal + mean of kyy off its diagonal - 2 * mean of kxy.

    The diagonals are left out because k(x_i, x_i) is not a draw of k(x, x') for independent
    x, x'; that is what makes it unbiased (and why it can be slightly negative).
    """
    kxx, kyy, kxy = (np.asarray(k, dtype=np.float64) for k in (kxx, kyy, kxy))
    m, n = kxx.shape[0], kyy.shape[0]
    if kxx.shape != (m, m) or kyy.shape != (n, n) or kxy.shape != (m, n):
        raise ValueError(f"kernel shapes must be [m, m], [n, n], [m, n]; got {kxx.shape}, {kyy.shape}, {kxy.shape}")
    if m < 2 or n < 2:
        raise ValueError(f"the unbiased MMD^2 needs at least 2 samples per set, got {m} and {n}")
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kernel_inception_distance(feats_a: ArrayLike, feats_b: ArrayLike, subsets: int = 10, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): unbiased MMD^2 under the cubic kernel (x.y / d + 1)^3,
    averaged over ``subsets`` random subsets of min(subset_size, len(a), len(b)) rows drawn
    without replacement from each set. Returns (mean, std over subsets, ddof=0).
    """
    a, b = _as_pair(feats_a, feats_b)
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError(f"subset_size must be at least 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(_poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y))
    return float(values.mean()), float(values.std())
