"""The classifier zoo, one family per file; importing this package registers every design.

- ``cnn``: basic-cnn, deep-cnn, cnn-baseline, cnn-improved, cnn-e (plain conv stacks)
- ``resnet``: resnet-baseline, se-resnet, resnet18-e (residual nets trained from scratch)
- ``vgg``: vgg-e
- ``separable``: mini-xception (depthwise-separable residual modules)
- ``transfer``: resnet50-gray, resnet50-transfer, resnet18-transfer (built around an ImageNet
  backbone)

Each design's recipe and provenance (study, reported figure) sit beside its registration.
"""

from classifiers.models import cnn, resnet, separable, transfer, vgg  # noqa: F401  (register the designs)
from classifiers.models.base import BackboneClassifier, FERClassifier, ImageNetInputAdapter, InputSpec

# list_models() order: the reference doc's table, which users know the designs by. Families
# group the designs differently, so import order no longer gives it; designs not named here
# are listed after these, in registration order.
LISTING_ORDER: tuple[str, ...] = (
    "basic-cnn", "deep-cnn", "cnn-baseline", "cnn-improved", "resnet-baseline", "se-resnet",
    "resnet50-gray", "resnet50-transfer", "resnet18-transfer", "cnn-e", "vgg-e", "resnet18-e",
)  # fmt: skip

__all__ = ["LISTING_ORDER", "BackboneClassifier", "FERClassifier", "ImageNetInputAdapter", "InputSpec"]
