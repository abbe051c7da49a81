"""The faces a GAN step draws: source faces to edit, and real faces of each target emotion."""

from __future__ import annotations

import torch

from ferganaug.data.augment import to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.emotions import EMOTIONS, EMOTION_INDEX
from ferganaug.gan.config import GANConfig


def check_gan_data(train: FaceDataset, config: GANConfig) -> None:
    """Fail early, before any classifier is trained, when the data cannot feed the GAN."""
    present = set(train.labels.unique().tolist())
    if not any(EMOTION_INDEX[e] in present for e in config.source_emotions):
        raise ValueError(
            f"the training data has no {'/'.join(config.source_emotions)} faces to use as sources "
            "(see --source-emotions)"
        )
    if not config.target_emotions:
        raise ValueError("every emotion is a source emotion, so there is no target to learn")
    missing = [e for e in config.target_emotions if EMOTION_INDEX[e] not in present]
    if missing:
        raise ValueError(f"the training data has no real faces of {', '.join(missing)} to learn from")


class FacePools:
    """Index pools over the training faces: sources, and reals per emotion."""

    def __init__(self, train: FaceDataset, source_emotions: tuple[str, ...], device: torch.device) -> None:
        self.images = train.images.to(device)
        self.labels = train.labels.to(device)
        source_ids = torch.tensor([EMOTION_INDEX[e] for e in source_emotions])
        self.sources = torch.isin(train.labels, source_ids).nonzero().flatten()
        if len(self.sources) == 0:
            raise ValueError(
                f"the training data has no {'/'.join(source_emotions)} faces to use as sources "
                "(see --source-emotions)"
            )
        self.by_emotion = [(train.labels == c).nonzero().flatten() for c in range(len(EMOTIONS))]

    def sample_sources(self, n: int, g: torch.Generator) -> torch.Tensor:
        return self.sources[torch.randint(len(self.sources), (n,), generator=g)]

    def first_sources(self, n: int) -> torch.Tensor:
        """Up to n source indices taken in turn from each source emotion's first faces, so that
        a sample sheet shows every kind of source."""
        labels = self.labels[self.sources.to(self.labels.device)].cpu()
        per_emotion = [self.sources[labels == c] for c in labels.unique().tolist()]
        taken = [pool[i] for i in range(n) for pool in per_emotion if i < len(pool)]
        return torch.stack(taken[:n])

    def sample_reals(self, emotions: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """One random real face index for each requested emotion."""
        picks = torch.empty_like(emotions)
        draws = torch.rand(len(emotions), generator=g)
        for c in emotions.unique().tolist():
            pool = self.by_emotion[c]
            where = emotions == c
            picks[where] = pool[(draws[where] * len(pool)).long().clamp(max=len(pool) - 1)]
        return picks

    def sample_mismatched(self, emotions: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """One random real face index for each requested emotion, of another emotion than it
        (uniform over the other emotions the data has)."""
        present = torch.tensor([c for c, pool in enumerate(self.by_emotion) if len(pool) > 0])
        draws = torch.rand(len(emotions), generator=g)
        others = torch.empty_like(emotions)
        for c in emotions.unique().tolist():
            choices = present[present != c]
            if len(choices) == 0:
                raise ValueError(f"w_mismatch needs real faces of an emotion other than {EMOTIONS[c]}")
            where = emotions == c
            others[where] = choices[(draws[where] * len(choices)).long().clamp(max=len(choices) - 1)]
        return self.sample_reals(others, g)

    def faces(self, index: torch.Tensor) -> torch.Tensor:
        return to_model_input(self.images[index.to(self.images.device)])
