"""Generator and PatchGAN discriminator for 48x48 grey faces.

The generator edits rather than repaints: it predicts a colour image and an attention mask
and blends them with the input (as GANimation does), so pixels the expression does not touch
keep the source's values and with them the person's identity.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm

CONDITIONS = ("label", "reference")
COLOUR_MODES = ("absolute", "residual")
# "shuffle": sub-pixel convolutions up and one 3x3 head for colour and mask; a whole training step
# is about 10% faster on CPU than with "upsample" (nearest upsampling, then convolutions at the
# larger size, and two 5x5 one-channel heads; scripts/bench_gan_step.py).
DECODERS = ("shuffle", "upsample")


class FiLM(nn.Module):
    """Instance norm whose scale and shift come from the condition vector."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.to_scale_shift = nn.Linear(cond_dim, 2 * channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(cond).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + shift


class ResBlock(nn.Module):
    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = FiLM(channels, cond_dim)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = FiLM(channels, cond_dim)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x, cond)))
        h = self.conv2(F.relu(self.norm2(h, cond)))
        return x + h


class StyleEncoder(nn.Module):
    """Reference face -> condition vector (the study's mode: copy a labelled face's expression)."""

    def __init__(self, cond_dim: int, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),  # 24
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),  # 12
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.2),  # 6
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, cond_dim),
        )

    def forward(self, reference: torch.Tensor) -> torch.Tensor:
        return self.net(reference)


class Generator(nn.Module):
    """G(source, target) -> (edited face, attention mask), faces in [-1, 1].

    Two downsamplings (48 -> 24 -> 12), residual blocks conditioned by FiLM at the
    bottleneck, two upsamplings. ``condition="label"`` takes target emotion indices;
    ``condition="reference"`` takes reference faces whose expression is to be copied.
    """

    def __init__(
        self, num_emotions: int = 7, width: int = 32, n_res: int = 4, cond_dim: int = 64, condition: str = "label",
        colour: str = "absolute", decoder: str = "shuffle",
    ) -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition '{condition}'; expected one of {', '.join(CONDITIONS)}")
        if colour not in COLOUR_MODES:
            raise ValueError(f"unknown colour mode '{colour}'; expected one of {', '.join(COLOUR_MODES)}")
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder '{decoder}'; expected one of {', '.join(DECODERS)}")
        self.config = {"num_emotions": num_emotions, "width": width, "n_res": n_res, "cond_dim": cond_dim,
                       "condition": condition, "colour": colour, "decoder": decoder}
        self.colour = colour
        self.condition = condition
        self.num_emotions = num_emotions
        if condition == "label":
            self.embed = nn.Embedding(num_emotions, cond_dim)
        else:
            self.embed = StyleEncoder(cond_dim)
        w = width
        self.encode = nn.Sequential(
            nn.Conv2d(1, w, 5, padding=2), nn.InstanceNorm2d(w, affine=True), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.InstanceNorm2d(4 * w, affine=True), nn.ReLU(),
        )
        self.blocks = nn.ModuleList(ResBlock(4 * w, cond_dim) for _ in range(n_res))
        if decoder == "shuffle":
            self.decode = nn.Sequential(
                icnr_(nn.Conv2d(4 * w, 8 * w, 3, padding=1)), nn.PixelShuffle(2),
                nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(),
                icnr_(nn.Conv2d(2 * w, 4 * w, 3, padding=1)), nn.PixelShuffle(2),
                nn.InstanceNorm2d(w, affine=True), nn.ReLU(),
            )
            self.to_colour_mask = nn.Conv2d(w, 2, 3, padding=1)
            mask_bias = self.to_colour_mask.bias
        else:
            self.decode = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(4 * w, 2 * w, 3, padding=1),
                nn.InstanceNorm2d(2 * w, affine=True), nn.ReLU(),
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, w, 3, padding=1),
                nn.InstanceNorm2d(w, affine=True), nn.ReLU(),
            )
            self.to_colour = nn.Conv2d(w, 1, 5, padding=2)
            self.to_mask = nn.Conv2d(w, 1, 5, padding=2)
            mask_bias = self.to_mask.bias
        # Start as (almost) the identity: a closed mask copies the source, and training opens
        # it only where the expression needs new pixels.
        with torch.no_grad():
            mask_bias[-1] = -3.0

    def condition_vector(self, target: torch.Tensor) -> torch.Tensor:
        return self.embed(target)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cond = self.condition_vector(target)
        h = self.encode(source)
        for block in self.blocks:
            h = block(h, cond)
        base = source
        colour_logit, mask_logit = self._heads(self.decode(h))
        change = torch.tanh(colour_logit)
        # "residual" predicts a change of the source's pixels, so even inside the mask what
        # needs no change costs nothing to keep; "absolute" paints new pixels (GANimation).
        colour = (base + change).clamp(-1, 1) if self.colour == "residual" else change
        mask = torch.sigmoid(mask_logit)
        return mask * colour + (1 - mask) * base, mask

    def _heads(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config["decoder"] == "shuffle":
            both = self.to_colour_mask(h)
            return both[:, :1], both[:, 1:]
        return self.to_colour(h), self.to_mask(h)


def icnr_(conv: nn.Conv2d, scale: int = 2) -> nn.Conv2d:
    """Initialise a convolution that feeds ``PixelShuffle(scale)`` so that the four sub-pixels
    of each output start equal (ICNR, Aitken et al. 2017): the pair starts as nearest
    upsampling, without the checkerboard a random start leaves."""
    sub = scale * scale
    with torch.no_grad():
        base = torch.empty(conv.out_channels // sub, *conv.weight.shape[1:])
        nn.init.kaiming_uniform_(base, a=5 ** 0.5)  # nn.Conv2d's own default
        conv.weight.copy_(base.repeat_interleave(sub, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[::sub].repeat_interleave(sub))
    return conv


class PatchDiscriminator(nn.Module):
    """Spectral-norm PatchGAN with one output map per emotion (the map of the image's emotion
    is the one judged, as in StarGAN v2), exposing its intermediate features."""

    def __init__(self, num_emotions: int = 7, width: int = 64) -> None:
        super().__init__()
        self.config = {"num_emotions": num_emotions, "width": width}
        w = width
        self.stages = nn.ModuleList([
            nn.Sequential(spectral_norm(nn.Conv2d(1, w, 4, 2, 1)), nn.LeakyReLU(0.2)),  # 24
            nn.Sequential(spectral_norm(nn.Conv2d(w, 2 * w, 4, 2, 1)), nn.LeakyReLU(0.2)),  # 12
            nn.Sequential(spectral_norm(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)), nn.LeakyReLU(0.2)),  # 6
            nn.Sequential(spectral_norm(nn.Conv2d(4 * w, 4 * w, 3, 1, 1)), nn.LeakyReLU(0.2)),  # 6
        ])
        self.head = spectral_norm(nn.Conv2d(4 * w, num_emotions, 3, 1, 1))  # [N, E, 6, 6]

    def forward(self, x: torch.Tensor, emotion: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Patch scores [N, 6, 6] for each image's given emotion, and the stage features."""
        features = []
        h = x
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        maps = self.head(h)
        scores = maps[torch.arange(x.shape[0], device=x.device), emotion]
        return scores, features
