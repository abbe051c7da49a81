"""fer-classify's library: the classifier zoo (layer 1: torch, torchvision, ferganaug.emotions).

>>> import classifiers
>>> model = classifiers.create_model("deep-cnn")          # [N, 1, 48, 48] in [-1, 1] -> [N, 7]
>>> classifiers.recipe_for("deep-cnn").lr
0.001
>>> classifiers.model_info("basic-cnn")["reported"]           # what study B claimed for it
'44%'

The command line lives in ``classifiers.cli`` and is not imported here.
"""

from classifiers.registry import (  # the registry first: the model files register into it
    Provenance,
    UnknownModelError,
    create_model,
    list_models,
    model_info,
    register_model,
)
from classifiers import models  # noqa: E402,I001  (registers every design)
from classifiers.models.base import FERClassifier, InputSpec
from classifiers.pretrained import load_imagenet_weights
from classifiers.recipes import Recipe, recipe_for

__all__ = [
    "FERClassifier",
    "InputSpec",
    "Provenance",
    "Recipe",
    "UnknownModelError",
    "create_model",
    "list_models",
    "load_imagenet_weights",
    "model_info",
    "models",
    "recipe_for",
    "register_model",
]
