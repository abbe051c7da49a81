"""Data layer shared by fer-classify and fergan (layer 0: torch, numpy, PIL, kornia only)."""

from ferganaug.data.dataset import IMAGE_SIZE, SPLITS, FaceDataset, concat
from ferganaug.data.errors import DataError
from ferganaug.data.spec import describe_spec_grammar, load_dataset

__all__ = ["IMAGE_SIZE", "SPLITS", "FaceDataset", "DataError", "concat", "describe_spec_grammar", "load_dataset"]
