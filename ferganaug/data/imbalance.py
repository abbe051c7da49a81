"""Tools against class imbalance: loss weights, logit adjustment and a seeded class-balanced
sampler (optionally holding synthetic faces to a fixed share of each emotion's draws)."""

from __future__ import annotations

import math
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


def logit_adjustment(counts: Sequence[int], tau: float) -> torch.Tensor:
    """``tau * log(prior)`` per class, added to the logits in the training loss only
    (Menon et al. 2021, "Long-tail learning via logit adjustment"); prediction keeps the plain
    logits, which shifts decisions towards rare classes.

    prior = n_c / N. A class with no training examples gets the prior of half an example
    (0.5 / N): below every class that has examples, and finite, so the loss stays finite.
    """
    if not 0 <= tau < math.inf:
        raise ValueError(f"logit adjustment tau must be a finite number >= 0, got {tau}")
    counts_t = torch.as_tensor(list(counts), dtype=torch.float64)
    if (counts_t < 0).any() or counts_t.sum() <= 0:
        raise ValueError(f"cannot estimate a class prior from counts {counts_t.long().tolist()}")
    prior = counts_t.clamp(min=0.5) / counts_t.sum()
    return (tau * prior.log()).float()


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


def balanced_draw_weights(
    labels: torch.Tensor, synthetic: torch.Tensor | None = None, synthetic_share: float | None = None
) -> torch.Tensor:
    """Per-row draw weights under which every present class carries the same mass (1).

    Without ``synthetic_share`` every row of a class is equally likely. With it, a class that
    has both real and synthetic rows gives ``synthetic_share`` of its mass to its synthetic rows
    (``synthetic``: bool per row) and the rest to its real rows, each kind shared equally; a
    class with only one kind gives that kind all of its mass.
    """
    counts = torch.bincount(labels).double()
    if synthetic_share is None:
        return (1.0 / counts)[labels]
    synthetic = synthetic.bool()
    n_syn = torch.bincount(labels[synthetic], minlength=len(counts)).double()
    n_real = counts - n_syn
    share = torch.full_like(counts, float(synthetic_share))
    share = torch.where(n_syn == 0, 0.0, torch.where(n_real == 0, 1.0, share))
    # Classes without rows of a kind divide by zero here, but no row reads those entries.
    per_syn, per_real = share / n_syn, (1.0 - share) / n_real
    return torch.where(synthetic, per_syn[labels], per_real[labels])


class BatchSampler:
    """Index batches over an in-memory dataset: shuffled, or class-balanced with replacement.

    Balanced mode draws each example with probability proportional to 1 / (its class count),
    so every class is equally likely per draw; an epoch has as many draws as examples. With
    ``synthetic_share`` (balanced mode only), a draw of a class that has synthetic rows
    (``synthetic``: bool per row) is a synthetic one with that probability, so synthetic faces
    cannot crowd the real ones out of a minority class (see :func:`balanced_draw_weights`).
    Randomness comes only from ``generator``, whose state is part of a checkpoint.
    """

    def __init__(
        self,
        labels: torch.Tensor,
        batch_size: int,
        generator: torch.Generator,
        balanced: bool = False,
        drop_last: bool = False,
        synthetic: torch.Tensor | None = None,
        synthetic_share: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if synthetic_share is not None:
            _check_synthetic_share(labels, balanced, synthetic, synthetic_share)
        self.n = int(labels.shape[0])
        self.batch_size = batch_size
        self.generator = generator
        self.balanced = balanced
        self.drop_last = drop_last
        if balanced:
            self.weights = balanced_draw_weights(labels, synthetic, synthetic_share)

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


def _check_synthetic_share(labels: torch.Tensor, balanced: bool, synthetic: torch.Tensor | None,
                           share: float) -> None:
    if not 0.0 <= share <= 1.0:  # also refuses nan
        raise ValueError(f"synthetic_share must be in [0, 1], got {share}")
    if not balanced:
        raise ValueError("synthetic_share applies to the class-balanced sampler only (balanced=True)")
    if synthetic is None or synthetic.shape != labels.shape:
        raise ValueError("synthetic_share needs a synthetic mask with one entry per row")
