"""Expressions as FACS-like action-unit (AU) intensities, one prototype per emotion.

Prototypes follow the EMFACS descriptions; classes share AUs on purpose (fear and surprise
both raise the brows and drop the jaw, disgust and anger both lower the brows), so subtle
faces overlap as they do in real data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ferganaug.data.builtin.seeds import seed_normals, seed_uniforms
from ferganaug.emotions import EMOTIONS, NUM_EMOTIONS, emotion_index

ACTION_UNITS: tuple[str, ...] = (
    "AU1",   # inner brow raise
    "AU2",   # outer brow raise
    "AU4",   # brow lower
    "AU5",   # upper lid raise
    "AU6",   # cheek raise
    "AU7",   # lid tighten
    "AU9",   # nose wrinkle
    "AU10",  # upper-lip raise
    "AU12",  # lip-corner pull
    "AU15",  # lip-corner depress
    "AU20",  # lip stretch
    "AU24",  # lip press
    "AU26",  # jaw drop (AU27 mouth stretch at the top of the range)
)
AU_INDEX: dict[str, int] = {name: i for i, name in enumerate(ACTION_UNITS)}

_PROTOTYPE_AUS: dict[str, dict[str, float]] = {
    "angry": {"AU4": 1.0, "AU5": 0.45, "AU7": 0.8, "AU24": 0.85},
    "disgust": {"AU9": 1.0, "AU10": 0.9, "AU15": 0.45, "AU4": 0.45, "AU7": 0.25},
    "fear": {"AU1": 1.0, "AU2": 0.6, "AU4": 0.55, "AU5": 1.0, "AU20": 1.0, "AU26": 0.55},
    "happy": {"AU6": 0.9, "AU12": 1.0},
    "sad": {"AU1": 0.9, "AU4": 0.6, "AU15": 1.0},
    "surprise": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 1.0},
    "neutral": {},
}


def prototype_matrix() -> torch.Tensor:
    """AU intensities at full strength, float32 [7, len(ACTION_UNITS)] in canonical emotion order."""
    table = torch.zeros(NUM_EMOTIONS, len(ACTION_UNITS))
    for e, name in enumerate(EMOTIONS):
        for au, value in _PROTOTYPE_AUS[name].items():
            table[e, AU_INDEX[au]] = value
    return table


def emotion_indices(emotions: object, n: int) -> torch.Tensor:
    """Canonical indices int64 [n] from names or indices; a single name or index is broadcast."""
    if isinstance(emotions, (str, int, np.integer)):
        emotions = [emotions] * n
    if isinstance(emotions, np.ndarray) and emotions.dtype.kind in "UO":
        emotions = emotions.tolist()  # an array of names
    if isinstance(emotions, torch.Tensor | np.ndarray):
        values = torch.as_tensor(emotions)
        values = values.expand(n) if values.dim() == 0 else values.reshape(-1)
        if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
            raise ValueError(f"emotion indices must be integers, got {values.dtype}")
        out = values.to(torch.int64)
    elif isinstance(emotions, Sequence):
        out = torch.tensor([_one_emotion(e) for e in emotions], dtype=torch.int64)
    else:
        raise ValueError(f"emotions must be names or indices, got {type(emotions).__name__}")
    if out.numel() != n:
        raise ValueError(f"got {out.numel()} emotions for {n} identities; pass one per face or a single one")
    bad = (out < 0) | (out >= NUM_EMOTIONS)
    if bad.any():
        raise ValueError(f"emotion index {int(out[bad][0])} out of range 0..{NUM_EMOTIONS - 1} "
                         f"({', '.join(EMOTIONS)})")
    return out


def _one_emotion(e: object) -> int:
    if isinstance(e, str):
        return emotion_index(e)  # UnknownEmotionError (a ValueError) lists the valid names
    if isinstance(e, (int, np.integer)) and not isinstance(e, bool):
        return int(e)
    raise ValueError(f"an emotion must be a name or an index, got {e!r}")


def action_units(
    emotions: torch.Tensor, intensities: torch.Tensor, seeds: torch.Tensor, variation: bool = True
) -> torch.Tensor:
    """AU intensities float32 [N, len(ACTION_UNITS)] for canonical emotion indices.

    With ``variation`` each face also gets a personal take on the prototype (AU gains
    around 1) and faint stray AUs, both drawn from its nuisance seed: an expression edit of
    the same face keeps them, so counterparts differ only by the emotion.
    """
    aus = prototype_matrix()[emotions] * intensities.view(-1, 1)
    if variation:
        k = len(ACTION_UNITS)
        gains = torch.exp(0.22 * seed_normals(seeds, stream=101, count=k))
        stray = 0.14 * seed_uniforms(seeds, stream=102, count=k) ** 2
        aus = aus * gains + stray
    return aus.clamp(0.0, 1.2)
