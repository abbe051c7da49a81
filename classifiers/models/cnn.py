"""Plain convolutional stacks at 48x48: ``basic-cnn``, ``deep-cnn`` (study B), ``cnn-baseline``,
``cnn-improved`` (study A) and ``cnn-e`` (study E).

Resolved ambiguities:
- Convolutions are 3x3 with "same" padding (no study gives padding), so each 2x2 max-pool
  halves the size: 48 -> 24 -> 12 -> 6.
- Study B: ``deep-cnn``'s dropout 0.5 sits between the flattened conv features and dense 512,
  as listed; dense 512 has a ReLU. Its penultimate features are the 512 ReLU outputs. Default
  PyTorch initialisation (the study names none).
- Study A: ReLU after each conv, no BatchNorm (none is listed); block1 has no pooling (none
  is listed), so 48 -> 48 -> 24 -> 12 -> 6. "FC 1024" has a ReLU and is followed by the
  classifier layer (the softmax lives in the loss). ``cnn-improved``'s "fifth conv (128ch)"
  is read as a fifth block: one 3x3 conv to 128 channels at 6x6, ReLU, then dropout 0.3
  (element-wise, Keras style), no pooling.
- Study E: ``cnn-e`` convs have no bias (BatchNorm follows); dropout 0.2 on the flattened conv
  features, FC 4096 ReLU, dropout 0.5, FC 1024 ReLU, FC 256 ReLU, FC num_classes, exactly as
  listed. "Gaussian init std 0.04" is applied to every conv and linear weight (biases zero,
  BatchNorm at its defaults).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, FERClassifier, toolkit_spec
from classifiers.models.blocks import conv_bn_relu, dense_stack
from classifiers.recipes import OUR_SCHEDULE_NOTE, STUDY_E_DEFAULTS, Recipe
from classifiers.registry import Provenance, register_model

# --- study B ---------------------------------------------------------------------------------


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
    "basic-cnn",
    description="2 conv+pool layers (32, 64), dense 128; the study's baseline",
    provenance=Provenance(study="B", reported="44%", dataset="FER2013 test"),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=30, batch_size=64, augment="light",
        notes="study B baseline: Adam 1e-3, batch 64" + OUR_SCHEDULE_NOTE,
    ),
)  # fmt: skip
def basic_cnn(num_classes: int = 7, in_chans: int = 1, **kw) -> BasicCNN:
    return BasicCNN(num_classes=num_classes, in_chans=in_chans, **kw)


@register_model(
    "deep-cnn",
    description="3 conv+BN+ReLU+pool blocks (32, 64, 128), dropout 0.5, dense 512; study B's best",
    provenance=Provenance(study="B", reported="best of study B (no figure given)"),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=60, batch_size=64, scheduler="plateau",
        plateau_factor=0.5, plateau_patience=5, augment="standard",
        notes="study B: Adam 1e-3, batch 64" + OUR_SCHEDULE_NOTE,
    ),
)  # fmt: skip
def deep_cnn(num_classes: int = 7, in_chans: int = 1, **kw) -> DeepCNN:
    return DeepCNN(num_classes=num_classes, in_chans=in_chans, **kw)


# --- study A ---------------------------------------------------------------------------------


class StudyACNN(FERClassifier):
    """cnn-baseline (4 blocks, 5 convs, FC 1024), optionally with cnn-improved's fifth block."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        improved: bool = False,
        hidden: int = 1024,
        drop_rate: float = 0.3,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            num_classes, in_chans, hidden, class_names, toolkit_spec(in_chans), fixed_size=TOOLKIT_SIZE
        )

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]

        layers = [
            *conv(in_chans, 32), *conv(32, 32),                 # block1
            *conv(32, 32), nn.MaxPool2d(2),                     # block2
            *conv(32, 64), nn.MaxPool2d(2),                     # block3
            *conv(64, 64), nn.MaxPool2d(2),                     # block4
        ]  # fmt: skip
        last = 64
        if improved:
            layers += [*conv(64, 128), nn.Dropout(drop_rate)]   # block5
            last = 128
        self.improved = improved
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.neck = nn.Sequential(nn.Linear(last * (TOOLKIT_SIZE // 8) ** 2, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.features(x))


@register_model(
    "cnn-baseline",
    description="5 convs in 4 blocks (32, 32, 64, 64), 3 max-pools, FC 1024",
    provenance=Provenance(study="A", reported="62.98%", dataset="AffectNet-8 (48x48 grey)"),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam 1e-3, batch 64" + OUR_SCHEDULE_NOTE,
    ),
)  # fmt: skip
def cnn_baseline(num_classes: int = 7, in_chans: int = 1, **kw) -> StudyACNN:
    return StudyACNN(num_classes=num_classes, in_chans=in_chans, improved=False, **kw)


@register_model(
    "cnn-improved",
    description="cnn-baseline plus a fifth conv block (128ch) with dropout 0.3",
    provenance=Provenance(study="A", reported="75.14%", dataset="AffectNet-8"),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=50, batch_size=64, augment="light",
        notes="study A: Adam; the study grid-searched batch {64,128,256} x lr {1e-3,5e-3,1e-2} "
        "and averaged 3 seeds; this is the grid's first point (batch 64, lr 1e-3)" + OUR_SCHEDULE_NOTE,
    ),
)  # fmt: skip
def cnn_improved(num_classes: int = 7, in_chans: int = 1, **kw) -> StudyACNN:
    return StudyACNN(num_classes=num_classes, in_chans=in_chans, improved=True, **kw)


# --- study E ---------------------------------------------------------------------------------


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
            layers += [*conv_bn_relu(prev, w), nn.MaxPool2d(2)]
            prev = w
        side = TOOLKIT_SIZE // 2 ** len(widths)
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(conv_drop_rate))
        self.neck = dense_stack((prev * side * side, *fc), dropout_after_first=fc_drop_rate)
        self.classifier = nn.Linear(fc[-1], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, init_std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.neck(self.features(x))


@register_model(
    "cnn-e",
    description="3 conv+BN+pool blocks (64, 128, 256), FC 4096-1024-256, Gaussian init std 0.04",
    provenance=Provenance(study="E", reported="57.15%", dataset="an unstated dataset"),
    recipe=STUDY_E_DEFAULTS,
)
def cnn_e(num_classes: int = 7, in_chans: int = 1, **kw) -> CNNE:
    return CNNE(num_classes=num_classes, in_chans=in_chans, **kw)
