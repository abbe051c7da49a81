"""The seam through which the GAN sees a classifier: frozen, in eval mode, order-checked."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ferganaug.emotions import EMOTIONS


class ClassOrderError(ValueError):
    """A classifier whose classes are not the toolkit's emotions in the toolkit's order."""


class FrozenExpressionClassifier(nn.Module):
    """Wraps any callable module mapping faces [N, 1, H, W] in [-1, 1] to logits [N, 7].

    Its parameters never receive gradients and it never leaves eval mode (so BatchNorm
    statistics and dropout stay fixed), but gradients still flow through it to the
    generator's output: the expression loss trains the generator only.
    """

    def __init__(self, classifier: nn.Module, class_names: Sequence[str] | None = None) -> None:
        super().__init__()
        names = tuple(class_names if class_names is not None else getattr(classifier, "class_names", ()))
        if names != EMOTIONS:
            raise ClassOrderError(
                f"the expression classifier's classes {list(names)} are not the toolkit's emotions in order "
                f"{list(EMOTIONS)}"
            )
        self.class_names = names
        self.classifier = classifier.eval()
        for p in self.classifier.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "FrozenExpressionClassifier":
        super().train(mode)
        self.classifier.eval()  # frozen means frozen: no BN updates, no dropout
        return self

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.classifier(faces)
