"""Dataset spec strings: one string on a command line picks a reader and its options.

See :func:`describe_spec_grammar` for the grammar (also the CLI help text). Every dataset
returned by :func:`load_dataset` has ``source`` equal to the spec string as given.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ferganaug.data.dataset import FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.faces import DETECTOR_NAMES

KINDS: tuple[str, ...] = ("builtin", "fer2013", "folder", "ferplus", "csv", "synthetic")

# options each kind accepts in a spec (builtin's come from builtin_dataset's signature)
_KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "fer2013": (),
    "folder": ("detect",),
    "csv": (),
    "synthetic": (),
    "ferplus": ("pixels", "contempt"),
}

_OPTION_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", re.S)
_KIND_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]+):(.*)$", re.S)


def describe_spec_grammar() -> str:
    """Help text for the dataset spec strings :func:`load_dataset` accepts."""
    return """\
Dataset spec: [KIND:]TARGET[,KEY=VALUE...]

  builtin                      the built-in procedural face set (default sizes)
  builtin:train=8000,val=1000,test=2000,seed=0
                               ... with options passed to builtin_dataset()
  PATH.csv | PATH.csv.gz       FER2013 csv (header emotion,pixels[,Usage]; Usage
                               Training/PublicTest/PrivateTest -> train/val/test,
                               no Usage column = all train)
  PATH.csv with path,label     generic image list (label 0..6 or a name such as
                               happy/happiness; optional split column); paths are
                               relative to the csv's folder
  fer2013new.csv               FER+ votes (header with 'Image name'); majority label,
                               ties/unknown/not-a-face/contempt dropped. Pixels come
                               from fer2013.csv[.gz] beside it or in ../fer2013/, or
                               ferplus:VOTES.csv,pixels=PATH[,contempt=drop|ignore]
  DIR with manifest.jsonl      synthetic faces from 'fergan synthesize' (all train)
  DIR                          image folders DIR/<split>/<emotion>/* (split: train,
                               val/validation/publictest, test/privatetest) or
                               DIR/<emotion>/* (all train); any image size/colour,
                               centre-cropped to a square and resized to 48x48 grey;
                               DIR,detect=haar|mtcnn: uncropped photos, each one's
                               largest face detected and aligned (no face: left out)

  An explicit KIND prefix skips detection: fer2013:, csv:, ferplus:, folder:,
  synthetic:, builtin. Emotions use FER2013 order: 0 angry, 1 disgust, 2 fear,
  3 happy, 4 sad, 5 surprise, 6 neutral. Decoded datasets are cached as .npz in
  $FERGANAUG_CACHE (default ~/.cache/ferganaug)."""


@dataclass(frozen=True)
class ParsedSpec:
    kind: str | None      # explicit or detected kind; None before detection
    target: str           # path (empty for builtin)
    options: dict = field(default_factory=dict)


def parse_spec(spec: str) -> ParsedSpec:
    """Split a spec string into (explicit kind or None, target path, options). No I/O
    beyond checking whether the whole string names an existing path."""
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"empty dataset spec; expected a path or 'builtin'\n{describe_spec_grammar()}")
    s = spec.strip()
    if s.lower() == "builtin":
        return ParsedSpec("builtin", "", {})
    kind = None
    rest = s
    if not os.path.exists(s):
        m = _KIND_RE.match(s)
        if m and m.group(1).lower() in KINDS:
            kind, rest = m.group(1).lower(), m.group(2)
        elif m and "," not in m.group(1):
            raise DataError(
                f"no such file or folder: {s} ('{m.group(1)}:' is not a dataset kind either; "
                f"kinds: {', '.join(k + ':' for k in KINDS)})"
            )
    if kind == "builtin":
        return ParsedSpec("builtin", "", _parse_options(spec, [p for p in rest.split(",") if p.strip()]))
    if os.path.exists(rest):
        return ParsedSpec(kind, rest, {})
    parts = rest.split(",")
    # trailing KEY=VALUE parts are options; the rest (commas and all) is the path
    i = len(parts)
    while i > 1 and _OPTION_RE.match(parts[i - 1]):
        i -= 1
    return ParsedSpec(kind, ",".join(parts[:i]).strip(), _parse_options(spec, parts[i:]))


def spec_short_name(spec: str) -> str:
    """A dataset's name for run folders: 'builtin:train=280' -> 'builtin',
    'data/fer2013.csv.gz' -> 'fer2013'."""
    parsed = parse_spec(spec)
    name = "builtin" if parsed.kind == "builtin" else Path(parsed.target).name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name or "data"


def _parse_options(spec: str, parts: list[str]) -> dict:
    options: dict[str, str] = {}
    for part in parts:
        m = _OPTION_RE.match(part)
        if not m:
            raise DataError(f"dataset spec {spec!r}: option {part.strip()!r} is not KEY=VALUE")
        key, value = m.group(1).lower(), m.group(2).strip()
        if key in options:
            raise DataError(f"dataset spec {spec!r}: option '{key}' given twice")
        options[key] = value
    return options


def _check_options(spec: str, kind: str, options: dict, valid: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listing = ", ".join(valid) if valid else f"none ({kind} specs take no options)"
        raise DataError(
            f"dataset spec {spec!r}: unknown option(s) {', '.join(repr(u) for u in unknown)} for "
            f"{kind}; valid options: {listing}"
        )


def _convert(value: str):
    v = value.strip()
    if re.fullmatch(r"[+-]?\d+", v):
        return int(v)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", v):
        return float(v)
    if v.lower() in ("true", "yes", "on"):
        return True
    if v.lower() in ("false", "no", "off"):
        return False
    return v


def detect_kind(path: str | os.PathLike) -> str:
    """Reader kind for an existing path: synthetic/folder for folders; fer2013, csv or
    ferplus for CSV files (from the header)."""
    from ferganaug.data.fer2013 import read_header_line
    from ferganaug.data.synthetic import MANIFEST

    p = Path(path)
    if not p.exists():
        raise DataError(f"no such file or folder: {p}")
    if p.is_dir():
        return "synthetic" if (p / MANIFEST).is_file() else "folder"
    columns = [c.lower() for c in read_header_line(p)]
    if "image name" in columns:
        return "ferplus"
    if "pixels" in columns or "emotion" in columns:
        return "fer2013"
    if "path" in columns and "label" in columns:
        return "csv"
    name = p.name.lower()
    what = "CSV" if name.endswith((".csv", ".csv.gz")) else "file"
    raise DataError(
        f"{p}: cannot tell what kind of dataset this {what} is; its first line has columns "
        f"{', '.join(repr(c) for c in read_header_line(p)[:8])}; expected a FER2013 csv "
        f"(emotion,pixels[,Usage]), a path,label csv, a FER+ votes csv (Usage,Image name,...) or a folder"
    )


def load_dataset(
    spec: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    cache: bool = True,
    skip_bad: bool = False,
) -> FaceDataset:
    """Load the dataset a spec string names (see :func:`describe_spec_grammar`).

    Raises DataError for a missing path ("no such file or folder: ..."), an unknown option
    (listing the valid ones) and any bad data the chosen reader finds.
    """
    parsed = parse_spec(spec)
    kind = parsed.kind
    if kind == "builtin":
        return _load_builtin(spec, parsed.options)
    target = parsed.target
    if not target:
        raise DataError(f"dataset spec {spec!r}: no path given after '{kind}:'")
    if not os.path.exists(target):
        raise DataError(f"no such file or folder: {target}")
    if kind is None:
        kind = detect_kind(target)
    _check_options(spec, kind, parsed.options, _KIND_OPTIONS[kind])
    common = dict(skip_bad=skip_bad, cache=cache, cache_dir=cache_dir, source=spec)
    if kind == "fer2013":
        from ferganaug.data.fer2013 import read_fer2013
        return read_fer2013(target, **common)
    if kind == "folder":
        from ferganaug.data.folders import read_image_folders
        detect = parsed.options.get("detect")
        if detect is not None and detect not in DETECTOR_NAMES:
            raise DataError(f"dataset spec {spec!r}: detect={detect!r}, expected one of {', '.join(DETECTOR_NAMES)}")
        return read_image_folders(target, detect=detect, **common)
    if kind == "csv":
        from ferganaug.data.pathlabel import read_path_label_csv
        return read_path_label_csv(target, **common)
    if kind == "synthetic":
        from ferganaug.data.synthetic import read_synthetic
        return read_synthetic(target, **common)
    if kind == "ferplus":
        from ferganaug.data.ferplus import read_ferplus
        pixels = parsed.options.get("pixels")
        if pixels is not None and not os.path.exists(pixels):
            raise DataError(f"no such file or folder: {pixels} (option pixels of {spec!r}, expected fer2013.csv[.gz])")
        return read_ferplus(target, pixels, contempt=parsed.options.get("contempt", "drop"), **common)
    raise DataError(f"dataset spec {spec!r}: unknown kind {kind!r}")  # pragma: no cover


def _load_builtin(spec: str, options: dict) -> FaceDataset:
    try:
        from ferganaug.data.builtin import builtin_dataset
    except ImportError as exc:
        raise DataError(f"dataset spec {spec!r}: the built-in face set is not available ({exc})") from None
    params = inspect.signature(builtin_dataset).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not takes_any:
        valid = tuple(n for n, p in params.items()
                      if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))
        _check_options(spec, "builtin", options, valid)
    kwargs = {k: _convert(v) for k, v in options.items()}
    try:
        ds = builtin_dataset(**kwargs)
    except DataError:
        raise
    except (TypeError, ValueError) as exc:
        raise DataError(f"dataset spec {spec!r}: bad builtin option ({exc})") from None
    return ds if ds.source == spec else replace(ds, source=spec)
