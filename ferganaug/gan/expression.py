"""The seam through which the GAN sees a classifier: frozen, in eval mode, order-checked."""

from __future__ import annotations

from typing import Callable, Sequence

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


class LogProbEnsemble(nn.Module):
    """Several classifiers read as one: the mean of their log-probabilities, returned as logits.

    Its softmax is the normalised geometric mean of the members' beliefs, so a face scores high
    only when every member is sure of it: an adversarial texture that fools one design rarely
    fools another, and the generator gains nothing from fooling one alone."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two classifiers, got {len(members)}")
        self.members = nn.ModuleList(members)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(faces).float().log_softmax(dim=1) for m in self.members]).mean(dim=0)


def loss_classifier_checkpoints(facts: dict) -> list[str]:
    """Every checkpoint a run's expression loss read, from its config.json ``expression_classifier``."""
    return [facts["checkpoint"], *(member["checkpoint"] for member in facts.get("ensemble", []))]


@torch.no_grad()
def typical_real_confidence(
    classifier: nn.Module,
    faces: torch.Tensor,
    labels: torch.Tensor,
    num_emotions: int,
    view: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """Per emotion, the median probability the classifier gives real faces of that emotion
    their own label: float32 [num_emotions] (0 where an emotion has no faces).

    It is how sure the classifier is of a typical real face; asking the generator for more
    asks for a stronger expression than real faces show, i.e. a caricature. ``faces`` are
    model inputs in [-1, 1], or anything ``view`` turns into them (e.g. uint8 faces, blurred)."""
    probs = []
    for start in range(0, len(faces), batch_size):
        batch = faces[start:start + batch_size]
        logits = classifier(view(batch) if view is not None else batch)
        probs.append(logits.float().softmax(dim=1).cpu())
    own = torch.cat(probs).gather(1, labels.cpu().view(-1, 1)).squeeze(1)
    medians = torch.zeros(num_emotions)
    for e in range(num_emotions):
        mine = own[labels.cpu() == e]
        if len(mine):
            medians[e] = mine.median()
    return medians
