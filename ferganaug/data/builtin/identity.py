"""Who is pictured: identity parameters drawn reproducibly from an integer id.

Coordinates are the renderer's canonical frame: the 48x48 image spans [-1, 1] on both
axes, u to the right and v downwards, the face centred on u = 0 (faces are drawn
left-right symmetric, so x positions below are distances from the midline).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from functools import lru_cache

import numpy as np
import torch

# Mixed into every identity seed so that identity i and nuisance seed i are unrelated streams.
_IDENTITY_SALT = 0x1D_FACE

HAIR_STYLES: tuple[str, ...] = ("short", "long", "bald", "fringe", "side-part")


@dataclass(frozen=True)
class IdentityParams:
    """Face geometry and appearance of one person (everything an expression leaves alone)."""

    face_w: float        # half-width of the face oval
    face_h: float        # half-height of the face oval
    face_cy: float       # vertical centre of the face oval
    jaw: float           # how much the lower face narrows towards the chin (0 = round)
    skin: float          # skin grey level
    hair_style: int      # index into HAIR_STYLES
    hair_dark: float     # hair grey level (low = black hair)
    hairline: float      # v of the hairline at the midline (forehead height)
    eye_dx: float        # distance of each eye from the midline
    eye_y: float         # v of the eyes
    eye_w: float         # eye half-width
    eye_h: float         # eye half-opening at rest
    iris: float          # iris grey level
    brow_thick: float    # brow half-thickness
    brow_gap: float      # brow height above the eye
    brow_arch: float     # brow arch height
    brow_tilt: float     # resting inner-end offset (> 0: inner end lower, a stern resting face)
    brow_dark: float     # brow grey level
    nose_len: float      # nose tip below the eyes
    nose_w: float        # nostril spread
    mouth_y: float       # v of the mouth
    mouth_w: float       # mouth half-width at rest
    lip_up: float        # upper-lip thickness
    lip_lo: float        # lower-lip thickness
    lip_dark: float      # how much darker than skin the lips are
    mouth_curve: float   # resting corner offset (> 0: corners down, a glum resting face)
    socket: float        # eye-socket shadow depth
    glasses: float       # 1.0 with glasses, else 0.0
    beard: float         # beard darkness, 0.0 for none

    @classmethod
    def from_id(cls, identity: int) -> "IdentityParams":
        """The identity with this integer id; the same id always gives the same person."""
        return _from_id(int(identity))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_array(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=np.float32)


@lru_cache(maxsize=65536)
def _row(identity: int) -> np.ndarray:
    return IdentityParams.from_id(identity).as_array()


@lru_cache(maxsize=65536)
def _from_id(identity: int) -> IdentityParams:
    if identity < 0:
        raise ValueError(f"identity ids must be non-negative, got {identity}")
    rng = np.random.default_rng([identity, _IDENTITY_SALT])
    u = rng.uniform
    skin = float(np.clip(rng.normal(0.66, 0.12), 0.32, 0.9))
    hair_style = int(rng.choice(len(HAIR_STYLES), p=[0.36, 0.28, 0.07, 0.15, 0.14]))
    # Hair is usually darker than skin; occasionally fair or grey so it cannot be a shortcut.
    hair_dark = float(np.clip(rng.normal(0.2, 0.13), 0.03, 0.75)) if u() < 0.85 else u(0.5, 0.85)
    eye_h = u(0.048, 0.072)
    has_beard = u() < 0.12
    return _build(
        face_w=u(0.78, 0.94),
        face_h=u(0.95, 1.1),
        face_cy=u(0.05, 0.15),
        jaw=u(0.12, 0.42),
        skin=skin,
        hair_style=hair_style,
        hair_dark=hair_dark,
        hairline=u(-0.72, -0.5),
        eye_dx=u(0.31, 0.39),
        eye_y=u(-0.2, -0.1),
        eye_w=u(0.13, 0.17),
        eye_h=eye_h,
        iris=u(0.04, 0.3),
        brow_thick=u(0.026, 0.055),
        brow_gap=u(0.13, 0.19),
        brow_arch=u(0.0, 0.06),
        brow_tilt=rng.normal(0.0, 0.012),
        brow_dark=float(np.clip(min(hair_dark + 0.05, skin - 0.32) + rng.normal(0, 0.04), 0.03, 0.5)),
        nose_len=u(0.27, 0.37),
        nose_w=u(0.08, 0.12),
        mouth_y=u(0.44, 0.55),
        mouth_w=u(0.21, 0.29),
        lip_up=u(0.022, 0.045),
        lip_lo=u(0.03, 0.06),
        lip_dark=u(0.12, 0.32),
        mouth_curve=rng.normal(0.0, 0.01),
        socket=u(0.15, 0.38),
        glasses=float(u() < 0.13),
        beard=u(0.3, 0.7) if has_beard else 0.0,
    )


def _build(**values: float) -> IdentityParams:
    return IdentityParams(**{k: (int(v) if k == "hair_style" else float(v)) for k, v in values.items()})


def identity_table(identity_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """Identity parameters of a batch as float32 columns [N, 1, 1], ready to broadcast on images.

    Draws each distinct id once, so datasets with many faces per person stay cheap.
    """
    ids = identity_ids.to(torch.int64)
    unique, inverse = torch.unique(ids, return_inverse=True)
    rows = np.stack([_row(i) for i in unique.tolist()])
    table = torch.from_numpy(rows)[inverse]
    return {name: table[:, k].view(-1, 1, 1) for k, name in enumerate(IdentityParams.field_names())}
