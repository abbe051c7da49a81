"""Boxes and labels drawn on photos and video frames."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ferganaug.faces.detect import Face

BOX_COLOUR = (255, 200, 0)  # RGB: amber reads on light and dark backgrounds alike
TEXT_COLOUR = (0, 0, 0)


def draw_faces(rgb: np.ndarray, faces: Sequence[Face], labels: Sequence[str]) -> np.ndarray:
    """A copy of ``rgb`` with each face's box and its label on a filled strip above it."""
    out = rgb.copy()
    scale = max(0.4, min(2.0, max(rgb.shape[:2]) / 800))
    thickness = max(1, round(2 * scale))
    for face, label in zip(faces, labels):
        x, y, w, h = (round(v) for v in face.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX_COLOUR, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thickness - 1))
        top = y - th - base - 2 if y - th - base - 2 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 2), BOX_COLOUR, cv2.FILLED)
        cv2.putText(out, label, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOUR,
                    max(1, thickness - 1), cv2.LINE_AA)
    return out
