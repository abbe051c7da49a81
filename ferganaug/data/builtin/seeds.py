"""Counter-based random numbers: per-face draws that depend only on (seed, stream).

A face's nuisance must not depend on which other faces share its batch, or re-rendering
one row (an expression counterpart) would not reproduce it. splitmix64 on numpy uint64
(whose overflow wraps by definition) gives that with no per-face generator objects.
"""

from __future__ import annotations

import numpy as np
import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        return z ^ (z >> np.uint64(31))


def seed_uniforms(seeds: torch.Tensor, stream: int, count: int) -> torch.Tensor:
    """Uniforms in [0, 1), float32 [N, count]; ``stream`` separates independent uses of a seed."""
    s = seeds.detach().cpu().numpy().astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        base = _splitmix64(s ^ _splitmix64(np.full(1, stream, dtype=np.uint64)))
        keys = base[:, None] + np.arange(1, count + 1, dtype=np.uint64)[None, :] * _GOLDEN
    bits = _splitmix64(keys) >> np.uint64(11)
    return torch.from_numpy((bits.astype(np.float64) / 2.0**53).astype(np.float32))


def seed_normals(seeds: torch.Tensor, stream: int, count: int) -> torch.Tensor:
    """Standard normals, float32 [N, count] (Box-Muller on two uniform streams)."""
    u = seed_uniforms(seeds, stream, 2 * count).double()
    u1, u2 = u[:, :count].clamp_min(1e-12), u[:, count:]
    return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2 * torch.pi * u2)).float()
