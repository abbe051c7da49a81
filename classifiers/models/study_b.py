"""Study B's from-scratch CNNs: ``basic-cnn`` and ``deep-cnn`` (48x48 grey).

Resolved ambiguities:
- Convolutions are 3x3 with "same" padding (the text gives no padding), so each max-pool
  halves the size: 48 -> 24 -> 12 (-> 6).
- ``deep-cnn``: the dropout 0.5 sits between the flattened conv features and dense 512, as
  listed; dense 512 has a ReLU. Its penultimate features are the 512 ReLU outputs.
- Default PyTorch initialisation (the study names none).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, FERClassifier, toolkit_spec
from classifiers.registry import register_model


class BasicCNN(FERClassifier):
    """conv32-pool, conv64-pool (3x3, ReLU), flatten, dense 128 ReLU, dense num_classes."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        hidden: int = 128,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            num_classes, in_chans, hidden, class_names, toolkit_spec(in_chans), fixed_size=TOOLKIT_SIZE
        )
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (TOOLKIT_SIZE // 4) ** 2, hidden),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(hidden, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.features(x)


class DeepCNN(FERClassifier):
    """3 blocks (32, 64, 128) of conv+BN+ReLU+maxpool, dropout, dense 512 ReLU, dense."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        hidden: int = 512,
        drop_rate: float = 0.5,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            num_classes, in_chans, hidden, class_names, toolkit_spec(in_chans), fixed_size=TOOLKIT_SIZE
        )
        layers: list[nn.Module] = []
        prev = in_chans
        for w in widths:
            # No conv bias: the BN right after it has its own shift.
            layers += [
                nn.Conv2d(prev, w, 3, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            prev = w
        side = TOOLKIT_SIZE // 2 ** len(widths)
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.neck = nn.Sequential(
            nn.Dropout(drop_rate),
            nn.Linear(prev * side * side, hidden),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(hidden, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.features(x))


@register_model(
    "basic-cnn", study="B", description="2 conv+pool layers (32, 64), dense 128; the study's baseline"
)
def basic_cnn(num_classes: int = 7, in_chans: int = 1, **kw) -> BasicCNN:
    return BasicCNN(num_classes=num_classes, in_chans=in_chans, **kw)


@register_model(
    "deep-cnn",
    study="B",
    description="3 conv+BN+ReLU+pool blocks (32, 64, 128), dropout 0.5, dense 512; study B's best",
)
def deep_cnn(num_classes: int = 7, in_chans: int = 1, **kw) -> DeepCNN:
    return DeepCNN(num_classes=num_classes, in_chans=in_chans, **kw)
