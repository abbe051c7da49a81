"""Batched inference over in-memory uint8 faces, with optional test-time augmentation."""

from __future__ import annotations

import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from ferganaug.data.augment import to_model_input
from ferganaug.utils.precision import NumericPath

TTA_MODES = ("none", "flip", "ten-crop")
FP32 = NumericPath("fp32", False)
CPU = torch.device("cpu")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-only copy with each Conv2d -> BatchNorm2d pair inside a Sequential folded into
    one conv (same outputs, one pass less over the activations). Training models are untouched."""
    folded = copy.deepcopy(model).eval()
    for seq in (m for m in folded.modules() if isinstance(m, nn.Sequential)):
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                seq[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
                seq[i + 1] = nn.Identity()
    return folded


def _ten_crop_views(x: torch.Tensor, crop_fraction: float = 0.875) -> list[torch.Tensor]:
    """Four corners and the centre at 87.5% of the side, each also mirrored, resized back."""
    _, _, h, w = x.shape
    ch, cw = round(h * crop_fraction), round(w * crop_fraction)
    offsets = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    views = []
    for top, left in offsets:
        crop = F.interpolate(x[:, :, top : top + ch, left : left + cw], size=(h, w), mode="bilinear", align_corners=False)
        views += [crop, crop.flip(-1)]
    return views


def _views(x: torch.Tensor, tta: str) -> list[torch.Tensor]:
    if tta == "none":
        return [x]
    if tta == "flip":
        return [x, x.flip(-1)]
    if tta == "ten-crop":
        return _ten_crop_views(x)
    raise ValueError(f"unknown test-time augmentation '{tta}'; expected one of {', '.join(TTA_MODES)}")


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    path: NumericPath,
    device: torch.device,
    batch_size: int = 128,
    tta: str = "none",
) -> torch.Tensor:
    """Logits (float32, CPU) for uint8 images [N, 1, H, W]; TTA averages the views' softmax
    in log space so the output stays a valid logit vector."""
    model.eval()
    outputs = []
    for start in range(0, images.shape[0], batch_size):
        x = to_model_input(images[start : start + batch_size].to(device))
        view_logits = []
        for view in _views(x, tta):
            with path.autocast(device):
                view_logits.append(model(path.prepare_input(view)).float())
        if len(view_logits) == 1:
            outputs.append(view_logits[0].cpu())
        else:
            mean_prob = torch.stack([v.softmax(dim=1) for v in view_logits]).mean(dim=0)
            outputs.append(mean_prob.clamp_min(1e-12).log().cpu())
    if not outputs:
        return torch.zeros(0, getattr(model, "num_classes", 7))
    return torch.cat(outputs)


@torch.no_grad()
def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    path: NumericPath = FP32,
    device: torch.device = CPU,
    batch_size: int = 128,
    with_logits: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features [N, model.num_features] (float32, CPU) of uint8 images [N, 1, H, W],
    from ``model.forward_features``. With ``with_logits`` also the logits [N, num_classes] of the
    same pass (``forward_head`` of those features), so a caller needing both runs the net once."""
    model.eval()
    feats, logits = [], []
    for start in range(0, images.shape[0], batch_size):
        x = path.prepare_input(to_model_input(images[start : start + batch_size].to(device)))
        with path.autocast(device):
            f = model.forward_features(x)
            if with_logits:
                logits.append(model.forward_head(f).float().cpu())
        feats.append(f.float().cpu())
    if not feats:
        empty = torch.zeros(0, model.num_features)
        return (empty, torch.zeros(0, getattr(model, "num_classes", 7))) if with_logits else empty
    return (torch.cat(feats), torch.cat(logits)) if with_logits else torch.cat(feats)


def measure_latency(
    model: nn.Module, path: NumericPath, device: torch.device, batch_size: int = 128, seconds: float = 1.0
) -> dict:
    """Throughput of batched inference and the latency of a single face, on random input."""
    images = torch.randint(0, 256, (batch_size, 1, 48, 48), dtype=torch.uint8)
    result = {}
    for label, batch in (("batched", images), ("single", images[:1])):
        predict_logits(model, batch, path, device, batch_size=batch_size)  # warm-up
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            predict_logits(model, batch, path, device, batch_size=batch_size)
            count += batch.shape[0]
        elapsed = time.perf_counter() - start
        result[label] = {"faces_per_s": count / elapsed, "ms_per_face": 1000 * elapsed / count}
    result["batch_size"] = batch_size
    result["numeric_path"] = path.name
    return result
