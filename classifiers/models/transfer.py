"""Designs built around an ImageNet ResNet backbone: ``resnet50-gray`` (study C),
``resnet50-transfer`` (study B) and ``resnet18-transfer`` (study D).

Each can load ImageNet weights (:func:`classifiers.pretrained.load_imagenet_weights`, wired by
:func:`classifiers.registry.create_model`) and trains from scratch without them.

Resolved ambiguities, ``resnet50-gray`` (48x48 grey, no resizing):
- "First conv made single-channel by averaging the RGB kernels": conv1 has ``in_chans`` input
  channels; ``load_imagenet_weights`` fills it with W.mean(dim=1, keepdim=True) when ImageNet
  weights are given. The input adapter normalises with one-channel ImageNet statistics (std
  divided by 3 to undo the averaging's 1/3 gain, see :class:`ImageNetInputAdapter`).
- "Some pooling removed to keep resolution": conv1 stride 1 and no max-pool, so layer1 runs at
  48x48 and layer4 at 6x6 (``stem_stride=2`` / ``maxpool=True`` give cheaper variants).
- Head: GAP -> L2-normalise -> learnable per-feature scale gamma (init 1) and shift beta
  (init 0) over the 2048 features -> FC 2048->128, BN, ReLU, dropout -> FC 128->64, BN, ReLU,
  dropout -> FC 64->num_classes. The study gives no dropout rate: 0.3 (``drop_rate=``).
  Penultimate features are the 64-d ReLU outputs.
- "Pretrained layers frozen at first": not frozen at construction (a random backbone must not
  be frozen by surprise); the recipe's ``freeze_epochs`` tells the trainer how long to call
  ``freeze_backbone(True)``. The head is everything outside ``backbone``.

Resolved ambiguities, ``resnet50-transfer`` and ``resnet18-transfer`` (224x224x3): both put an
:class:`ImageNetInputAdapter` in front (toolkit [-1, 1] 48x48 grey -> [0, 1] -> bilinear
antialiased resize to ``input_size`` (default 224; e.g. 112 on a CPU budget) -> grey
replicated to RGB -> ImageNet normalisation), then a torchvision ResNet with its fc replaced by
the study's head.
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

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, BackboneClassifier, ImageNetInputAdapter
from classifiers.recipes import Recipe
from classifiers.registry import Provenance, register_model

# --- resnet50-gray (study C) -----------------------------------------------------------------


class ResNet50Gray(BackboneClassifier):
    imagenet_arch = "resnet50"

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        stem_stride: int = 1,
        maxpool: bool = False,
        hidden: Sequence[int] = (128, 64),
        drop_rate: float = 0.3,
        frozen: bool = False,
        class_names: Sequence[str] | None = None,
    ) -> None:
        adapter = ImageNetInputAdapter(in_chans, TOOLKIT_SIZE, out_chans=in_chans)
        super().__init__(num_classes, in_chans, hidden[-1], class_names, adapter.spec)
        self.input_adapter = adapter
        net = torchvision.models.resnet50(weights=None)
        net.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=stem_stride, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        if not maxpool:
            net.maxpool = nn.Identity()
        net.fc = nn.Identity()  # the backbone returns the 2048 GAP features
        self.backbone = net
        # Learnable affine on the unit-norm embedding.
        self.gamma = nn.Parameter(torch.ones(2048))
        self.beta = nn.Parameter(torch.zeros(2048))
        layers: list[nn.Module] = []
        prev = 2048
        for h in hidden:
            layers += [nn.Dropout(drop_rate)] if layers else []
            layers += [nn.Linear(prev, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            prev = h
        self.neck = nn.Sequential(*layers)
        # The last dropout belongs to the classifier so forward_features gives clean features.
        self.classifier = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(prev, num_classes))
        if frozen:
            self.freeze_backbone(True)

    def forward_features(self, x: Tensor) -> Tensor:
        self.check_input(x)
        z = F.normalize(self.backbone(self.input_adapter(x)), dim=1)
        return self.neck(z * self.gamma + self.beta)


@register_model(
    "resnet50-gray",
    description="ImageNet ResNet-50, single-channel conv1 (mean of RGB kernels), no stem downsampling; "
    "L2-norm + affine head, FC 128-64",
    provenance=Provenance(
        study="C", reported="85.7%",
        dataset="FER2013, 80/20 random split (leaks near-duplicates: not credible)",
    ),
    recipe=Recipe(
        optimizer="adam", lr=1e-4, betas=(0.9, 0.999), epochs=60, batch_size=32,
        class_weights=(0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1), freeze_epochs=5, augment="light",
        notes="study C: Adam lr 1e-4 betas 0.9/0.999, 60 epochs, batch 32, weighted CE with "
        "w = [0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1] as printed in FER2013 order (it weights happy, "
        "the largest class, highest: likely a mis-print, kept as given; try class_weights="
        "'inverse'); 'pretrained layers frozen at first': 5 frozen epochs and the augmentation "
        "are our choice; the study's 80/20 random split leaks near-duplicates, use the official "
        "splits",
    ),
)  # fmt: skip
def resnet50_gray(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNet50Gray:
    return ResNet50Gray(num_classes=num_classes, in_chans=in_chans, **kw)


# --- resnet50-transfer (study B), resnet18-transfer (study D) --------------------------------


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
    description="ImageNet ResNet-50 at 224x224x3 (grey replicated), base frozen, dense 256, dropout 0.5",
    provenance=Provenance(study="B", reported="72%", dataset="validation data (dataset not stated)"),
    recipe=Recipe(
        optimizer="adam", lr=1e-4, epochs=30, batch_size=32, early_stopping_patience=5,
        freeze_epochs=30, augment="light",
        notes="study B: Adam 1e-4, base frozen throughout (freeze_epochs = epochs), mixed "
        "precision, early stopping patience 5; epochs cap, batch size and augmentation are our "
        "choice",
    ),
)  # fmt: skip
def resnet50_transfer(num_classes: int = 7, in_chans: int = 1, frozen: bool = True, **kw) -> ResNetTransfer:
    return ResNetTransfer("resnet50", num_classes=num_classes, in_chans=in_chans, frozen=frozen, **kw)


@register_model(
    "resnet18-transfer",
    description="ImageNet ResNet-18 at 224x224x3 (grey replicated), all trainable, head 512-256, dropout 0.5",
    provenance=Provenance(study="D", reported="70%", dataset="test data (dataset not stated)"),
    recipe=Recipe(
        optimizer="sgd", lr=0.0229, momentum=0.9, weight_decay=1e-4, scheduler="onecycle",
        epochs=50, batch_size=32, augment="strong",
        notes="study D: SGD lr 0.0229 momentum 0.9 wd 1e-4, OneCycle over 50 epochs, batch 32, "
        "all layers trainable; train transform resize 256 + random 224 crop, flip, +-10 deg, "
        "brightness/contrast (augment 'strong'), ImageNet normalisation (in the model)",
    ),
)  # fmt: skip
def resnet18_transfer(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNetTransfer:
    kw.setdefault("hidden", (512, 256))
    return ResNetTransfer("resnet18", num_classes=num_classes, in_chans=in_chans, **kw)
