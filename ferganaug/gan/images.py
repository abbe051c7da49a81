"""Writing faces and grids as PNG (PIL; no matplotlib on these paths: they must be fast)."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image

from ferganaug.utils.files import atomic_write_bytes


def png_bytes(face: torch.Tensor) -> bytes:
    """uint8 [1, H, W] or [H, W] -> PNG bytes (8-bit grey)."""
    array = face.reshape(face.shape[-2], face.shape[-1]).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array, mode="L").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def save_face_png(face: torch.Tensor, path: str | Path) -> None:
    atomic_write_bytes(path, png_bytes(face))


def grid_canvas(grid: torch.Tensor, gap: int = 2) -> torch.Tensor:
    """uint8 [rows, cols, H, W] -> one uint8 image with the faces tiled between white gaps."""
    rows, cols, h, w = grid.shape
    canvas = torch.full((rows * (h + gap) + gap, cols * (w + gap) + gap), 255, dtype=torch.uint8)
    for r in range(rows):
        for c in range(cols):
            top, left = gap + r * (h + gap), gap + c * (w + gap)
            canvas[top : top + h, left : left + w] = grid[r, c]
    return canvas


def save_grid_png(grid: torch.Tensor, path: str | Path, scale: int = 2, gap: int = 2) -> None:
    """uint8 [rows, cols, H, W] -> one PNG with white gaps, upscaled for viewing."""
    image = Image.fromarray(grid_canvas(grid, gap).numpy(), mode="L")
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
