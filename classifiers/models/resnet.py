"""Residual networks trained from scratch: ``resnet-baseline``, ``se-resnet`` (study A) and
``resnet18-e`` (study E).

Resolved ambiguities:
- ``resnet-baseline``: torchvision basic blocks (conv-BN-ReLU-conv-BN + identity, 1x1
  conv+BN projection when the shape changes), stem 3x3 conv+BN+ReLU at 16 channels, no pooling
  in the stem.
- ``se-resnet``: torchvision ResNet-50 with a squeeze-and-excitation module (reduction 16) in
  every bottleneck. "On every block output" is read as Hu et al.'s SE-ResNet: the SE gate
  scales the residual branch's output just before the identity is added
  (``se_placement="residual"``); ``se_placement="output"`` gates the block's output after the
  addition and ReLU instead. Default input is the study's 224x224x3 through the ImageNet input
  adapter (``input_size=`` overrides, e.g. 112). ``input_size=48`` is the study's 48x48x1
  variant: the stem conv gets stride 1 and the max-pool goes, so layer4 still sees 6x6.
  Its backbone can take ImageNet ResNet-50 weights (the SE modules then start random); the
  study's recipe trains from scratch.
- ``resnet18-e``: torchvision ResNet-18 (weights=None, from scratch as the study says) with
  conv1 taking ``in_chans`` channels; 7x7 stride-2 stem and max-pool kept as listed, so
  48x48 reaches layer4 at 2x2. No ImageNet weights are wired (the study trains from scratch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from classifiers.models.base import (
    TOOLKIT_SIZE,
    BackboneClassifier,
    FERClassifier,
    ImageNetInputAdapter,
    toolkit_spec,
)
from classifiers.recipes import OUR_SCHEDULE_NOTE, STUDY_E_DEFAULTS, Recipe
from classifiers.registry import Provenance, register_model

# --- resnet-baseline (study A) ---------------------------------------------------------------


def _basic_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
        )
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNetBaseline(FERClassifier):
    """Small CIFAR-style ResNet: 3x3 stem 16ch, stages 16/32/64 x 2 basic blocks, GAP, dense."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        widths: Sequence[int] = (16, 32, 64),
        blocks_per_stage: int = 2,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(num_classes, in_chans, widths[-1], class_names, toolkit_spec(in_chans))
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages = []
        prev = widths[0]
        for i, w in enumerate(widths):
            stages.append(_basic_stage(prev, w, blocks_per_stage, stride=1 if i == 0 else 2))
            prev = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(prev, num_classes)
        # Same initialisation as torchvision's ResNets.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.pool(self.stages(self.stem(x)))


@register_model(
    "resnet-baseline",
    description="small ResNet: 3x3 stem 16ch, 2 basic blocks each at 16/32/64, GAP, dense",
    provenance=Provenance(study="A", reported="66.39%", dataset="AffectNet-8"),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam 1e-3, batch 64" + OUR_SCHEDULE_NOTE,
    ),
)  # fmt: skip
def resnet_baseline(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNetBaseline:
    return ResNetBaseline(num_classes=num_classes, in_chans=in_chans, **kw)


# --- se-resnet (study A) ---------------------------------------------------------------------


class SqueezeExcite(nn.Module):
    """Channel gate: GAP -> 1x1 conv (C/r) -> ReLU -> 1x1 conv (C) -> sigmoid -> scale."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(s))))


class SEBottleneck(nn.Module):
    """A torchvision Bottleneck with an SE gate.

    Takes over the block's own submodules under the same attribute names, so the state-dict
    keys stay torchvision's (ImageNet weights load) plus ``.se.*``.
    """

    def __init__(
        self, block: Bottleneck, reduction: int = 16, placement: Literal["residual", "output"] = "residual"
    ) -> None:
        super().__init__()
        if placement not in ("residual", "output"):
            raise ValueError(f"se_placement must be 'residual' or 'output', got {placement!r}")
        self.conv1, self.bn1 = block.conv1, block.bn1
        self.conv2, self.bn2 = block.conv2, block.bn2
        self.conv3, self.bn3 = block.conv3, block.bn3
        self.relu = block.relu
        self.downsample = block.downsample
        self.se = SqueezeExcite(block.bn3.num_features, reduction)
        self.placement = placement

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.placement == "residual":
            return self.relu(self.se(out) + identity)
        return self.se(self.relu(out + identity))


def _stem_for_48(net: torchvision.models.ResNet, in_chans: int) -> None:
    """Stride-1 stem, no max-pool: 48x48 input keeps 48x48 into layer1 (6x6 at layer4)."""
    net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=1, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    net.maxpool = nn.Identity()


class SEResNet50(BackboneClassifier):
    """ResNet-50 with SE in every bottleneck; GAP, FC num_classes."""

    imagenet_arch = "resnet50"

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        input_size: int = 224,
        se_reduction: int = 16,
        se_placement: Literal["residual", "output"] = "residual",
        class_names: Sequence[str] | None = None,
    ) -> None:
        native = input_size == TOOLKIT_SIZE
        adapter = ImageNetInputAdapter(in_chans, input_size, out_chans=in_chans if native else 3)
        super().__init__(num_classes, in_chans, 2048, class_names, adapter.spec)
        self.input_size = input_size
        self.input_adapter = adapter
        net = torchvision.models.resnet50(weights=None)
        if native:
            _stem_for_48(net, in_chans)
        for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
            for i, block in enumerate(stage):
                stage[i] = SEBottleneck(block, se_reduction, se_placement)
        net.fc = nn.Identity()  # the backbone returns the 2048 GAP features
        self.backbone = net
        self.classifier = nn.Linear(2048, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.backbone(self.input_adapter(x))


@register_model(
    "se-resnet",
    description="ResNet-50 with squeeze-and-excitation in every block; 224x224x3 (input_size=48: 48x48x1)",
    provenance=Provenance(study="A", reported="75.28%", dataset="AffectNet-8"),
    recipe=Recipe(
        optimizer="adamw", lr=1e-3, weight_decay=1e-5, epochs=50, batch_size=64,
        scheduler="plateau", plateau_factor=0.5, plateau_patience=5, label_smoothing=0.1,
        early_stopping_patience=7, augment="light",
        notes="study A: AdamW lr 1e-3 wd 1e-5, ReduceLROnPlateau(0.5, patience 5), early stopping "
        "patience 7 restoring best weights, label smoothing 0.1, flip + 15% margin crop "
        "(augment 'light'); epochs cap and batch size are our choice",
    ),
)  # fmt: skip
def se_resnet(num_classes: int = 7, in_chans: int = 1, **kw) -> SEResNet50:
    return SEResNet50(num_classes=num_classes, in_chans=in_chans, **kw)


# --- resnet18-e (study E) --------------------------------------------------------------------


class ResNet18E(FERClassifier):
    """torchvision ResNet-18 from scratch (7x7 stem, max-pool, 4x2 basic blocks), GAP, FC."""

    def __init__(
        self, num_classes: int = 7, in_chans: int = 1, class_names: Sequence[str] | None = None
    ) -> None:
        super().__init__(num_classes, in_chans, 512, class_names, toolkit_spec(in_chans))
        net = torchvision.models.resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.fc = nn.Identity()  # the network returns the 512 GAP features
        self.net = net
        self.classifier = nn.Linear(512, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.net(x)


@register_model(
    "resnet18-e",
    description="ResNet-18 from scratch at 48x48 grey: 7x7 stem, max-pool, 4 stages x 2 basic blocks, GAP",
    provenance=Provenance(study="E", reported="60.00%", dataset="an unstated dataset"),
    recipe=STUDY_E_DEFAULTS,
)
def resnet18_e(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNet18E:
    return ResNet18E(num_classes=num_classes, in_chans=in_chans, **kw)
