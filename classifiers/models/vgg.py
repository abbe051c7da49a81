"""VGG-style networks at 48x48 grey: ``vgg-e`` (study E) and ``fer-vgg`` (the toolkit's own).

Resolved ambiguities:
- Convolutions are 3x3, "same" padding, no bias (BatchNorm follows), 2x2 max-pool per block:
  48 -> 24 -> 12 -> 6.
- BN and ReLU after *every* conv (VGG-BN style), max-pool once per block; dropout 0.5 on the
  flattened features, then FC 4096, 4096, 1024, 256 (ReLU each) and FC num_classes. The study
  gives no init: Kaiming-normal for convs and hidden linears, N(0, 0.01) for the last layer
  (VGG's N(0, 0.01) everywhere vanishes through five FCs).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, FERClassifier, toolkit_spec
from classifiers.models.blocks import conv_bn_relu, dense_stack
from classifiers.recipes import STUDY_E_DEFAULTS, Recipe
from classifiers.registry import Provenance, register_model


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
                layers += conv_bn_relu(prev, w)
                prev = w
            layers.append(nn.MaxPool2d(2))
        side = TOOLKIT_SIZE // 2 ** len(blocks)
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Dropout(drop_rate))
        self.neck = dense_stack((prev * side * side, *fc))
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


@register_model(
    "vgg-e",
    description="VGG-style 2x32, 3x64, 3x128 conv+BN blocks, dropout 0.5, FC 4096-4096-1024-256",
    provenance=Provenance(study="E", reported="58.83%", dataset="an unstated dataset"),
    recipe=STUDY_E_DEFAULTS,
)
def vgg_e(num_classes: int = 7, in_chans: int = 1, **kw) -> VGGE:
    return VGGE(num_classes=num_classes, in_chans=in_chans, **kw)


@register_model(
    "fer-vgg",
    description="VGG-style 1x32, 1x64, 2x128, 2x256 conv+BN blocks, dropout 0.5, FC 256; the toolkit's FER2013 design",
    provenance=Provenance(study="toolkit", reported="no figure: the toolkit's own design, not a study's"),
    recipe=Recipe(
        optimizer="sgd", lr=0.04, momentum=0.9, nesterov=True, weight_decay=5e-4, epochs=15, batch_size=64,
        scheduler="onecycle", label_smoothing=0.1, augment="standard",
        notes="ours: a VGG whose convolutions sit where the maps are small (two at 12x12, two at 6x6), "
        "so an epoch of FER2013 takes about 2 minutes on 2 AVX2 cores; SGD with Nesterov momentum and a "
        "one-cycle schedule, as the strong FER2013 recipes use",
    ),
)  # fmt: skip
def fer_vgg(num_classes: int = 7, in_chans: int = 1, **kw) -> VGGE:
    kw.setdefault("blocks", ((1, 32), (1, 64), (2, 128), (2, 256)))
    kw.setdefault("fc", (256,))
    return VGGE(num_classes=num_classes, in_chans=in_chans, **kw)
