"""Aligned face crops: a square around each face with a margin, upright by the eye line when
the detector gives landmarks, at the recognisers' input (48x48 grey).

Each crop comes with its affine matrix (photo pixels -> crop pixels), so an edit of the crop
can be pasted back (:mod:`ferganaug.faces.blend`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ferganaug.data.dataset import IMAGE_SIZE
from ferganaug.faces.detect import Face, eye_angle

# FER2013's faces are framed about as tightly as a Haar box; a small margin keeps the chin and
# brows of a tighter detector's box in view.
DEFAULT_MARGIN = 0.1


def crop_matrix(face: Face, size: int = IMAGE_SIZE, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The 2x3 affine map from photo pixels to a ``size`` x ``size`` crop: the box's centre to
    the crop's centre, the box's long side plus ``margin`` on each side to the crop's side,
    rotated so that the eyes lie level."""
    x, y, w, h = face.box
    centre = (x + w / 2.0, y + h / 2.0)
    side = max(w, h) * (1.0 + 2.0 * margin)
    matrix = cv2.getRotationMatrix2D(centre, eye_angle(face), size / side)
    matrix[:, 2] += (size / 2.0 - centre[0], size / 2.0 - centre[1])
    return matrix


def warp_crop(rgb: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The crop that ``matrix`` maps out of ``rgb``, antialiased: a face much larger than the
    crop is first shrunk with area averaging (warpAffine alone would alias), cutting only the
    region the crop covers, so a huge photo is never resampled whole."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) @ inverse.T
    height, width = rgb.shape[:2]
    x0, y0 = (max(0, int(np.floor(corners[:, i].min())) - 1) for i in (0, 1))
    x1 = min(width, int(np.ceil(corners[:, 0].max())) + 2)
    y1 = min(height, int(np.ceil(corners[:, 1].max())) + 2)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the photo
        region, x0, y0 = rgb[:1, :1], 0, 0
    else:
        region = rgb[y0:y1, x0:x1]
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))  # crop pixels per photo pixel
    shrink = min(1.0, 2.0 * scale)
    if shrink < 1.0:
        rh, rw = region.shape[:2]
        region = cv2.resize(region, (max(1, round(rw * shrink)), max(1, round(rh * shrink))), interpolation=cv2.INTER_AREA)
    # photo = region / shrink + offset, so crop = matrix @ (region / shrink + offset)
    to_photo = np.array([[1.0 / shrink, 0, x0], [0, 1.0 / shrink, y0], [0, 0, 1]])
    local = matrix @ to_photo
    return cv2.warpAffine(region, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_faces(
    rgb: np.ndarray, faces: list[Face], size: int = IMAGE_SIZE, margin: float = DEFAULT_MARGIN
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Grey uint8 crops [N, size, size] of ``faces`` in ``rgb`` and their photo->crop matrices."""
    crops = np.empty((len(faces), size, size), dtype=np.uint8)
    matrices = []
    for i, face in enumerate(faces):
        matrix = crop_matrix(face, size, margin)
        crops[i] = cv2.cvtColor(warp_crop(rgb, matrix, size), cv2.COLOR_RGB2GRAY)
        matrices.append(matrix)
    return crops, matrices
