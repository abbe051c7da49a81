"""GAN loss terms as pure functions, each checkable by hand."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((real_scores - 1).pow(2).mean() + fake_scores.pow(2).mean())


def lsgan_fake_loss(scores: torch.Tensor) -> torch.Tensor:
    """The discriminator's term for faces it must call fake (half of the fake side above)."""
    return 0.5 * scores.pow(2).mean()


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return (fake_scores - 1).pow(2).mean()


def confident_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, confidence: float | torch.Tensor = 0.0
) -> torch.Tensor:
    """Cross-entropy that stops pushing once the classifier gives the target probability
    ``confidence``: past that point plain cross-entropy keeps rewarding an ever stronger
    expression, which the generator delivers as caricature. ``confidence=0`` is plain CE;
    a tensor gives each face its own confidence (e.g. one per target emotion)."""
    per_face = F.cross_entropy(logits.float(), target, reduction="none")
    if not isinstance(confidence, torch.Tensor):
        if confidence <= 0:
            return per_face.mean()
        return F.relu(per_face + math.log(confidence)).mean()
    # A face whose confidence is 0 gets plain CE (log 0 would cancel it instead).
    shift = torch.where(confidence > 0, confidence.clamp(min=1e-12).log(), torch.zeros_like(confidence))
    return F.relu(per_face + shift.to(per_face.device)).mean()


def group_means(x: torch.Tensor, labels: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``x`` over the rows of each label: ([G, ...] means, [G] bool present)."""
    flat = x.float().flatten(1)
    sums = torch.zeros(num_groups, flat.shape[1], device=x.device).index_add_(0, labels, flat)
    counts = torch.bincount(labels, minlength=num_groups).to(x.device)
    means = sums / counts.clamp(min=1).unsqueeze(1)
    return means.view(num_groups, *x.shape[1:]), counts > 0


def feature_matching_loss(
    fake_features: list[torch.Tensor],
    real_features: list[torch.Tensor],
    fake_emotions: torch.Tensor,
    real_emotions: torch.Tensor,
    num_emotions: int,
) -> torch.Tensor:
    """L1 between the discriminator's batch-mean features of fakes and of real faces of the
    same (target) emotion, per emotion and layer. Batch means, not pixel-aligned pairs: a
    real face of another person must not pull the fake towards that person's identity."""
    terms = []
    for fake, real in zip(fake_features, real_features):
        fake_means, fake_present = group_means(fake, fake_emotions, num_emotions)
        real_means, real_present = group_means(real.detach(), real_emotions, num_emotions)
        both = fake_present & real_present
        if both.any():
            terms.append((fake_means[both] - real_means[both]).abs().mean())
    if not terms:
        return fake_features[0].new_zeros(())
    return torch.stack(terms).mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels, down and across."""
    return (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian low-pass of [N, C, H, W] images (kernel radius ceil(2 sigma)), differentiable."""
    radius = max(1, math.ceil(2 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def mask_regularisation(
    mask: torch.Tensor, min_area: float, max_area: float, l1_weight: float = 0.1, tv_weight: float = 0.1
) -> torch.Tensor:
    """Keep each attention mask's mean inside [min_area, max_area] (neither 'copy the input'
    nor 'repaint everything'), a little sparser still (L1), and smooth (total variation)."""
    area = mask.float().mean(dim=(1, 2, 3))
    bounds = (F.relu(min_area - area) + F.relu(area - max_area)).mean()
    return bounds + l1_weight * area.mean() + tv_weight * total_variation(mask).float()


def r1_penalty(real_scores: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Gradient penalty on real images (Mescheder et al. 2018); real_images must require grad."""
    (grad,) = torch.autograd.grad(real_scores.float().sum(), real_images, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()
