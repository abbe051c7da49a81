"""Render 48x48 greyscale faces from identity, expression (action units) and nuisance.

Pipeline per chunk of faces: identity parameters (identity.py) and action units
(expression.py) -> feature geometry (geometry.py) -> the face drawn upright in a canonical
frame (face.py) -> pose, occluder, light and camera effects in image space (nuisance.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ferganaug.data.builtin.draw import SIZE
from ferganaug.data.builtin.expression import ACTION_UNITS, action_units, emotion_indices
from ferganaug.data.builtin.face import draw_hair, draw_half_face
from ferganaug.data.builtin.geometry import face_geometry
from ferganaug.data.builtin.identity import identity_table
from ferganaug.data.builtin.nuisance import nuisance_params, occlude, photometric, warp
from ferganaug.utils.threads import torch_threads

GENERATOR_VERSION = "builtin-v1"
_CHUNK = 256  # faces per pass: buffers stay small (large ones page-fault on every allocation)
_ALIGN = 32  # faces; a multiple of every CPU vector width (in floats, times the unroll)


def render(
    identity_ids: Sequence[int] | torch.Tensor | np.ndarray,
    emotions: object,
    intensities: Sequence[float] | torch.Tensor | np.ndarray | float | None = None,
    nuisance_seeds: Sequence[int] | torch.Tensor | np.ndarray | None = None,
    nuisance: bool = True,
) -> torch.Tensor:
    """Faces as uint8 [N, 1, 48, 48], deterministic in its arguments.

    ``emotions``: canonical indices or names (one per face, or one for all). ``intensities``
    scale the emotion's action units (default 1.0). ``nuisance_seeds`` fix pose, light,
    noise, occluder and the face's personal expression style (default: the row number).
    With ``nuisance=False`` faces are upright, evenly lit, clean prototypes.
    The same identity, intensity and seed with another emotion renders the ground-truth
    counterpart of an expression edit: only the expression differs.
    """
    ids = _int_column(identity_ids, None, "identity_ids")
    n = ids.shape[0]
    emo = emotion_indices(emotions, n)
    inten = _float_column(1.0 if intensities is None else intensities, n, "intensities")
    seeds = (torch.arange(n, dtype=torch.int64) if nuisance_seeds is None
             else _int_column(nuisance_seeds, n, "nuisance_seeds"))
    if (ids < 0).any():
        raise ValueError("identity_ids must be non-negative")
    if not torch.isfinite(inten).all() or (inten < 0).any():
        raise ValueError("intensities must be finite and non-negative")
    out = torch.empty(n, 1, SIZE, SIZE, dtype=torch.uint8)
    with torch.no_grad(), torch_threads(1):
        for s in range(0, n, _CHUNK):
            e = min(n, s + _CHUNK)
            # Pad every chunk to a multiple of _ALIGN faces (repeating the last): vectorised
            # kernels finish a tensor's ragged tail with scalar code (last-bit differences
            # in sin, pow, exp); with no tail a face renders the same in any batch position.
            rows = torch.arange(s, s + math.ceil((e - s) / _ALIGN) * _ALIGN).clamp_max(n - 1)
            out[s:e] = _render_chunk(ids[rows], emo[rows], inten[rows], seeds[rows], nuisance)[: e - s]
    return out


def _render_chunk(ids: torch.Tensor, emo: torch.Tensor, inten: torch.Tensor, seeds: torch.Tensor,
                  nuisance: bool) -> torch.Tensor:
    p = identity_table(ids)
    aus = action_units(emo, inten, seeds, variation=nuisance)
    g = face_geometry(p, {name: aus[:, i].view(-1, 1, 1) for i, name in enumerate(ACTION_UNITS)})
    nz = nuisance_params(seeds, nuisance)
    half = draw_half_face(p, g, nz)
    full = torch.cat([half.flip(-1), half], dim=-1)
    draw_hair(full, p)
    img = warp(full.unsqueeze(1), nz)
    img = occlude(img, nz)
    img = photometric(img, nz)
    return img.mul_(255.0).round_().to(torch.uint8)


def _int_column(values: object, n: int | None, name: str) -> torch.Tensor:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool) and n is not None:
        return torch.full((n,), int(values), dtype=torch.int64)
    try:
        t = torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a sequence of integers: {err}") from None
    if t.numel() == 0:
        t = t.to(torch.int64)  # an empty list comes back as float32
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be integers, got {t.dtype}")
    t = t.reshape(-1).to(torch.int64)
    if n is not None and t.shape[0] != n:
        raise ValueError(f"got {t.shape[0]} {name} for {n} identities; pass one per face")
    return t


def _float_column(values: object, n: int, name: str) -> torch.Tensor:
    try:
        t = torch.as_tensor(values, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be numbers: {err}") from None
    if t.dim() == 0:
        return t.expand(n).clone()
    t = t.reshape(-1)
    if t.shape[0] != n:
        raise ValueError(f"got {t.shape[0]} {name} for {n} identities; pass one per face or a single value")
    return t
