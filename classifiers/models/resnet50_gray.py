"""Study C's ``resnet50-gray``: ImageNet ResNet-50 made single-channel, run at 48x48.

Resolved ambiguities:
- "First conv made single-channel by averaging the RGB kernels": conv1 has ``in_chans`` input
  channels; :func:`classifiers.pretrained.load_imagenet_weights` fills it with
  W.mean(dim=1, keepdim=True) when ImageNet weights are given. The input adapter normalises
  with one-channel ImageNet statistics (std divided by 3 to undo the averaging's 1/3 gain,
  see :class:`ImageNetInputAdapter`); no resizing.
- "Some pooling removed to keep resolution": conv1 stride 1 and no max-pool, so layer1 runs at
  48x48 and layer4 at 6x6 (``stem_stride=2`` / ``maxpool=True`` give cheaper variants).
- Head: GAP -> L2-normalise -> learnable per-feature scale gamma (init 1) and shift beta
  (init 0) over the 2048 features -> FC 2048->128, BN, ReLU, dropout -> FC 128->64, BN, ReLU,
  dropout -> FC 64->num_classes. The study gives no dropout rate: 0.3 (``drop_rate=``).
  Penultimate features are the 64-d ReLU outputs.
- "Pretrained layers frozen at first": not frozen at construction (a random backbone must not
  be frozen by surprise); the recipe's ``freeze_epochs`` tells the trainer how long to call
  ``freeze_backbone(True)``. The head is everything outside ``backbone``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from classifiers.models.base import TOOLKIT_SIZE, BackboneClassifier, ImageNetInputAdapter
from classifiers.registry import register_model


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
    study="C",
    description="ImageNet ResNet-50, single-channel conv1 (mean of RGB kernels), no stem downsampling; "
    "L2-norm + affine head, FC 128-64",
)
def resnet50_gray(num_classes: int = 7, in_chans: int = 1, **kw) -> ResNet50Gray:
    return ResNet50Gray(num_classes=num_classes, in_chans=in_chans, **kw)
