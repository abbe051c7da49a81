"""Helpers that write tiny dataset files for reader tests (FER2013 csv, PNG trees, FER+ votes)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from PIL import Image

USAGES = {0: "Training", 1: "PublicTest", 2: "PrivateTest"}
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_faces(n: int, seed: int = 0) -> np.ndarray:
    """n distinct random uint8 faces [n, 48, 48]."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, 48, 48), dtype=np.uint8)


def fer2013_line(label, pixels, usage=None) -> str:
    pix = pixels if isinstance(pixels, str) else " ".join(str(int(v)) for v in np.asarray(pixels).reshape(-1))
    return f"{label},{pix}" + (f",{usage}" if usage is not None else "")


def write_fer2013(
    path: Path,
    images: np.ndarray,
    labels,
    splits=None,
    *,
    header: str | None = None,
    extra_lines: dict[int, str] | None = None,
) -> Path:
    """Write a FER2013 csv (gzipped when the name ends in .gz).

    ``extra_lines`` maps a data-row index to a raw line that replaces that row (for bad input).
    """
    with_usage = splits is not None
    if header is None:
        header = "emotion,pixels,Usage" if with_usage else "emotion,pixels"
    lines = [header]
    for i, (img, lab) in enumerate(zip(images, labels)):
        if extra_lines and i in extra_lines:
            lines.append(extra_lines[i])
        else:
            lines.append(fer2013_line(int(lab), img, USAGES[int(splits[i])] if with_usage else None))
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def write_image(path: Path, array: np.ndarray, fmt: str | None = None) -> Path:
    """Save a uint8 array ([H, W] grey or [H, W, 3] RGB) as an image file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, format=fmt)
    return path


def write_votes(path: Path, votes: list[list[int]], usages: list[str]) -> Path:
    """Write a FER+ votes csv (columns Usage, Image name, 10 vote columns)."""
    lines = ["Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"]
    for i, (v, u) in enumerate(zip(votes, usages)):
        lines.append(f"{u},fer{i:07d}.png," + ",".join(str(x) for x in v))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_synthetic(root: Path, items: list[tuple[str, np.ndarray, int]], manifest: bool = True) -> Path:
    """Write ``root/<emotion>/<NNNNNN>.png`` (+ manifest.jsonl) for (emotion, image, seed) items."""
    rows = []
    for i, (emotion, img, seed) in enumerate(items):
        rel = f"{emotion}/{i:06d}.png"
        write_image(root / rel, img)
        rows.append({"file": rel, "emotion": emotion, "source": "noise", "seed": seed,
                     "generator": "runs/gan/00001/generator.pt", "step": 1000})
    if manifest:
        (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
