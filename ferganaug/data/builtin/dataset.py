"""The `builtin` dataset: FER2013-shaped splits of procedural faces, re-renderable row by row."""

from __future__ import annotations

import math

import numpy as np
import torch

from ferganaug.data.builtin.expression import emotion_indices
from ferganaug.data.builtin.render import GENERATOR_VERSION, render
from ferganaug.data.dataset import FaceDataset
from ferganaug.emotions import EMOTIONS, NUM_EMOTIONS

# FER2013 training-set counts per class (canonical order); the builtin set copies the proportions.
FER2013_TRAIN_COUNTS: tuple[int, ...] = (3995, 436, 4097, 7215, 4830, 3171, 4965)
DISTRIBUTIONS: tuple[str, ...] = ("fer2013", "balanced")
FACES_PER_IDENTITY = 20
# Expression strength: from subtle (easily mistaken for neutral or a neighbour) to full.
INTENSITY_RANGE: tuple[float, float] = (0.25, 1.0)
_DATASET_SALT = 0xB17_1D5


def builtin_dataset(
    train: int = 8000, val: int = 1000, test: int = 2000, seed: int = 0, distribution: str = "fer2013"
) -> FaceDataset:
    """Procedural faces with FER2013's class proportions in every split and disjoint identities.

    Every row can be re-rendered from its identity, label and the per-row columns
    ``info["intensities"]`` and ``info["nuisance_seeds"]`` (see ``render_counterparts``).
    """
    sizes = {"train": train, "val": val, "test": test}
    _check_options(sizes, seed, distribution)
    counts = FER2013_TRAIN_COUNTS if distribution == "fer2013" else (1,) * NUM_EMOTIONS
    rng = np.random.default_rng([int(seed), _DATASET_SALT])
    labels, identities, splits = _split_rows(rng, list(sizes.values()), np.asarray(counts, dtype=np.float64))
    n = sum(sizes.values())
    label = torch.from_numpy(labels.astype(np.int64))
    identity = torch.from_numpy(identities.astype(np.int64))
    # Uniform strength: a good share of subtle faces sit close to neutral and to neighbouring
    # classes, which is what keeps a CNN well short of 100% (as on real data).
    intensities = torch.from_numpy(rng.uniform(*INTENSITY_RANGE, size=n).astype(np.float32))
    seeds = torch.from_numpy(rng.integers(0, 2**62, size=n, dtype=np.int64))
    return FaceDataset(
        images=render(identity, label, intensities, seeds, nuisance=True),
        labels=label,
        splits=torch.from_numpy(splits),
        identities=identity,
        class_names=EMOTIONS,
        source="builtin",
        info={
            "generator": GENERATOR_VERSION,
            "seed": int(seed),
            "distribution": distribution,
            "nuisance": True,
            "intensities": intensities,
            "nuisance_seeds": seeds,
        },
    )


def _check_options(sizes: dict[str, int], seed: int, distribution: str) -> None:
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
    if sum(sizes.values()) == 0:
        raise ValueError("the builtin dataset needs at least one face (train + val + test > 0)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution '{distribution}'; expected one of {', '.join(DISTRIBUTIONS)}")


def _split_rows(rng: np.random.Generator, sizes: list[int],
                weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(label, identity, split index) per row, split after split: each split has the class
    proportions of ``weights`` and people of its own."""
    id_counts = [math.ceil(size / FACES_PER_IDENTITY) for size in sizes]
    id_pool = _distinct_ids(rng, sum(id_counts))
    labels, identities, splits = [], [], []
    start = 0
    for k, (size, n_ids) in enumerate(zip(sizes, id_counts)):
        ids = id_pool[start:start + n_ids]
        start += n_ids
        labels.append(rng.permutation(np.repeat(np.arange(NUM_EMOTIONS), class_counts(size, weights))))
        # Each person appears about FACES_PER_IDENTITY times with a mix of expressions.
        identities.append(rng.permutation(np.resize(ids, size)))
        splits.append(np.full(size, k, dtype=np.int8))
    return np.concatenate(labels), np.concatenate(identities), np.concatenate(splits)


def class_counts(size: int, weights: np.ndarray) -> np.ndarray:
    """Split ``size`` rows over classes in proportion to ``weights`` (largest remainder, exact total)."""
    share = size * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    counts[np.argsort(-(share - counts), kind="stable")[: size - counts.sum()]] += 1
    return counts


def _distinct_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct identity ids from a large range (a new seed meets new people)."""
    ids = np.empty(0, dtype=np.int64)
    while ids.size < count:
        draw = np.concatenate([ids, rng.integers(0, 2**40, size=2 * count, dtype=np.int64)])
        _, first = np.unique(draw, return_index=True)
        ids = draw[np.sort(first)]
    return ids[:count]


def render_counterparts(dataset: FaceDataset, target_emotions: object) -> torch.Tensor:
    """Re-render a builtin dataset's rows with other emotions: uint8 [N, 1, 48, 48].

    Same person, pose, light, noise, occluder and intensity as each row; only the
    expression changes. This is the ground truth for scoring an expression edit.
    """
    info = dataset.info
    if info.get("generator") != GENERATOR_VERSION:
        found = info.get("generator", "none")
        raise ValueError(f"counterparts need a dataset made by builtin_dataset ({GENERATOR_VERSION}); "
                         f"this one has generator '{found}' (source '{dataset.source}')")
    n = len(dataset)
    if dataset.identities is None or any(
        not isinstance(info.get(key), torch.Tensor) or info[key].shape != (n,)
        for key in ("intensities", "nuisance_seeds")
    ):
        raise ValueError("the dataset lacks the per-row identities, intensities or nuisance_seeds "
                         "needed to re-render it")
    targets = emotion_indices(target_emotions, n)
    return render(dataset.identities, targets, info["intensities"], info["nuisance_seeds"],
                  nuisance=bool(info.get("nuisance", True)))
