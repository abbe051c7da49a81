"""ImageNet transfer designs at 224x224x3: ``resnet50-transfer`` (study B), ``resnet18-transfer`` (study D).

Both put an :class:`ImageNetInputAdapter` in front (toolkit [-1, 1] 48x48 grey -> [0, 1] ->
bilinear antialiased resize to ``input_size`` (default 224; e.g. 112 on a CPU budget) ->
grey replicated to RGB -> ImageNet normalisation), then a torchvision ResNet with its fc
replaced by the study's head.

Resolved ambiguities:
- ``resnet50-transfer`` is frozen at construction ("base frozen"): only the head trains,
  the backbone's BatchNorm stays in eval mode. ``frozen=False`` or ``freeze_backbone(False)``
  unfreezes (sensible when no ImageNet weights are available). Head: GAP 2048 -> dense 256
  ReLU -> dropout 0.5 -> dense num_classes; penultimate features are the 256 ReLU outputs.
- ``resnet18-transfer``'s "head 512->512->256->7" is GAP 512 -> FC 512 -> FC 256 -> FC
  num_classes with ReLU and dropout 0.5 after each hidden FC; all layers trainable.
  Penultimate features are the 256 ReLU outputs (before the dropout).
- The study-D training transform (resize 256 + random 224 crop, flip, +-10 deg,
  brightness/contrast) is data augmentation, not part of the model; the recipe notes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torchvision
from torch import Tensor, nn

from classifiers.models.base import BackboneClassifier, ImageNetInputAdapter
from classifiers.registry import register_model


def _mlp(dims: Sequence[int], drop_rate: float) -> nn.Sequential:
    """Linear+ReLU per step, dropout between steps (the last dropout goes in the classifier)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        if i:
            layers.append(nn.Dropout(drop_rate))
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ResNetTransfer(BackboneClassifier):
    """Input adapter -> torchvision ResNet (fc removed) -> MLP head -> dropout -> FC."""

    def __init__(
        self,
        arch: str,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 224,
        hidden: Sequence[int] = (256,),
        drop_rate: float = 0.5,
        frozen: bool = False,
        class_names: Sequence[str] | None = None,
    ) -> None:
        adapter = ImageNetInputAdapter(in_chans, input_size, out_chans=3)
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("hidden must name at least one layer width")
        super().__init__(num_classes, in_chans, hidden[-1], class_names, adapter.spec)
        self.imagenet_arch = arch
        self.input_size = input_size
        self.input_adapter = adapter
        builders = {"resnet50": torchvision.models.resnet50, "resnet18": torchvision.models.resnet18}
        if arch not in builders:
            raise ValueError(f"arch must be one of {', '.join(builders)}, got {arch!r}")
        net = builders[arch](weights=None)  # weights=None: never download
        width = net.fc.in_features
        net.fc = nn.Identity()  # the backbone returns the GAP features
        self.backbone = net
        self.neck = _mlp((width, *hidden), drop_rate)
        self.classifier = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(hidden[-1], num_classes))
        if frozen:
            self.freeze_backbone(True)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.backbone(self.input_adapter(x)))


@register_model(
    "resnet50-transfer",
    study="B",
    description="ImageNet ResNet-50 at 224x224x3 (grey replicated), base frozen, dense 256, dropout 0.5",
)
def resnet50_transfer(num_classes: int = 7, in_chans: int = 1, frozen: bool = True, **kw) -> ResNetTransfer:
    return ResNetTransfer("resnet50", num_classes=num_classes, in_chans=in_chans, frozen=frozen, **kw)


@register_model(
    "resnet18-transfer",
    study="D",
    description="ImageNet ResNet-18 at 224x224x3 (grey replicated), all trainable, head 512-256, dropout 0.5",
)
def resnet18_transfer(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNetTransfer:
    kw.setdefault("hidden", (512, 256))
    return ResNetTransfer("resnet18", num_classes=num_classes, in_chans=in_chans, **kw)
