"""The in-memory dataset every reader produces and every trainer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ferganaug.emotions import EMOTIONS

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(SPLITS)}
IMAGE_SIZE = 48


@dataclass(frozen=True)
class FaceDataset:
    """Faces as one uint8 tensor [N, 1, 48, 48] plus int64 labels in canonical emotion order.

    ``splits`` holds indices into SPLITS (int8); ``identities`` (int64, -1 = unknown) lets
    readers that know who is pictured keep identities disjoint across splits. Tensors in
    ``info`` whose first dimension is N are per-row columns and follow ``subset``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    splits: torch.Tensor
    identities: torch.Tensor | None = None
    class_names: tuple[str, ...] = EMOTIONS
    source: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be uint8 [N, 1, H, W], got {tuple(self.images.shape)} {self.images.dtype}")
        if self.labels.shape != (n,) or self.splits.shape != (n,):
            raise ValueError("labels and splits must have one entry per image")
        if self.identities is not None and self.identities.shape != (n,):
            raise ValueError("identities must have one entry per image")

    def __len__(self) -> int:
        return self.images.shape[0]

    def has_split(self, name: str) -> bool:
        return bool((self.splits == SPLIT_INDEX[name]).any())

    def split(self, name: str) -> "FaceDataset":
        """The rows of one split ('train', 'val' or 'test')."""
        if name not in SPLIT_INDEX:
            raise ValueError(f"unknown split '{name}'; expected one of {', '.join(SPLITS)}")
        return self.subset(self.splits == SPLIT_INDEX[name])

    def subset(self, index: torch.Tensor) -> "FaceDataset":
        """Rows selected by a boolean mask or an index tensor."""
        return FaceDataset(
            images=self.images[index],
            labels=self.labels[index],
            splits=self.splits[index],
            identities=None if self.identities is None else self.identities[index],
            class_names=self.class_names,
            source=self.source,
            info=_index_row_info(self.info, index, len(self)),
        )

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.class_names)).tolist()


def _index_row_info(info: dict, index: torch.Tensor, n: int) -> dict:
    """Copy ``info``, indexing entries that are per-row tensors (length N) like the images."""
    return {
        key: value[index] if isinstance(value, torch.Tensor) and value.shape[:1] == (n,) else value
        for key, value in info.items()
    }


def concat(datasets: list[FaceDataset], source: str = "") -> FaceDataset:
    """Concatenate datasets with the same class names (identities kept only if all have them)."""
    if not datasets:
        raise ValueError("nothing to concatenate")
    names = datasets[0].class_names
    if any(d.class_names != names for d in datasets):
        raise ValueError("datasets with different class orders cannot be concatenated")
    with_ids = all(d.identities is not None for d in datasets)
    return FaceDataset(
        images=torch.cat([d.images for d in datasets]),
        labels=torch.cat([d.labels for d in datasets]),
        splits=torch.cat([d.splits for d in datasets]),
        identities=torch.cat([d.identities for d in datasets]) if with_ids else None,
        class_names=names,
        source=source or "+".join(d.source for d in datasets),
    )
