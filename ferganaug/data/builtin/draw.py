"""Soft-edged drawing primitives on a separable coordinate grid.

The canonical canvas is axis-aligned, so its coordinates are a row vector u [1, 1, W] and
a column vector v [1, H, 1]. Per-face parameters are [N, 1, 1]; anything that depends on u
alone or v alone stays [N, 1, W] or [N, H, 1], and only the final combination is a full
[N, H, W] tensor. Features are drawn inside fixed rectangles (``Region``) that bound them
for every identity and expression, so most work touches a small part of the canvas.

Shapes are signed distances turned into coverage over about one pixel, which anti-aliases
every edge; shading uses compact bumps (exactly zero outside their radius), so cutting
them at a region's edge changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SIZE = 48
PIXEL = 2.0 / SIZE  # one pixel in canvas units (the canvas spans [-1, 1])

Columns = dict[str, torch.Tensor]  # named per-face values, each [N, 1, 1]


def coverage(d: torch.Tensor, soft: float = 1.0) -> torch.Tensor:
    """Area coverage of a shape from its signed distance d (negative inside); overwrites d."""
    return d.mul_(-1.0 / (soft * PIXEL)).add_(0.5).clamp_(0.0, 1.0)


def ellipse_distance(
    u: torch.Tensor, v: torch.Tensor, cx: torch.Tensor | float, cy: torch.Tensor | float,
    a: torch.Tensor | float, b: torch.Tensor | float,
) -> torch.Tensor:
    """Approximate signed distance to an axis-aligned ellipse (implicit value over its gradient)."""
    x, y = (u - cx) / a, (v - cy) / b
    f = (x * x - 1.0) + y * y
    grad = torch.sqrt((x / a).square().mul_(4.0) + (y / b).square().mul_(4.0)).clamp_min_(1e-3)
    return f.div_(grad)


def bump(x: torch.Tensor, centre: torch.Tensor | float, radius: torch.Tensor | float) -> torch.Tensor:
    """Smooth compact bump (1 - r^2)^2 for |r| < 1, r = (x - centre) / radius; zero outside."""
    r2 = ((x - centre) / radius).square()
    return (1.0 - r2).clamp_min_(0.0).square_()


def smoothstep(x: torch.Tensor) -> torch.Tensor:
    """0 below 0, 1 above 1, a smooth cubic in between (a soft edge with compact support)."""
    x = x.clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def darken(img: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """img *= 1 - amount: shadows and creases keep the underlying tone."""
    return img.addcmul_(img, amount, value=-1.0)


def paint(img: torch.Tensor, colour: torch.Tensor | float, alpha: torch.Tensor) -> torch.Tensor:
    """Composite a colour over the image with per-pixel alpha (painter's algorithm)."""
    if not isinstance(colour, torch.Tensor):
        colour = torch.tensor(colour, dtype=img.dtype)
    return img.lerp_(colour, alpha)


@dataclass
class Region:
    """A rectangle of the canvas: a view of its pixels and their coordinates."""

    img: torch.Tensor  # [N, rows, cols] view: painting it paints the canvas
    u: torch.Tensor    # [1, 1, cols]
    v: torch.Tensor    # [1, rows, 1]
    rows: slice
    cols: slice

    def crop(self, t: torch.Tensor) -> torch.Tensor:
        """The same rectangle of another per-pixel map of the canvas ([N, H, W])."""
        return t[:, self.rows, self.cols]


def make_grid(width: int, u_start: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates: u for ``width`` columns starting at u_start, v for SIZE rows."""
    u = u_start + (torch.arange(width, dtype=torch.float32) + 0.5) * PIXEL
    v = -1.0 + (torch.arange(SIZE, dtype=torch.float32) + 0.5) * PIXEL
    return u.view(1, 1, -1), v.view(1, -1, 1)


def region(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
           u0: float, u1: float, v0: float, v1: float) -> Region:
    """The pixels of the canvas (img, u, v) whose centres lie in [u0, u1] x [v0, v1]."""
    cols = torch.nonzero((u.flatten() >= u0) & (u.flatten() <= u1)).flatten()
    rows = torch.nonzero((v.flatten() >= v0) & (v.flatten() <= v1)).flatten()
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    return Region(img[:, r0:r1, c0:c1], u[:, :, c0:c1], v[:, r0:r1], slice(r0, r1), slice(c0, c1))
