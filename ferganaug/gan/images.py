"""Writing faces and grids as PNG (PIL; no matplotlib on these paths: they must be fast)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

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


MIN_TILE = 96  # px: smaller faces are upscaled until the face reads at the size of its label
FONT_SIZE = 14
PAD = 6  # px of white around every label
MAX_ROW_LABEL = 240  # px: longer row labels (file names) are shortened in the middle
_GAP = 2  # white px between tiles before scaling, as in grid_canvas


@dataclass(frozen=True)
class GridLayout:
    """Where the tiles of a labelled grid lie: the tile area starts at (left, top)."""

    scale: int
    left: int  # width of the row-label margin
    top: int  # height of the title and header bands
    tile_h: int
    tile_w: int

    def tile_origin(self, row: int, col: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of tile (row, col)."""
        return (self.left + (_GAP + col * (self.tile_w + _GAP)) * self.scale,
                self.top + (_GAP + row * (self.tile_h + _GAP)) * self.scale)


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=FONT_SIZE)  # Pillow >= 10.1: its built-in scalable font
    except TypeError:
        return ImageFont.load_default()  # older Pillow: the built-in bitmap font


def _text_size(draw: ImageDraw.ImageDraw, text: str) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=_font())
    return right - left, bottom - top


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """The text, shortened in the middle (keeping both ends, e.g. a file's extension) to fit."""
    if _text_size(draw, text)[0] <= width:
        return text
    for keep in range(len(text) - 1, 0, -1):
        short = text[: (keep + 1) // 2] + "..." + text[len(text) - keep // 2:]
        if _text_size(draw, short)[0] <= width:
            return short
    return "..."


def _wrap(draw: ImageDraw.ImageDraw, text: str, width: int) -> list[str]:
    """The text broken between words into lines that fit width (a word wider than that alone is
    shortened by _fit), so a title over a narrow sheet is read whole."""
    lines: list[str] = []
    for word in text.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and _text_size(draw, joined)[0] <= width:
            lines[-1] = joined
        else:
            lines.append(_fit(draw, word, width))
    return lines or [""]


def _draw_text(draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], align: str = "centre") -> None:
    """Draw text vertically centred in box, horizontally centred or flush right."""
    left, _, right, _ = draw.textbbox((0, 0), text, font=_font())
    _, top, _, bottom = draw.textbbox((0, 0), "Ag", font=_font())  # one line box: labels share a baseline
    x0, y0, x1, y1 = box
    x = x1 - right if align == "right" else (x0 + x1 - (right - left)) // 2 - left
    draw.text((x, (y0 + y1 - (bottom - top)) // 2 - top), text, fill=0, font=_font())


def _check_labels(grid: torch.Tensor, row_labels: Sequence[str], col_labels: Sequence[str]) -> None:
    if grid.dim() != 4:
        raise ValueError(f"a grid is uint8 [rows, cols, H, W]; got shape {tuple(grid.shape)}")
    rows, cols = grid.shape[:2]
    if len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for a grid of {rows} rows: expected {rows}")
    if len(col_labels) != cols:
        raise ValueError(f"{len(col_labels)} column labels for a grid of {cols} columns: expected {cols}")


def labelled_grid(
    grid: torch.Tensor, row_labels: Sequence[str], col_labels: Sequence[str], title: str | None = None,
    scale: int = 2,
) -> tuple[Image.Image, GridLayout]:
    """uint8 [rows, cols, H, W] -> the tiled faces under a header naming each column, beside a
    margin naming each row, below the optional title; with where the tiles lie."""
    _check_labels(grid, row_labels, col_labels)
    h, w = grid.shape[-2:]
    scale = max(scale, math.ceil(MIN_TILE / min(h, w)))
    tiles = Image.fromarray(grid_canvas(grid, _GAP).numpy(), mode="L")
    tiles = tiles.resize((tiles.width * scale, tiles.height * scale), Image.NEAREST)

    measure = ImageDraw.Draw(tiles)
    pitch = (w + _GAP) * scale
    cols = [_fit(measure, str(label), pitch - PAD) for label in col_labels]
    rows = [_fit(measure, str(label), MAX_ROW_LABEL) for label in row_labels]
    line = max(_text_size(measure, text)[1] for text in [*cols, *rows, "Ag"]) + 2 * PAD
    left = max(_text_size(measure, text)[0] for text in rows) + 2 * PAD
    width = left + tiles.width
    title_lines = _wrap(measure, title, width - 2 * PAD) if title else []
    title_band = line * len(title_lines)
    layout = GridLayout(scale, left, title_band + line, h, w)

    image = Image.new("L", (width, layout.top + tiles.height), 255)
    image.paste(tiles, (left, layout.top))
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(title_lines):
        _draw_text(draw, text, (0, i * line, width, (i + 1) * line))
    for c, text in enumerate(cols):
        x, _ = layout.tile_origin(0, c)
        _draw_text(draw, text, (x, title_band, x + w * scale, layout.top))
    for r, text in enumerate(rows):
        _, y = layout.tile_origin(r, 0)
        _draw_text(draw, text, (0, y, left - PAD, y + h * scale), align="right")
    return image, layout


def save_labelled_grid(
    grid: torch.Tensor, path: str | Path, row_labels: Sequence[str], col_labels: Sequence[str],
    title: str | None = None, scale: int = 2,
) -> None:
    """uint8 [rows, cols, H, W] -> one PNG whose rows and columns are named (see labelled_grid);
    faces smaller than MIN_TILE px are upscaled beyond ``scale`` so they stay legible."""
    image, _ = labelled_grid(grid, row_labels, col_labels, title, scale)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # written every few hundred steps: favour speed
    atomic_write_bytes(path, buffer.getvalue())
