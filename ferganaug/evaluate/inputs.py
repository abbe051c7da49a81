"""What `fergan evaluate` is pointed at, and the real faces it compares with.

A folder with ``manifest.jsonl`` is a synthetic folder written by `fergan synthesize`; a
folder with ``generator.pt`` (or any other file, which must then be a generator artefact) is a
`fergan train` run. A synthetic folder's manifest rows name their source face: row ``source``
of the training split of ``source_spec``, which is what pixel change and the built-in ground
truth are measured against.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ferganaug.data.dataset import FaceDataset, concat
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.data.synthetic import MANIFEST, read_synthetic

GENERATOR_FILE = "generator.pt"


def evaluation_kind(path: str | Path) -> str:
    """'synthetic' for a folder with manifest.jsonl, 'generator' for a run folder with
    generator.pt or a file (checked when it is loaded); DataError for anything else."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file or folder: {path}")
    if path.is_file():
        return "generator"
    if (path / MANIFEST).is_file():
        return "synthetic"
    if (path / GENERATOR_FILE).is_file():
        return "generator"
    raise DataError(
        f"{path} is neither a fergan train run (no {GENERATOR_FILE}) nor a synthetic folder written by "
        f"fergan synthesize (no {MANIFEST})"
    )


def load_real_data(spec: str, load: Callable[[str], FaceDataset] = load_dataset) -> FaceDataset:
    """The real dataset to compare with; it must have a test split."""
    data = load(spec)
    if not data.has_split("test"):
        raise DataError(
            f"dataset '{spec}' has no test split; fergan evaluate compares with real test faces "
            f"(give --data SPEC with a test split)"
        )
    return data


@dataclass(frozen=True)
class SyntheticFolder:
    """A synthetic folder read for evaluation: its faces in manifest order, and, row for row,
    the source faces they were made from (None when the manifest does not name them)."""

    path: Path
    faces: FaceDataset
    rows: tuple[dict, ...]
    sources: FaceDataset | None
    source_specs: tuple[str, ...]
    generators: tuple[str, ...]
    steps: tuple[int, ...]
    note: str | None = None  # why there are no sources

    @property
    def generator_run(self) -> Path | None:
        """The run folder of the generator that made the folder, when there is one and it exists."""
        if len(self.generators) != 1:
            return None
        run = Path(self.generators[0]).parent
        return run if (run / GENERATOR_FILE).is_file() else None


def read_synthetic_folder(path: str | Path, load: Callable[[str], FaceDataset] = load_dataset) -> SyntheticFolder:
    """Read a synthetic folder and the source face of every manifest row (``load`` reads a
    spec; a caller may pass a memoised one)."""
    path = Path(path)
    faces = read_synthetic(path, cache=False)
    manifest = path / MANIFEST
    lines = [(n, json.loads(raw)) for n, raw in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1)
             if raw.strip()]
    if len(lines) != len(faces):  # read_synthetic is strict, so this is a bug, not bad input
        raise DataError(f"{manifest}: {len(lines)} rows but {len(faces)} images read")
    rows = tuple(obj for _, obj in lines)
    generators = tuple(sorted({str(r["generator"]) for r in rows if r.get("generator") is not None}))
    steps = tuple(sorted({int(r["step"]) for r in rows if isinstance(r.get("step"), int)}))
    specs = tuple(dict.fromkeys(r.get("source_spec") for r in rows if isinstance(r.get("source_spec"), str)))
    lacking = [n for n, r in lines if not isinstance(r.get("source_spec"), str)
               or not isinstance(r.get("source"), int) or isinstance(r.get("source"), bool)]
    if lacking:
        more = f" (and {len(lacking) - 1} more rows)" if len(lacking) > 1 else ""
        note = (f"{manifest}, line {lacking[0]}{more}: no source face named (keys source, source_spec), so no "
                f"pixel change or ground truth")
        return SyntheticFolder(path, faces, rows, None, specs, generators, steps, note)
    return SyntheticFolder(path, faces, rows, _sources(manifest, lines, specs, load), specs, generators, steps)


def _sources(manifest: Path, lines: list[tuple[int, dict]], specs: tuple[str, ...], load) -> FaceDataset:
    parts = []
    for spec in specs:
        try:
            train = load(spec).split("train")
        except DataError as err:
            raise DataError(f"{manifest}: the source data '{spec}' cannot be loaded ({err})") from None
        for n, row in lines:
            if row["source_spec"] == spec and not 0 <= row["source"] < len(train):
                raise DataError(f"{manifest}, line {n}: source {row['source']} is outside the {len(train)} "
                                f"training faces of '{spec}'")
        parts.append(train)
    if len(parts) == 1:
        return parts[0].subset(torch.tensor([row["source"] for _, row in lines]))
    # Several source datasets: pick each row from its own (per-row info such as the built-in
    # faces' render seeds cannot be merged, so there is no ground truth then).
    picked = [parts[specs.index(row["source_spec"])].subset(torch.tensor([row["source"]])) for _, row in lines]
    return concat(picked, source="+".join(specs))
