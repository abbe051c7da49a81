"""Tools against class imbalance: loss weights and a seeded class-balanced sampler."""

from __future__ import annotations

from typing import Sequence

import torch


def class_weights(
    counts: Sequence[int], mode: str | Sequence[float], beta: float = 0.999
) -> torch.Tensor:
    """Per-class loss weights, normalised so that their count-weighted mean is 1.

    ``mode``: ``"inverse"`` (1 / n_c), ``"effective"`` (Cui et al. 2019, (1 - beta) / (1 - beta^n_c)),
    or an explicit list of weights (used as given, not renormalised, so a study's printed
    weights are reproduced exactly).
    """
    counts_t = torch.as_tensor(list(counts), dtype=torch.float64)
    if not isinstance(mode, str):
        weights = torch.as_tensor(list(mode), dtype=torch.float32)
        if weights.shape != counts_t.shape:
            raise ValueError(f"expected {len(counts_t)} class weights, got {len(weights)}")
        if (weights < 0).any() or not torch.isfinite(weights).all():
            raise ValueError("class weights must be finite and non-negative")
        return weights
    if (counts_t == 0).any():
        missing = [i for i, c in enumerate(counts_t.tolist()) if c == 0]
        raise ValueError(f"cannot weight classes with no training examples (class indices {missing})")
    if mode == "inverse":
        raw = 1.0 / counts_t
    elif mode == "effective":
        if not 0.0 <= beta < 1.0:
            raise ValueError("beta must be in [0, 1)")
        raw = (1.0 - beta) / (1.0 - beta**counts_t)
    else:
        raise ValueError(f"unknown class-weight mode '{mode}'; expected inverse, effective or a list")
    weights = raw * counts_t.sum() / (raw * counts_t).sum()
    return weights.float()


def parse_class_weights(text: str | None) -> str | tuple[float, ...] | None:
    """CLI form: 'none', 'inverse', 'effective' or comma-separated numbers."""
    if text is None or text == "none":
        return None
    if text in ("inverse", "effective"):
        return text
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(
            f"invalid class weights '{text}'; expected none, inverse, effective or numbers like 1,2,1,1,1,1,1"
        ) from None


class BatchSampler:
    """Index batches over an in-memory dataset: shuffled, or class-balanced with replacement.

    Balanced mode draws each example with probability proportional to 1 / (its class count),
    so every class is equally likely per draw; an epoch has as many draws as examples.
    Randomness comes only from ``generator``, whose state is part of a checkpoint.
    """

    def __init__(
        self,
        labels: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        balanced: bool = False,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.n = int(labels.shape[0])
        self.batch_size = batch_size
        self.generator = generator
        self.balanced = balanced
        self.drop_last = drop_last
        if balanced:
            counts = torch.bincount(labels).double()
            self.weights = (1.0 / counts)[labels]

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def epoch_order(self) -> torch.Tensor:
        if self.balanced:
            return torch.multinomial(self.weights, self.n, replacement=True, generator=self.generator)
        return torch.randperm(self.n, generator=self.generator)

    def __iter__(self):
        order = self.epoch_order()
        for i in range(len(self)):
            yield order[i * self.batch_size : (i + 1) * self.batch_size]
