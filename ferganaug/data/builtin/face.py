"""Draw the face itself in the canonical frame: head, eyes, brows, nose, mouth, hair.

The face is left-right symmetric, so ``draw_half_face`` computes only the right half
(u >= 0), which the caller mirrors; ``draw_hair`` (which may be asymmetric) then works on
the full canvas. Each feature is drawn inside a fixed ``region`` that bounds it for every
identity and expression (a test widens them all to the canvas and expects no change).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ferganaug.data.builtin.draw import (
    SIZE, Columns, bump, coverage, darken, ellipse_distance, make_grid, paint, region, smoothstep,
)
from ferganaug.data.builtin.identity import HAIR_STYLES

_HALF = SIZE // 2
_MOUTH_ROWS = (-0.15, 1.0)  # v range of the mouth, folds and beard (one range, so their maps align)


def draw_half_face(p: Columns, g: Columns, nz: Columns) -> torch.Tensor:
    """The right half (u >= 0) of background, head and face: float [N, 48, 24]."""
    n = p["skin"].shape[0]
    u, v = make_grid(_HALF, 0.0)
    img = (nz["background"] + nz["bg_grad"] * v).expand(n, SIZE, _HALF).contiguous()
    skin, face_cy, face_w = p["skin"], p["face_cy"], p["face_w"]

    # Long hair falls behind the head to the shoulders.
    long_hair = (p["hair_style"] == HAIR_STYLES.index("long")).float()
    if long_hair.any():
        d = ellipse_distance(u, v, 0.0, face_cy + 0.1, face_w * 1.22, p["face_h"] * 1.2)
        paint(img, p["hair_dark"], coverage(d, 1.5).mul_(long_hair))

    # Neck, in the shadow of the jaw.
    paint(img, skin * 0.72, coverage(torch.maximum(u - face_w * 0.55, face_cy + 0.3 - v), 1.5))

    ears = region(img, u, v, 0.55, 1.0, -0.5, 0.5)
    d = ellipse_distance(ears.u, ears.v, face_w * 0.98, p["eye_y"] + 0.12, 0.09, 0.17)
    paint(ears.img, skin * 0.85, coverage(d))

    # Face: an egg, narrower towards the chin; the jaw drop lengthens the lower face.
    b = p["face_h"] * torch.where(v > face_cy, 1.0 + g["chin_drop"], torch.ones_like(g["chin_drop"]))
    y = (v - face_cy) / b
    half_w = face_w * (1.0 - p["jaw"] * y.clamp_min(0.0) ** 1.6)
    x = u / half_w
    f = (x * x - 1.0) + y * y
    grad = torch.sqrt((x / half_w).square_().add_((y / b).square()).mul_(4.0)).clamp_min_(1e-3)
    face_alpha = coverage(f.div_(grad), 1.2)
    shade = (1.0 - 0.32 * (u / face_w) ** 4) * (skin * (1.0 - 0.12 * y.clamp_min(0.0)))
    paint(img, shade, face_alpha)

    _draw_eyes_and_brows(img, u, v, p, g, face_alpha)
    _draw_nose(img, u, v, p, g)
    lips, mouth = _draw_mouth(img, u, v, p, g)
    _draw_beard(img, u, v, p, g, face_alpha, lips, mouth)
    _draw_glasses(img, u, v, p)
    return img


def _draw_eyes_and_brows(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: Columns, g: Columns,
                         face_alpha: torch.Tensor) -> None:
    ex, ey, ew, eh, skin = p["eye_dx"], p["eye_y"], p["eye_w"], p["eye_h"], p["skin"]
    brow_y = g["brow_y"]

    # Forehead lines when the brows go up (AU1/AU2).
    # (Wide shading is masked by the face so that expressions never touch the background.)
    r = region(img, u, v, 0.0, 0.85, -1.0, -0.15)
    lines = torch.cos((r.v - brow_y) * (2 * torch.pi / 0.085)).clamp_min(0.0) ** 6
    lines = lines * bump(r.v, brow_y - 0.2, 0.22) * g["forehead_lines"]
    darken(r.img, (lines * bump(r.u, 0.0, 0.7)).mul_(r.crop(face_alpha)))

    # Eye sockets: deeper under lowered brows; cheek raise (AU6) lifts and lights the cheek
    # and folds the skin under the lower lid.
    r = region(img, u, v, 0.0, 0.85, -0.5, 0.45)
    face = r.crop(face_alpha)
    darken(r.img, ((g["socket"] * bump(r.u, ex, ew * 2.5)) * bump(r.v, ey - 0.04, 0.22)).mul_(face))
    r.img.addcmul_((g["cheek"] * bump(r.u, ex, 0.16)) * bump(r.v, g["cheek_y"], 0.12), face)
    darken(r.img, (g["lid_fold"] * bump(r.u, ex, ew * 2.0)) * bump(r.v, ey + g["h_lo"] + 0.035, 0.045))

    # Eye opening between the lid curves.
    r = region(img, u, v, 0.1, 0.62, -0.45, 0.12)
    xe = (r.u - ex) / ew
    env = (1.0 - xe * xe).clamp_min(0.0) ** 0.8
    y = r.v - ey
    up, lo = -g["h_up"] * env, g["h_lo"] * env
    d_eye = torch.maximum(up - y, y - lo)
    d_eye = torch.maximum(d_eye, (xe.abs() - 1.0) * ew, out=d_eye)
    eye = coverage(d_eye, 0.8)
    paint(r.img, (0.5 + 0.45 * skin).clamp_max(0.95), eye)
    # Iris: fixed size, so a raised upper lid shows white above it.
    d_iris = torch.sqrt((r.u - ex).square() + (r.v - ey - 0.15 * eh).square()).sub_(eh * 1.2)
    paint(r.img, p["iris"], coverage(d_iris).mul_(eye))
    # Upper lid and lashes; a fainter lower lid.
    lash_cap = coverage((xe.abs() - 1.08) * ew).mul_(0.85)
    paint(r.img, 0.08 + 0.2 * p["iris"], coverage((y - up).abs_().sub_(0.018), 0.9).mul_(lash_cap))
    low_cap = coverage((xe.abs() - 0.9) * ew).mul_(0.45)
    paint(r.img, skin * 0.55, coverage((y - lo).abs_().sub_(0.008)).mul_(low_cap))
    # Lid crease above the eye (hidden by a raised lid or a lowered brow).
    darken(r.img, bump(y - up, -0.045, 0.035).mul_(g["crease"] * (env > 0)))

    # Brows: a tapered stroke from the inner to the outer end; vertical furrows with AU4.
    r = region(img, u, v, 0.0, 0.66, -0.85, 0.0)
    darken(r.img, (g["furrow"] * bump(r.u, 0.045, 0.04)) * bump(r.v, brow_y + 0.04, 0.13))
    span = g["brow_out"] - g["brow_in"]
    t = (r.u - g["brow_in"]) / span
    tc = t.clamp(0.0, 1.0)
    yc = brow_y + g["brow_dy_in"] * (1.0 - tc) + g["brow_dy_out"] * tc - 4.0 * g["brow_arch"] * tc * (1.0 - tc)
    thick = p["brow_thick"] * (1.2 - 0.6 * tc)
    cap = torch.maximum(-t, t - 1.0) * span
    d_brow = (r.v - yc).abs_().sub_(thick)
    paint(r.img, p["brow_dark"], coverage(torch.maximum(d_brow, cap, out=d_brow), 1.2).mul_(0.92))


def _draw_nose(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: Columns, g: Columns) -> None:
    ey, skin, tip, nw = p["eye_y"], p["skin"], g["nose_tip"], g["nose_w"]
    r = region(img, u, v, 0.0, 0.3, -0.35, 0.45)
    # Bridge shadows, a highlight on the tip, shadow under it.
    darken(r.img, (0.1 * bump(r.u, 0.075, 0.055)) * bump(r.v, (ey + tip) / 2, p["nose_len"] * 0.75))
    r.img.addcmul_(0.07 * bump(r.u, 0.0, 0.11), bump(r.v, tip - 0.04, 0.11))
    darken(r.img, (0.12 * bump(r.u, 0.0, 0.14)) * bump(r.v, tip + 0.06, 0.06))
    # Nose wrinkle (AU9): creases across the bridge.
    creases = torch.cos((r.v - ey) * (2 * torch.pi / 0.05)).clamp_min(0.0) ** 4
    creases = creases * bump(r.v, ey + 0.07, 0.11) * g["nose_wrinkle"]
    darken(r.img, creases * bump(r.u, 0.0, 0.15))
    # Wings and nostrils.
    darken(r.img, (0.2 * bump(r.u, nw * 0.95, 0.075)) * bump(r.v, tip, 0.11))
    d = ellipse_distance(r.u, r.v, nw * 0.5, tip + 0.03, 0.034 * nw / p["nose_w"], 0.02)
    paint(r.img, skin * 0.3, coverage(d).mul_(0.85))


def _draw_mouth(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: Columns, g: Columns
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Folds, lips, mouth opening and teeth; returns lip and opening coverage in the mouth region."""
    skin, tip, nw = p["skin"], g["nose_tip"], g["nose_w"]
    mw, corner, my, opening = g["mouth_w"], g["corner"], g["mouth_y"], g["opening"]
    r = region(img, u, v, 0.0, 0.62, *_MOUTH_ROWS)
    t = r.u / mw
    t2 = t * t
    env = (1.0 - t2).clamp_min(0.0)
    senv = env.sqrt()
    # The upper lip stays flat and bends only near the corners; the lower lip follows the
    # corners all along, so an opened smile is a crescent and an opened frown an arch.
    y_ui = my + corner * t2 * (0.4 + 0.6 * t2) - (g["lip_raise"] + 0.15 * opening) * env  # upper lip, inner
    y_li = my + corner * t2 + 0.85 * opening * env                                       # lower lip, inner
    y_uo = y_ui - g["lip_up"] * senv - 0.004                                             # upper lip, outer
    y_lo = y_li + g["lip_lo"] * senv + 0.004                                             # lower lip, outer

    # Nasolabial folds: from above the nose wings, curving out past the mouth corners.
    v0, v1 = tip - 0.02, p["mouth_y"] + 0.02
    s = ((r.v - v0) / (v1 - v0)).clamp(0.0, 1.0)
    fold_u = nw + 0.06 + (mw + 0.06 - nw - 0.06) * s ** 0.7
    window = bump(r.v, (v0 + v1) / 2, (v1 - v0) * 0.65) * g["fold"]
    # A crease with the cheek bulging beside it: shadow inside, a little light outside.
    across = r.u - fold_u
    darken(r.img, bump(across, -0.03, 0.09).mul_(window * 0.55))
    r.img.addcmul_(bump(across, 0.07, 0.08), window * (0.3 * p["skin"]))
    # Shadow under the lower lip; the mouth corners (dimples with AU12, creases with AU15/AU24).
    darken(r.img, (0.16 * bump(r.u, 0.0, mw * 1.5)) * bump(r.v, my + p["lip_lo"] + 0.05 + 0.85 * opening, 0.065))
    darken(r.img, (g["dimple"] * bump(r.u, mw, 0.055)) * bump(r.v, my + corner, 0.055))

    cap = r.u - mw
    lips = coverage(torch.maximum(torch.maximum(y_uo - r.v, r.v - y_lo), cap))
    paint(r.img, skin * (1.0 - p["lip_dark"]), lips)
    inside = torch.maximum(torch.maximum(y_ui - r.v, r.v - y_li), cap + 0.01).sub_(0.01)
    mouth = coverage(inside.clone())
    paint(r.img, 0.06, mouth)
    # Teeth: the upper row shows when the upper lip lifts, the lower row with AU20.
    teeth_up = coverage(torch.maximum(inside, r.v - (y_ui + 0.06))).mul_(g["teeth_up"])
    paint(r.img, 0.8, teeth_up)
    teeth_lo = coverage(torch.maximum(inside, (y_li - 0.03) - r.v)).mul_(g["teeth_lo"])
    paint(r.img, 0.7, teeth_lo)

    return lips, mouth


def _draw_beard(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: Columns, g: Columns,
                face_alpha: torch.Tensor, lips: torch.Tensor, mouth: torch.Tensor) -> None:
    """Beard and moustache: hair-coloured below the nose, leaving the cheeks and lips bare."""
    idx = torch.nonzero(p["beard"].flatten() > 0).flatten()
    if idx.numel() == 0:
        return
    q = {k: val[idx] for k, val in {**p, **g}.items()}
    r = region(img, u, v, 0.0, 1.0, *_MOUTH_ROWS)  # the mouth's rows, so lips/mouth line up
    edge = (q["nose_tip"] + 0.05 + 0.14 * bump(r.u, q["mouth_w"] + 0.14, 0.24)
            - 0.3 * (r.u / q["face_w"] - 0.72).clamp_min(0.0))
    lower = smoothstep((r.v - edge) / 0.12 + 0.5)
    stubble = 0.85 + 0.15 * torch.sin(r.u * 53.0 + r.v * 17.0) * torch.sin(r.v * 61.0 - r.u * 7.0)
    bare = F.pad(torch.maximum(lips[idx], mouth[idx]), (0, r.img.shape[2] - lips.shape[2]))
    alpha = (q["beard"] * lower * stubble) * (1.0 - 0.9 * bare) * r.crop(face_alpha)[idx]
    r.img[idx] = r.img[idx].lerp_(q["hair_dark"].expand_as(alpha), alpha)


def _draw_glasses(img: torch.Tensor, u: torch.Tensor, v: torch.Tensor, p: Columns) -> None:
    """Rims round each eye and a bridge, for the faces that wear glasses."""
    idx = torch.nonzero(p["glasses"].flatten() > 0).flatten()
    if idx.numel() == 0:
        return
    ex, ey, ew = p["eye_dx"][idx], p["eye_y"][idx], p["eye_w"][idx]
    r = region(img, u, v, 0.0, 0.72, -0.45, 0.15)
    rim = ellipse_distance(r.u, r.v, ex, ey + 0.01, ew * 1.55, 0.14).abs_().sub_(0.014)
    bridge = torch.maximum(r.u - (ex - ew * 1.5), (r.v - (ey - 0.03)).abs() - 0.014)
    alpha = coverage(torch.minimum(rim, bridge)).mul_(0.9)
    patch = r.img[idx]
    r.img[idx] = patch.lerp_(torch.tensor(0.12), alpha)


def draw_hair(img: torch.Tensor, p: Columns) -> None:
    """Scalp hair on the full canvas [N, 48, 48]; the hairline's shape depends on the style."""
    u, v = make_grid(SIZE, -1.0)
    r = region(img, u, v, -1.0, 1.0, -1.0, 0.15)
    style = p["hair_style"]
    face_w, hairline = p["face_w"], p["hairline"]

    def is_(name: str) -> torch.Tensor:
        return (style == HAIR_STYLES.index(name)).float()

    # Hairline: high at the temples (an M for short styles), down to the ears at the sides;
    # a fringe hangs lower and ragged, a side part sweeps; a bald head shows no hair on top.
    line = hairline + 0.24 * is_("fringe") - 0.6 * is_("bald")
    au = r.u.abs() / face_w
    side = smoothstep((au - 0.76) / 0.24)
    recess = 0.08 * (1.0 - is_("fringe")) * bump(au, 0.55, 0.3)
    hl = line - recess + (p["eye_y"] + 0.05 - line) * side
    hl = hl + 0.12 * is_("side-part") * r.u + 0.025 * is_("fringe") * torch.sin(r.u * 31.0)
    head = ellipse_distance(r.u, r.v, 0.0, p["face_cy"] - 0.02, face_w * 1.05, p["face_h"] * 1.08)
    d = torch.maximum(head, r.v - hl, out=head)
    # Strands fanning out from the crown and a sheen on top, so hair reads as hair, not a cap.
    strands = 1.0 + 0.07 * torch.sin(r.u * 70.0 / (r.v + 1.8)) * torch.sin(r.v * 23.0 + r.u * 5.0)
    sheen = 1.0 + 0.3 * bump(r.v, p["face_cy"] - p["face_h"] * 0.85, 0.4) * bump(r.u, 0.12, 0.6)
    paint(r.img, (p["hair_dark"] * strands * sheen).clamp_max_(1.0), coverage(d, 1.6))
