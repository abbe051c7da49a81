"""Torch's intra-op thread count for one block of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Torch on ``count`` threads inside the block, restored after. Small tensor work (a batch
    of a few faces, a tiny critic, one render chunk) gains nothing from a second thread, which
    mostly waits for a core when other processes share them (measured on 2 busy cores: deep-cnn
    on 3 faces 6 ms on one thread, 12 ms on two; 10k built-in renders 1.4 s against 8-11 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
