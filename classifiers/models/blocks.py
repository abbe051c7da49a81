"""Small layer builders shared by more than one family (cnn-e and vgg-e)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """3x3 "same" conv without bias (BatchNorm follows and has its own shift), BN, ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def dense_stack(dims: Sequence[int], dropout_after_first: float | None = None) -> nn.Sequential:
    """Linear+ReLU from ``dims[0]`` through ``dims[-1]``, optionally dropout after the first."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU(inplace=True)]
        if i == 0 and dropout_after_first:
            layers.append(nn.Dropout(dropout_after_first))
    return nn.Sequential(*layers)
