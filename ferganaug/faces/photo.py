"""Reading photos for face detection: any file PIL decodes, as RGB uint8 [H, W, 3]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ferganaug.data.errors import DataError
from ferganaug.data.images import image_read_errors

# PIL refuses images above about 179 million pixels as decompression bombs; a real photo of
# 8000x6000 is 48 million, so the guard stays PIL's.


class PhotoError(DataError):
    """A photo that cannot be read; the message names the file and what was wrong."""


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """The photo at ``path`` as RGB uint8 [H, W, 3], upright by its EXIF orientation.

    Grey, palette, RGBA (composited on white), CMYK and 16-bit images are converted; 16-bit
    values are scaled by the format's range (65535 -> 255), not by the image's own peak.
    """
    path = Path(path)
    with image_read_errors(path, PhotoError):
        with Image.open(path) as img:
            img.load()
            return photo_array(img)


def photo_array(img: Image.Image) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a loaded PIL image of any mode."""
    if img.getexif():
        img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.clip(np.round(np.asarray(img, dtype=np.float64) / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        grey = np.clip(np.round(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def encode_photo(rgb: np.ndarray, suffix: str) -> bytes:
    """RGB uint8 [H, W, 3] as image-file bytes: PNG for ``.png``, else JPEG at quality 92."""
    import io

    buffer = io.BytesIO()
    if suffix.lower() == ".png":
        Image.fromarray(rgb).save(buffer, format="PNG")
    else:
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
