"""Two-sample classifier test (Lopez-Paz and Oquab 2017): how far synthetic faces are from real
ones in the terms that matter to a recogniser.

A small CNN, always the same one, learns to tell real from synthetic faces on half of a
balanced sample and is scored on the other half. 50% held-out accuracy means it found nothing
that separates them; 100% means every synthetic face gives itself away. A weak or briefly
trained critic can only miss differences, never invent them, so the accuracy is a lower bound
on how distinguishable the two sets are.

Layer 0, torch only: faces in (uint8 [N, 1, H, W]), numbers out. Deterministic for a seed on a
given machine: the sample, the split, the initial weights and the batches all come from it, it
runs on one thread whatever the caller's setting, and the global random state is left as it was.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ferganaug.utils.threads import torch_threads

MAX_PER_SIDE = 1000  # faces per side at most: 1,000 held out give an interval of about +-3 points
# Measured on the built-in faces (300 a side, seeds 0-2): a checkerboard corner mark and a 3x3 blur
# are found at 100% after 100 steps at 3e-3, two halves of the same faces stay at 49-50%. The time
# is set by the steps: about 1.2 s a test on one busy core, 24 or 1,000 faces a side.
STEPS = 100
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
Z_95 = 1.959963984540054  # the two-sided 95% quantile of the standard normal


@dataclass(frozen=True)
class TwoSampleResult:
    """Held-out accuracy of the critic with a 95% Wilson interval; ``n_held_out`` faces were
    scored, half of them real; ``n_per_side`` faces of each set were used in all."""

    accuracy: float
    low: float
    high: float
    n_held_out: int
    n_per_side: int

    def to_dict(self) -> dict:
        return asdict(self)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion: unlike the normal approximation it
    stays inside [0, 1] and keeps its coverage near 0% and 100%."""
    if trials < 1:
        raise ValueError(f"a binomial interval needs at least one trial, got {trials}")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _critic(height: int, width: int) -> nn.Module:
    """Three stride-2 convolutions and a linear read-out of the whole map, so that where a
    difference sits on the face counts as well as what it is."""
    widths = (1, 8, 16, 32)
    layers: list[nn.Module] = []
    for c_in, c_out in zip(widths, widths[1:]):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        height, width = (height + 1) // 2, (width + 1) // 2  # stride 2, padding 1: half, rounded up
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(widths[-1] * height * width, 1))


def _balanced_split(n_real: int, n_synthetic: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Row indices (real train, synthetic train, real held-out, synthetic held-out): ``n`` random
    faces of each set, the first half of each for training, the rest held out."""
    real = torch.randperm(n_real, generator=g)[:n]
    synthetic = torch.randperm(n_synthetic, generator=g)[:n]
    half = n // 2
    return real[:half], synthetic[:half], real[half:], synthetic[half:]


def _faces_and_labels(real: torch.Tensor, synthetic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Model inputs in [-1, 1] with label 0 for real and 1 for synthetic faces."""
    faces = torch.cat([real, synthetic]).float() / 127.5 - 1
    labels = torch.cat([torch.zeros(len(real)), torch.ones(len(synthetic))])
    return faces, labels


def _train(critic: nn.Module, faces: torch.Tensor, labels: torch.Tensor, g: torch.Generator) -> None:
    optimiser = torch.optim.Adam(critic.parameters(), lr=LEARNING_RATE)
    critic.train()
    for _ in range(STEPS):
        batch = torch.randint(len(faces), (min(BATCH_SIZE, len(faces)),), generator=g)
        loss = nn.functional.binary_cross_entropy_with_logits(critic(faces[batch]).squeeze(1), labels[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


@torch.no_grad()
def _correct(critic: nn.Module, faces: torch.Tensor, labels: torch.Tensor) -> int:
    critic.eval()
    predicted = torch.cat([critic(faces[i : i + 256]).squeeze(1) > 0 for i in range(0, len(faces), 256)])
    return int((predicted == labels.bool()).sum())


def two_sample_accuracy(real: torch.Tensor, synthetic: torch.Tensor, seed: int = 0,
                        max_per_side: int = MAX_PER_SIDE) -> TwoSampleResult:
    """Train the fixed critic to tell ``synthetic`` from ``real`` faces (uint8 [N, 1, H, W]) on
    half of an equal number of each (at most ``max_per_side``, drawn at random) and score it
    on the other half."""
    if real.shape[1:] != synthetic.shape[1:] or real.dim() != 4:
        raise ValueError(f"expected two sets of faces [N, 1, H, W] of the same size, got {tuple(real.shape)} "
                         f"and {tuple(synthetic.shape)}")
    n = min(len(real), len(synthetic), max_per_side)
    if n < 2:
        raise ValueError(f"the two-sample test needs at least 2 faces in each set, got {len(real)} real and "
                         f"{len(synthetic)} synthetic")
    g = torch.Generator().manual_seed(seed)
    real_train, synthetic_train, real_held, synthetic_held = _balanced_split(len(real), len(synthetic), n, g)
    with torch.random.fork_rng(devices=[]):  # the critic's initial weights, without moving the caller's state
        torch.manual_seed(seed)
        critic = _critic(*real.shape[2:])
    held_faces, held_labels = _faces_and_labels(real[real_held], synthetic[synthetic_held])
    with torch_threads(1):  # one thread: faster when cores are shared, and the same sums whatever the caller uses
        _train(critic, *_faces_and_labels(real[real_train], synthetic[synthetic_train]), g)
        correct = _correct(critic, held_faces, held_labels)
    low, high = wilson_interval(correct, len(held_labels))
    return TwoSampleResult(correct / len(held_labels), low, high, len(held_labels), n)
