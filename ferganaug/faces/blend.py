"""Pasting an edited face crop back into its photo at the photo's own resolution.

What is pasted is the edit, not the crop: the change (edited crop minus the crop as cut) is
mapped back through the crop's matrix, weighted by a feathered mask, and added to the photo.
The photo keeps its resolution, its colour and every detail the 48x48 edit did not touch,
and pixels outside the crop's square are left exactly as they were.
"""

from __future__ import annotations

import cv2
import numpy as np


def feather_mask(size: int, feather: float = 0.2) -> np.ndarray:
    """float32 [size, size]: 1 in the middle, falling smoothly to 0 at the border over
    ``feather`` of the side (a smoothstep of the distance to the nearest edge)."""
    ramp = max(1e-6, feather * size)
    coords = np.arange(size, dtype=np.float32) + 0.5
    edge = np.minimum(coords, size - coords)
    t = np.clip(edge / ramp, 0.0, 1.0)
    profile = t * t * (3.0 - 2.0 * t)
    return np.minimum.outer(profile, profile)


def paste_edit(
    photo: np.ndarray, matrix: np.ndarray, original_crop: np.ndarray, edited_crop: np.ndarray, feather: float = 0.2
) -> np.ndarray:
    """A copy of ``photo`` (RGB uint8) with the change from ``original_crop`` to
    ``edited_crop`` (grey uint8 [S, S], cut with ``matrix``) added to every colour channel."""
    size = original_crop.shape[0]
    change = (edited_crop.astype(np.float32) - original_crop.astype(np.float32)) * feather_mask(size, feather)
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inverse.T
    height, width = photo.shape[:2]
    x0, y0 = max(0, int(np.floor(corners[:, 0].min()))), max(0, int(np.floor(corners[:, 1].min())))
    x1, y1 = min(width, int(np.ceil(corners[:, 0].max())) + 1), min(height, int(np.ceil(corners[:, 1].max())) + 1)
    out = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # crop -> photo, shifted so the region's corner is the origin
    local = inverse.copy()
    local[:, 2] -= (x0, y0)
    region_change = cv2.warpAffine(change, local, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    region = out[y0:y1, x0:x1].astype(np.float32) + region_change[:, :, None]
    out[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)
    return out
