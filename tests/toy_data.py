"""Tiny learnable datasets for fast tests: the class is where a bright square sits."""

from __future__ import annotations

import torch

from ferganaug.data.dataset import FaceDataset


def toy_faces(n_per_class: int = 12, num_classes: int = 7, seed: int = 0, splits=(0.6, 0.2, 0.2)) -> FaceDataset:
    g = torch.Generator().manual_seed(seed)
    n = n_per_class * num_classes
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    images = (torch.rand(n, 1, 48, 48, generator=g) * 60).to(torch.uint8)
    for i, c in enumerate(labels.tolist()):
        top, left = 4 + 5 * (c // 3), 4 + 12 * (c % 3)
        images[i, 0, top : top + 10, left : left + 10] = 230
    order = torch.randperm(n, generator=g)
    images, labels = images[order], labels[order]
    cut1, cut2 = int(n * splits[0]), int(n * (splits[0] + splits[1]))
    split_codes = torch.zeros(n, dtype=torch.int8)
    split_codes[cut1:cut2] = 1
    split_codes[cut2:] = 2
    names = None if num_classes == 7 else tuple(f"class_{i}" for i in range(num_classes))
    kwargs = {} if names is None else {"class_names": names}
    return FaceDataset(images=images, labels=labels, splits=split_codes, source="toy", **kwargs)
