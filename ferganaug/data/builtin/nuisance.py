"""Everything about a picture that is neither who nor which expression: pose, light, camera, clutter.

All of it is drawn from the face's nuisance seed (counter-based, see seeds.py), so the same
seed with another expression gives the same pose, light, noise and occluder.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ferganaug.data.builtin.draw import PIXEL, SIZE, Columns, coverage, make_grid
from ferganaug.data.builtin.seeds import seed_normals, seed_uniforms

_STREAM = 1
_NOISE_BANK_SEED = 0x5EED_0B47
_NOISE_BANK = 256  # 256 noise fields x 16 x 16 window offsets
_OCCLUDER_RATE = 0.12


def nuisance_params(seeds: torch.Tensor, enabled: bool) -> Columns:
    """Per-face nuisance as float32 columns [N, 1, 1]; with ``enabled`` False a clean studio shot."""
    n = seeds.shape[0]
    if not enabled:
        zeros, ones = torch.zeros(n, 1, 1), torch.ones(n, 1, 1)
        return dict(background=torch.full((n, 1, 1), 0.35), bg_grad=zeros, angle=zeros, scale=ones,
                    shift_x=zeros, shift_y=zeros, light_gain=zeros, light_dir=zeros, contrast=ones,
                    brightness=zeros, tone=zeros, blur=zeros, noise=zeros, occluder=zeros)
    r = seed_uniforms(seeds, stream=_STREAM, count=24)
    g = seed_normals(seeds, stream=_STREAM + 1, count=4)

    def col(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(n, 1, 1).float()

    p = {
        "background": col(0.15 + 0.7 * r[:, 0]),
        "bg_grad": col(0.3 * (r[:, 1] - 0.5)),
    }
    p.update(
        angle=col((7.0 * g[:, 0]).clamp(-14, 14) * torch.pi / 180),
        scale=col(0.9 + 0.2 * r[:, 2]),
        shift_x=col((4 * r[:, 3] - 2) * PIXEL * 1.25),
        shift_y=col((4 * r[:, 4] - 2) * PIXEL * 1.25),
        light_gain=col(0.5 * r[:, 5] ** 1.5),
        light_dir=col(2 * torch.pi * r[:, 6]),
        contrast=col(0.7 + 0.5 * r[:, 7]),
        brightness=col(0.25 * (r[:, 8] - 0.5)),
        tone=col(0.35 * g[:, 1].clamp(-2.5, 2.5)),
        blur=col(0.8 * r[:, 9] ** 1.5),
        noise=col(0.03 * r[:, 10] ** 2),
        occluder=col((r[:, 11] < _OCCLUDER_RATE).float()),
    )
    # Occluder: a hand (fingers) or a bar across part of the face.
    p.update(
        occ_x=col(1.4 * r[:, 12] - 0.7),
        occ_y=col(1.2 * r[:, 13] - 0.4),
        occ_len=col(0.3 + 0.4 * r[:, 14]),
        occ_width=col(0.12 + 0.16 * r[:, 15]),
        occ_angle=col(torch.pi * r[:, 16]),
        occ_tone=col(0.1 + 0.8 * r[:, 17]),
        occ_hand=col((r[:, 18] < 0.6).float()),
        noise_field=col(torch.floor(r[:, 19] * _NOISE_BANK)),
        noise_dx=col(torch.floor(r[:, 20] * 16)),
        noise_dy=col(torch.floor(r[:, 21] * 16)),
    )
    return p


def warp(img: torch.Tensor, p: Columns) -> torch.Tensor:
    """Rotate, scale and shift the canonical face [N, 1, H, W] (bilinear, edges extended)."""
    if not (p["angle"].any() or (p["scale"] != 1).any() or p["shift_x"].any() or p["shift_y"].any()):
        return img
    # output = scale * R @ input + t, so input = R^T (output - t) / scale; the sampling grid
    # is built from separable coordinates (cheaper than affine_grid's batched matmul).
    c, s, k = torch.cos(p["angle"]), torch.sin(p["angle"]), 1.0 / p["scale"]
    u, v = make_grid(SIZE, -1.0)
    x, y = u - p["shift_x"], v - p["shift_y"]                      # [N, 1, W], [N, H, 1]
    gx = (c * k) * x + (s * k) * y
    gy = (c * k) * y - (s * k) * x
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)


def occlude(img: torch.Tensor, p: Columns) -> torch.Tensor:
    """Paint a hand or a bar over the faces that drew an occluder (in image space, after the pose)."""
    idx = torch.nonzero(p["occluder"].flatten() > 0).flatten()
    if idx.numel() == 0:
        return img
    q = {k: v[idx] for k, v in p.items()}
    u, v = make_grid(SIZE, -1.0)
    cos, sin = torch.cos(q["occ_angle"]), torch.sin(q["occ_angle"])
    x = (u - q["occ_x"]) * cos + (v - q["occ_y"]) * sin
    y = (v - q["occ_y"]) * cos - (u - q["occ_x"]) * sin
    half_len, half_w = q["occ_len"], q["occ_width"]
    # Bar: a rounded rectangle.
    qx, qy = x.abs() - half_len, y.abs() - half_w
    bar = torch.sqrt(qx.clamp_min(0).square() + qy.clamp_min(0).square()) + torch.maximum(qx, qy).clamp_max(0)
    # Hand: four capsules side by side (fingers), the middle ones longer, with dark gaps.
    fw = half_w / 4
    k = torch.floor((y + half_w) / (2 * fw)).clamp(0, 3)
    yr = y - (-half_w + (2 * k + 1) * fw)
    flen = half_len * (1.0 - 0.18 * (k - 1.5).abs())
    hand = torch.sqrt((x.abs() - flen).clamp_min(0).square() + yr.square()) - fw * 0.92
    d = torch.where(q["occ_hand"] > 0, hand, bar)
    shade = 1.0 - 0.25 * (y / half_w).square().clamp_max(1.0)  # rounded, lit from the front
    img[idx] = img[idx].lerp((q["occ_tone"] * shade).unsqueeze(1), coverage(d).unsqueeze(1))
    return img


def photometric(img: torch.Tensor, p: Columns) -> torch.Tensor:
    """Light gradient, contrast, gamma, blur and sensor noise on images [N, 1, H, W] in [0, 1]."""
    u, v = make_grid(SIZE, -1.0)
    col = lambda t: t.unsqueeze(1)  # noqa: E731  [N, 1, 1] -> [N, 1, 1, 1]
    # Directional light times contrast, as one gain map, then brightness.
    gain = p["light_gain"] * p["contrast"]
    lit = (p["contrast"] + gain * torch.cos(p["light_dir"]) * u) + gain * torch.sin(p["light_dir"]) * v
    img = img.mul_(lit.unsqueeze(1)).add_(col(0.5 - 0.5 * p["contrast"] + p["brightness"])).clamp_(0.0, 1.0)
    # Gamma-like tone curve x + k x (1 - x): monotone for |k| < 1, and cheap.
    img = img.addcmul_(img * col(p["tone"]), 1.0 - img)
    if p["blur"].any():
        img = img.lerp_(_blur(img), col(p["blur"]))
    if p["noise"].any():
        img = img.addcmul_(col(p["noise"]), _noise(p).unsqueeze(1))
    return img.clamp_(0.0, 1.0)


def _blur(img: torch.Tensor) -> torch.Tensor:
    """Binomial blur (1-2-1 twice, sigma ~1 px) as sums of shifted slices: batch-independent."""
    for dim in (-1, -2):
        pad = F.pad(img, (1, 1, 0, 0) if dim == -1 else (0, 0, 1, 1), mode="replicate")
        a, b, c = (pad.narrow(dim, i, SIZE) for i in range(3))
        img = (a + c).mul_(0.25).add_(b, alpha=0.5)
    return img


@lru_cache(maxsize=1)
def _noise_bank() -> torch.Tensor:
    rng = np.random.default_rng(_NOISE_BANK_SEED)
    return torch.from_numpy(rng.standard_normal((_NOISE_BANK, SIZE + 16, SIZE + 16), dtype=np.float32))


def _noise(p: Columns) -> torch.Tensor:
    """A 48x48 window of a fixed noise field per face, chosen by its seed: [N, H, W]."""
    windows = _noise_bank().unfold(1, SIZE, 1).unfold(2, SIZE, 1)  # [B, 17, 17, H, W] view
    f, dy, dx = (p[k].flatten().long() for k in ("noise_field", "noise_dy", "noise_dx"))
    return windows[f, dy, dx]
