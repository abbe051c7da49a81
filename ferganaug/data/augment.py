"""Batch augmentation on tensors: one kornia warp per batch, parameters from an explicit generator.

Every random draw comes from the ``torch.Generator`` passed in, so a batch's augmentation is
replayable from the generator's state (and resumes exactly from a checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from kornia.geometry.transform import get_affine_matrix2d, warp_affine


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = False
    rotation_deg: float = 0.0  # uniform in [-r, r]
    translate: float = 0.0  # fraction of the side, uniform in [-t, t] per axis
    scale: tuple[float, float] = (1.0, 1.0)  # zoom in > 1 acts as a random crop
    brightness: float = 0.0  # additive, uniform in [-b, b] on the [0, 1] scale
    contrast: float = 0.0  # multiplicative about the image mean, factor in [1-c, 1+c]
    erase_p: float = 0.0  # probability of one random erasing rectangle per image
    erase_area: tuple[float, float] = (0.02, 0.2)

    @property
    def is_identity(self) -> bool:
        return self == AugmentConfig()


PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "light": AugmentConfig(flip=True, translate=0.05),
    # The studies' recipe: flip, +-15 deg, +-10% shift, crop/zoom, brightness/contrast.
    "standard": AugmentConfig(
        flip=True, rotation_deg=15.0, translate=0.1, scale=(0.9, 1.15), brightness=0.1, contrast=0.2
    ),
    "strong": AugmentConfig(
        flip=True, rotation_deg=15.0, translate=0.1, scale=(0.85, 1.2), brightness=0.15,
        contrast=0.3, erase_p=0.5,
    ),
}


def preset(name: str) -> AugmentConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation preset '{name}'; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) * (high - low) + low


def augment_batch(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Augment float images [N, C, H, W] in [0, 1]; returns a new tensor, values clamped to [0, 1].

    All parameters are drawn on the CPU from ``generator`` (so the draw does not depend on
    the device) and then moved to ``x``'s device.
    """
    if config.is_identity:
        return x
    n, _, h, w = x.shape
    g = generator
    angle = _uniform(n, -config.rotation_deg, config.rotation_deg, g)
    shift = _uniform(2 * n, -config.translate, config.translate, g).view(n, 2) * torch.tensor([w, h])
    zoom = _uniform(n, *config.scale, g)
    flip = torch.rand(n, generator=g) < 0.5 if config.flip else torch.zeros(n, dtype=torch.bool)
    brightness = _uniform(n, -config.brightness, config.brightness, g)
    contrast = _uniform(n, 1 - config.contrast, 1 + config.contrast, g)
    erase = _erase_boxes(n, h, w, config, g)

    out = x
    if config.rotation_deg or config.translate or config.scale != (1.0, 1.0) or config.flip:
        center = torch.tensor([[(w - 1) / 2, (h - 1) / 2]]).expand(n, 2)
        matrix = get_affine_matrix2d(shift, center, torch.stack([zoom, zoom], dim=1), angle)
        # A horizontal flip is one more affine: mirror x about the centre, fused into the warp.
        mirror = torch.eye(3).repeat(n, 1, 1)
        mirror[flip, 0, 0] = -1.0
        mirror[flip, 0, 2] = w - 1
        matrix = (matrix @ mirror)[:, :2].to(x.device, x.dtype)
        out = warp_affine(out, matrix, (h, w), mode="bilinear", padding_mode="border", align_corners=True)
    if config.brightness or config.contrast:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        c = contrast.to(x.device, x.dtype).view(n, 1, 1, 1)
        b = brightness.to(x.device, x.dtype).view(n, 1, 1, 1)
        out = (out - mean) * c + mean + b
    if erase is not None:
        out = torch.where(erase.to(x.device), torch.full_like(out, 0.5), out)
    return out.clamp(0.0, 1.0)


def _erase_boxes(n: int, h: int, w: int, config: AugmentConfig, g: torch.Generator) -> torch.Tensor | None:
    """Boolean mask [N, 1, H, W] of one grey rectangle per chosen image (random erasing)."""
    if config.erase_p <= 0:
        return None
    chosen = torch.rand(n, generator=g) < config.erase_p
    area = _uniform(n, *config.erase_area, g) * h * w
    aspect = torch.exp(_uniform(n, math.log(0.3), math.log(3.3), g))
    eh = (area * aspect).sqrt().clamp(1, h).floor()
    ew = (area / aspect).sqrt().clamp(1, w).floor()
    top = (torch.rand(n, generator=g) * (h - eh + 1)).floor()
    left = (torch.rand(n, generator=g) * (w - ew + 1)).floor()
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    inside = (
        (rows >= top.view(n, 1, 1)) & (rows < (top + eh).view(n, 1, 1))
        & (cols >= left.view(n, 1, 1)) & (cols < (left + ew).view(n, 1, 1))
    )
    return (inside & chosen.view(n, 1, 1)).unsqueeze(1)


def to_model_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the scale every model and the GAN consume."""
    return images_uint8.float().div_(127.5).sub_(1.0)
