"""How the action units move the face: identity + AU intensities -> feature geometry.

All values are float32 columns [N, 1, 1] in canvas units (v grows downwards, so a raise is
a negative offset). AU intensities are clamped to [0, 1.2] upstream, which bounds every
displacement below; render.py relies on those bounds for the regions it draws in.
"""

from __future__ import annotations

import torch


def face_geometry(p: dict[str, torch.Tensor], a: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Feature positions and shapes for identities ``p`` showing action units ``a``."""
    g: dict[str, torch.Tensor] = {}
    eh = p["eye_h"]
    lift = torch.maximum(a["AU1"], 0.8 * a["AU2"])
    g["forehead_lines"] = 0.2 * lift
    g["furrow"] = 0.26 * a["AU4"] + 0.1 * a["AU9"]

    # Eyes: the upper lid rises with AU5; the lower lid rises with AU6 (cheek) and AU7 (tension).
    g["h_up"] = eh * (1.0 + 0.85 * a["AU5"] - 0.3 * a["AU7"] - 0.2 * a["AU4"] - 0.15 * a["AU6"]).clamp_min(0.2)
    g["h_lo"] = eh * 0.8 * (1.0 - 0.5 * a["AU6"] - 0.55 * a["AU7"] - 0.25 * a["AU9"] + 0.25 * a["AU5"]).clamp_min(0.12)
    g["crease"] = (0.22 * (1.0 - 0.7 * a["AU5"] - 0.5 * a["AU4"])).clamp_min(0.0)
    g["socket"] = p["socket"] * (1.0 + 0.9 * a["AU4"] + 0.4 * a["AU9"] - 0.3 * lift).clamp_min(0.2)
    g["cheek"] = 0.07 * a["AU6"]
    g["cheek_y"] = p["eye_y"] + 0.2 - 0.05 * a["AU6"]
    g["lid_fold"] = 0.22 * a["AU6"] + 0.1 * a["AU7"]

    # Brows: inner ends up with AU1, outer ends up with AU2, down and together with AU4.
    g["brow_y"] = p["eye_y"] - p["brow_gap"]
    g["brow_in"] = (p["eye_dx"] - p["eye_w"] * 1.05 - 0.05 * a["AU4"] - 0.02 * a["AU9"]).clamp_min(0.06)
    g["brow_out"] = p["eye_dx"] + p["eye_w"] * 1.3
    g["brow_dy_in"] = p["brow_tilt"] - 0.12 * a["AU1"] + 0.09 * a["AU4"] + 0.04 * a["AU9"] - 0.03 * a["AU2"]
    g["brow_dy_out"] = -0.11 * a["AU2"] + 0.035 * a["AU4"] - 0.025 * a["AU1"] + 0.01 * a["AU9"]
    g["brow_arch"] = p["brow_arch"] + 0.03 * a["AU2"] - 0.02 * a["AU4"]

    # Nose: AU9 wrinkles the bridge and lifts and flares the wings; AU10 lifts them a little.
    g["nose_tip"] = p["eye_y"] + p["nose_len"] - 0.03 * a["AU9"] - 0.012 * a["AU10"]
    g["nose_w"] = p["nose_w"] * (1.0 + 0.3 * a["AU9"] + 0.1 * a["AU10"])
    g["nose_wrinkle"] = 0.3 * a["AU9"]

    # Mouth: AU12 pulls the corners up and out, AU15 down, AU20 sideways; AU24 presses and
    # thins the lips; AU10 lifts the upper lip (showing teeth); AU26 drops the jaw.
    g["mouth_w"] = p["mouth_w"] * (1.0 + 0.28 * a["AU12"] + 0.3 * a["AU20"] - 0.14 * a["AU24"]
                                   - 0.1 * a["AU26"] + 0.04 * a["AU10"])
    g["corner"] = p["mouth_curve"] - 0.09 * a["AU12"] + 0.085 * a["AU15"] + 0.02 * a["AU20"]
    g["mouth_y"] = p["mouth_y"] - 0.025 * a["AU10"] + 0.02 * a["AU26"]
    g["opening"] = (0.2 * a["AU26"] + 0.05 * a["AU20"] + 0.1 * a["AU12"]) * (1.0 - 0.85 * a["AU24"]).clamp_min(0.0)
    g["lip_raise"] = 0.07 * a["AU10"] + 0.012 * a["AU12"]
    lip_scale = (1.0 - 0.75 * a["AU24"]).clamp_min(0.1) * (1.0 - 0.25 * a["AU20"]) * (1.0 - 0.2 * a["AU12"])
    g["lip_up"] = p["lip_up"] * lip_scale
    g["lip_lo"] = p["lip_lo"] * lip_scale
    g["teeth_up"] = (1.3 * a["AU12"] + 1.2 * a["AU10"] + 0.6 * a["AU20"] + 0.25 * a["AU26"]).clamp(0.0, 0.9)
    g["teeth_lo"] = (0.8 * a["AU20"] + 0.3 * a["AU10"]).clamp(0.0, 0.8)
    g["fold"] = 0.04 + 0.12 * a["AU12"] + 0.16 * a["AU10"] + 0.14 * a["AU9"] + 0.06 * a["AU6"] + 0.06 * a["AU20"]
    g["dimple"] = 0.12 + 0.25 * a["AU12"] + 0.2 * a["AU15"] + 0.2 * a["AU24"]
    g["chin_drop"] = 0.1 * a["AU26"]
    return g
