"""Real face photos for tests: scikit-image's astronaut (a public-domain NASA portrait that
ships in its wheel) and images composed from it."""

from __future__ import annotations

import numpy as np

ASTRONAUT_FACE = (177.0, 67.0, 93.0, 93.0)  # x, y, w, h of her face in data.astronaut()


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def face_patch(margin: int = 40) -> np.ndarray:
    """The astronaut's face with ``margin`` px of her photo around it (RGB)."""
    x, y, w, h = (int(v) for v in ASTRONAUT_FACE)
    return astronaut()[max(0, y - margin): y + h + margin, max(0, x - margin): x + w + margin].copy()


def faces_on_canvas(positions: list[tuple[int, int]], size: tuple[int, int] = (480, 640), seed: int = 0) -> np.ndarray:
    """A grey noisy canvas (height, width) with the face patch pasted with its corner at each
    (x, y) of ``positions``."""
    rng = np.random.default_rng(seed)
    canvas = rng.integers(100, 140, size=(*size, 3), dtype=np.uint8)
    patch = face_patch()
    for x, y in positions:
        canvas[y: y + patch.shape[0], x: x + patch.shape[1]] = patch
    return canvas


def faceless() -> np.ndarray:
    """A real photograph with no face in it (scikit-image's coffee cup)."""
    from skimage import data

    return data.coffee()
