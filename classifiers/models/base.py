"""What every classifier in the zoo shares: the uniform model API and the ImageNet input adapter.

Every model takes the toolkit's standard input, float [N, in_chans, 48, 48] in [-1, 1], and
returns logits [N, num_classes]. ``forward_features`` returns the penultimate features
[N, num_features]; ``class_names`` and ``input_spec`` describe the output and what the study's
network itself consumes. Designs built around an ImageNet backbone put an
:class:`ImageNetInputAdapter` in front, so every model is a drop-in for the same data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ferganaug.emotions import EMOTIONS

TOOLKIT_SIZE = 48  # the toolkit's faces are 48x48; models without an adapter expect this

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# One-channel ImageNet statistics: the mean over RGB of the per-channel statistics.
IMAGENET_GREY_MEAN = sum(IMAGENET_MEAN) / 3
IMAGENET_GREY_STD = sum(IMAGENET_STD) / 3


@dataclass(frozen=True)
class InputSpec:
    """What a network consumes after its own input adapter (if any).

    ``mean``/``std`` are per channel, applied to pixels in [0, 1]: the toolkit's [-1, 1]
    input is exactly ``mean=0.5, std=0.5``.
    """

    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def toolkit_spec(in_chans: int) -> InputSpec:
    """The spec of the toolkit's own input: [-1, 1] == (p - 0.5) / 0.5, 48x48."""
    return InputSpec(in_chans, TOOLKIT_SIZE, (0.5,) * in_chans, (0.5,) * in_chans)


def resolve_class_names(num_classes: int, class_names: Sequence[str] | None) -> tuple[str, ...]:
    """EMOTIONS for seven classes, ``class_0..`` otherwise; an explicit list must match in length."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if class_names is not None:
        names = tuple(str(n) for n in class_names)
        if len(names) != num_classes:
            raise ValueError(
                f"class_names has {len(names)} names but num_classes is {num_classes}: {names}"
            )
        return names
    if num_classes == len(EMOTIONS):
        return EMOTIONS
    return tuple(f"class_{i}" for i in range(num_classes))


class FERClassifier(nn.Module):
    """Base of every model in the zoo.

    Subclasses build their layers, implement :meth:`forward_features` and assign
    ``self.classifier`` (features -> logits).
    """

    num_classes: int
    in_chans: int
    num_features: int
    class_names: tuple[str, ...]
    input_spec: InputSpec
    # Set by models with a torchvision ResNet backbone that ImageNet weights can be loaded into.
    imagenet_arch: str | None = None
    # Set by create_model when weights were asked for: what happened, in words.
    pretrained_status: str | None = None

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        num_features: int,
        class_names: Sequence[str] | None,
        input_spec: InputSpec,
        fixed_size: int | None = None,
    ) -> None:
        super().__init__()
        if in_chans < 1:
            raise ValueError(f"in_chans must be >= 1, got {in_chans}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = num_features
        self.class_names = resolve_class_names(num_classes, class_names)
        self.input_spec = input_spec
        # Flatten-based designs only work at one spatial size; say so instead of a matmul error.
        self._fixed_size = fixed_size

    def check_input(self, x: Tensor) -> None:
        """Raise a readable error for input the model cannot take."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"{type(self).__name__} expects input [N, {self.in_chans}, H, W], "
                f"got {tuple(x.shape)}"
            )
        if self._fixed_size is not None and tuple(x.shape[-2:]) != (self._fixed_size,) * 2:
            raise ValueError(
                f"{type(self).__name__} expects {self._fixed_size}x{self._fixed_size} input, "
                f"got {tuple(x.shape[-2:])}"
            )

    def forward_features(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        return self.classifier(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, in_chans={self.in_chans}"


class ImageNetInputAdapter(nn.Module):
    """Maps the toolkit's [-1, 1] input to what an ImageNet backbone consumes.

    [-1, 1] -> [0, 1], bilinear antialiased resize to ``size`` (skipped when already there),
    grey replicated to RGB when ``out_chans`` is 3, then ImageNet normalisation. Differentiable
    with respect to the input, so a GAN's expression loss can flow through it.

    With ``out_chans == 1`` the backbone's first conv is single channel, made (when ImageNet
    weights are loaded) as the *mean* of the RGB kernels. That kernel answers a grey image with
    a third of what the RGB kernels answer the replicated image with, so the grey std is divided
    by 3 to give conv1 (and the pretrained bn1 statistics after it) the scale they were trained
    for. From scratch this is a harmless constant factor that BN absorbs.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, in_chans: int, size: int, out_chans: int = 3) -> None:
        super().__init__()
        if out_chans == 3 and in_chans in (1, 3):
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        elif out_chans == 1 and in_chans == 1:
            mean, std = (IMAGENET_GREY_MEAN,), (IMAGENET_GREY_STD / 3,)
        else:
            raise ValueError(
                f"an ImageNet input adapter takes 1 (grey) or 3 (RGB) input channels and gives "
                f"1 or 3; got in_chans={in_chans}, out_chans={out_chans}"
            )
        if size < 16:
            raise ValueError(f"input_size must be >= 16, got {size}")
        self.in_chans = in_chans
        self.out_chans = out_chans
        self.size = size
        self.spec = InputSpec(out_chans, size, tuple(mean), tuple(std))
        # Non-persistent: constants, not state; keeps checkpoints free of them.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = (x + 1.0) * 0.5
        if tuple(x.shape[-2:]) != (self.size, self.size):
            # Resize before replicating: a third of the interpolation work for grey input.
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
            )
        if self.out_chans == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"in_chans={self.in_chans}, out_chans={self.out_chans}, size={self.size}"


class BackboneClassifier(FERClassifier):
    """A classifier made of ``input_adapter`` -> ``backbone`` -> head modules.

    Adds backbone freezing for the transfer designs. Everything that is not in ``backbone``
    (nor the parameter-free adapter) is the head. A frozen backbone also keeps its BatchNorm
    layers in eval mode, so training the head does not drift the pretrained statistics
    (as Keras does for a base with ``trainable=False``).
    """

    backbone: nn.Module

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        num_features: int,
        class_names: Sequence[str] | None,
        input_spec: InputSpec,
    ) -> None:
        super().__init__(num_classes, in_chans, num_features, class_names, input_spec)
        self._backbone_frozen = False

    @property
    def backbone_frozen(self) -> bool:
        return self._backbone_frozen

    def freeze_backbone(self, frozen: bool = True) -> BackboneClassifier:
        """Stop (or restart) training the backbone; returns self."""
        self._backbone_frozen = frozen
        for p in self.backbone.parameters():
            p.requires_grad_(not frozen)
        self.backbone.train(self.training and not frozen)
        return self

    def train(self, mode: bool = True) -> BackboneClassifier:
        super().train(mode)
        if self._backbone_frozen:
            self.backbone.eval()
        return self

    def is_head_parameter(self, name: str) -> bool:
        """Whether the parameter called ``name`` (as in named_parameters) belongs to the head."""
        return not name.startswith("backbone.")

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters trained while the backbone is frozen."""
        return (p for n, p in self.named_parameters() if self.is_head_parameter(n))

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        return self.backbone.parameters()
