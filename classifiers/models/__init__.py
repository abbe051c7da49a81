"""Model families, one per file; importing this package registers every design.

Import order is registration order, which is the reference doc's table order.
"""

# isort: off
from classifiers.models import study_b  # noqa: F401  basic-cnn, deep-cnn
from classifiers.models import study_a  # noqa: F401  cnn-baseline, cnn-improved, resnet-baseline, se-resnet
from classifiers.models import resnet50_gray  # noqa: F401  resnet50-gray
from classifiers.models import transfer  # noqa: F401  resnet50-transfer, resnet18-transfer
from classifiers.models import study_e  # noqa: F401  cnn-e, vgg-e, resnet18-e
# isort: on
from classifiers.models.base import BackboneClassifier, FERClassifier, ImageNetInputAdapter, InputSpec

__all__ = ["BackboneClassifier", "FERClassifier", "ImageNetInputAdapter", "InputSpec"]
