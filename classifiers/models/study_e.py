"""Study E's recognisers at 48x48 grey: ``cnn-e``, ``vgg-e``, ``resnet18-e``.

Resolved ambiguities:
- Convolutions are 3x3, "same" padding, no bias (BatchNorm follows), 2x2 max-pool per block:
  48 -> 24 -> 12 -> 6.
- ``cnn-e``: dropout 0.2 on the flattened conv features, FC 4096 ReLU, dropout 0.5, FC 1024
  ReLU, FC 256 ReLU, FC num_classes, exactly as listed. "Gaussian init std 0.04" is applied
  to every conv and linear weight (biases zero, BatchNorm at its defaults).
- ``vgg-e``: BN and ReLU after *every* conv (VGG-BN style), max-pool once per block;
  dropout 0.5 on the flattened features, then FC 4096, 4096, 1024, 256 (ReLU each) and FC
  num_classes. The study gives no init: Kaiming-normal for convs and hidden linears,
  N(0, 0.01) for the last layer (VGG's N(0, 0.01) everywhere vanishes through five FCs).
- ``resnet18-e``: torchvision ResNet-18 (weights=None, from scratch as the study says) with
  conv1 taking ``in_chans`` channels; 7x7 stride-2 stem and max-pool kept as listed, so
  48x48 reaches layer4 at 2x2. No ImageNet weights are wired (the study trains from scratch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torchvision
from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, FERClassifier, toolkit_spec
from classifiers.registry import register_model


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _dense_stack(dims: Sequence[int], dropout_after_first: float | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(inplace=True)]
        if i == 0 and dropout_after_first:
            layers.append(nn.Dropout(dropout_after_first))
    return nn.Sequential(*layers)


class CNNE(FERClassifier):
    """conv64, conv128, conv256 blocks; dropout 0.2; FC 4096, dropout 0.5, FC 1024, FC 256, FC."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        widths: Sequence[int] = (64, 128, 256),
        fc: Sequence[int] = (4096, 1024, 256),
        conv_drop_rate: float = 0.2,
        fc_drop_rate: float = 0.5,
        init_std: float = 0.04,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            num_classes, in_chans, fc[-1], class_names, toolkit_spec(in_chans), fixed_size=TOOLKIT_SIZE
        )
        layers: list[nn.Module] = []
        prev = in_chans
        for w in widths:
            layers += [*_conv_bn_relu(prev, w), nn.MaxPool2d(2)]
            prev = w
        side = TOOLKIT_SIZE // 2 ** len(widths)
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(conv_drop_rate))
        self.neck = _dense_stack((prev * side * side, *fc), dropout_after_first=fc_drop_rate)
        self.classifier = nn.Linear(fc[-1], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.features(x))


class VGGE(FERClassifier):
    """VGG-style blocks 2x32, 3x64, 3x128 (conv+BN+ReLU, pool per block); dropout 0.5; FC stack."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        blocks: Sequence[tuple[int, int]] = ((2, 32), (3, 64), (3, 128)),
        fc: Sequence[int] = (4096, 4096, 1024, 256),
        drop_rate: float = 0.5,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            num_classes, in_chans, fc[-1], class_names, toolkit_spec(in_chans), fixed_size=TOOLKIT_SIZE
        )
        layers: list[nn.Module] = []
        prev = in_chans
        for n_convs, w in blocks:
            for _ in range(n_convs):
                layers += _conv_bn_relu(prev, w)
                prev = w
            layers.append(nn.MaxPool2d(2))
        side = TOOLKIT_SIZE // 2 ** len(blocks)
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(drop_rate))
        self.neck = _dense_stack((prev * side * side, *fc))
        self.classifier = nn.Linear(fc[-1], num_classes)
        # Kaiming for every ReLU layer: VGG's N(0, 0.01) linears would make the signal vanish
        # through five stacked FCs (logit std ~1e-4 at init).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.classifier.weight, 0.0, 0.01)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.features(x))


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
    "cnn-e",
    study="E",
    description="3 conv+BN+pool blocks (64, 128, 256), FC 4096-1024-256, Gaussian init std 0.04",
)
def cnn_e(num_classes: int = 7, in_chans: int = 1, **kw) -> CNNE:
    return CNNE(num_classes=num_classes, in_chans=in_chans, **kw)


@register_model(
    "vgg-e",
    study="E",
    description="VGG-style 2x32, 3x64, 3x128 conv+BN blocks, dropout 0.5, FC 4096-4096-1024-256",
)
def vgg_e(num_classes: int = 7, in_chans: int = 1, **kw) -> VGGE:
    return VGGE(num_classes=num_classes, in_chans=in_chans, **kw)


@register_model(
    "resnet18-e",
    study="E",
    description="ResNet-18 from scratch at 48x48 grey: 7x7 stem, max-pool, 4 stages x 2 basic blocks, GAP",
)
def resnet18_e(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNet18E:
    return ResNet18E(num_classes=num_classes, in_chans=in_chans, **kw)
