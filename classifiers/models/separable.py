"""Depthwise-separable networks: ``mini-xception`` (study E's real-time recogniser).

Study E's real-time recogniser is a depthwise-separable, mini-Xception-class network of tens of
thousands of parameters; the reference doc lists no layers for it, so this is the mini-Xception
of Arriaga et al. 2017 ("Real-time convolutional neural networks for emotion and gender
classification"), layer for layer as in the authors' Keras code.

Resolved ambiguities:
- Stem: two 3x3 convs at 8 channels with *valid* padding (as in the Keras code), each without
  bias and followed by BN and ReLU: 48 -> 46 -> 44.
- Four residual modules at 16, 32, 64, 128 channels: separable conv, BN, ReLU, separable conv,
  BN, 3x3 max-pool stride 2, plus a 1x1 stride-2 conv+BN shortcut; no ReLU after the sum.
  44 -> 22 -> 11 -> 6 -> 3. A separable conv is Keras' SeparableConv2D without bias: a 3x3
  depthwise conv (``groups`` = channels, depth multiplier 1), then a 1x1 pointwise conv.
  Keras' "same" pooling puts an odd padding pixel at the bottom/right; PyTorch pads both sides
  alike (same output sizes), which keeps each pooling window centred on the pixel the stride-2
  shortcut samples.
- Head: a 3x3 "same" conv (with bias) to ``num_classes`` and global average pooling give the
  logits, as in the paper; so the penultimate features are the last module's 128x3x3 map,
  flattened (``num_features`` 1152), and ``classifier`` unflattens them for that conv.
- Initialisation: Keras' defaults, Glorot-uniform conv kernels and a zero bias.
- Not reproduced: the Keras code's L2 penalty of 0.01 on the stem and separable kernels only
  (the trainer's weight decay covers every parameter alike).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, FERClassifier, toolkit_spec
from classifiers.recipes import Recipe
from classifiers.registry import Provenance, register_model


def separable_conv(cin: int, cout: int) -> list[nn.Module]:
    """A 3x3 "same" depthwise conv (one filter per channel), then a 1x1 pointwise conv; no bias.

    Layers rather than one module: the BatchNorm that follows then sits next to the pointwise
    conv in one Sequential, where inference's fold_batchnorm merges the pair.
    """
    return [
        nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
    ]


class XceptionModule(nn.Module):
    """Two separable convs and a stride-2 max-pool, added to a 1x1 stride-2 conv+BN shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            *separable_conv(cin, cout),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            *separable_conv(cout, cout),
            nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        return self.branch(x) + self.shortcut(x)


class MiniXception(FERClassifier):
    """Stem 2x conv8 (valid), residual separable modules 16/32/64/128, 3x3 conv to classes, GAP."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        stem_width: int = 8,
        widths: Sequence[int] = (16, 32, 64, 128),
        class_names: Sequence[str] | None = None,
    ) -> None:
        side = TOOLKIT_SIZE - 4  # two valid 3x3 convs
        for _ in widths:
            side = (side + 1) // 2  # each module halves, rounding up
        super().__init__(
            num_classes, in_chans, widths[-1] * side * side, class_names, toolkit_spec(in_chans),
            fixed_size=TOOLKIT_SIZE,
        )
        stem: list[nn.Module] = []
        prev = in_chans
        for _ in range(2):
            stem += [nn.Conv2d(prev, stem_width, 3, bias=False), nn.BatchNorm2d(stem_width), nn.ReLU(inplace=True)]
            prev = stem_width
        modules: list[nn.Module] = []
        for w in widths:
            modules.append(XceptionModule(prev, w))
            prev = w
        self.features = nn.Sequential(*stem, *modules, nn.Flatten())
        self.classifier = nn.Sequential(
            nn.Unflatten(1, (prev, side, side)),
            nn.Conv2d(prev, num_classes, 3, padding=1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.features(x)


@register_model(
    "mini-xception",
    description="mini-Xception: 2 conv8 stem, 4 residual depthwise-separable modules (16-128), conv + GAP head",
    provenance=Provenance(
        study="E",
        reported="0.22 ms/face, 80 frames/s (speed only, no accuracy reported)",
        dataset="live video; the frames/s include face detection (hardware unstated)",
    ),
    recipe=Recipe(
        optimizer="adam", lr=1e-3, epochs=100, batch_size=32, scheduler="plateau",
        plateau_factor=0.1, plateau_patience=12, early_stopping_patience=50, augment="standard",
        notes="study E gives no recipe; Arriaga et al.'s training script: Adam 1e-3, batch 32, "
        "ReduceLROnPlateau(0.1, 12), early stopping 50, flip/rotation/shift/zoom augmentation "
        "('standard' is our closest preset); they monitor val_loss (--monitor val_loss) and "
        "allow 10,000 epochs, we cap at 100",
    ),
)  # fmt: skip
def mini_xception(num_classes: int = 7, in_chans: int = 1, **kw) -> MiniXception:
    return MiniXception(num_classes=num_classes, in_chans=in_chans, **kw)
