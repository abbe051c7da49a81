"""On-disk cache of decoded datasets as uncompressed ``.npz`` files.

Decoding FER2013 from text takes seconds; loading the decoded arrays back takes a fraction
of one. Every reader funnels through :func:`cached_dataset`, which keys the cache file on

- the resolved input path(s) with their size and ``mtime_ns`` (for folders: every file
  in the tree, so adding or touching an image invalidates the entry),
- the reader's name, its options and its version number (bump it when decoding changes).

The cache directory is the ``cache_dir`` argument, else ``$FERGANAUG_CACHE``, else
``~/.cache/ferganaug``. Files are written to a temporary name in the same directory and
moved into place with ``os.replace``, so a reader never sees half a file. A file that
cannot be loaded (truncated, corrupt, from another format version) is ignored and rebuilt;
the cache never turns into an error. A cache directory that cannot be written only costs
speed (logged as a warning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ferganaug.data.dataset import FaceDataset
from ferganaug.emotions import EMOTIONS

log = logging.getLogger(__name__)

CACHE_ENV = "FERGANAUG_CACHE"
CACHE_FORMAT = 1  # layout of the .npz itself; bump to invalidate every entry
_INFO_TENSOR_PREFIX = "info_tensor__"


def default_cache_dir() -> Path:
    """``$FERGANAUG_CACHE`` if set, else ``~/.cache/ferganaug``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ferganaug"


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def file_fingerprint(path: str | os.PathLike) -> dict:
    """Resolved path, size and mtime_ns of one file."""
    p = Path(path).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def tree_fingerprint(root: str | os.PathLike) -> dict:
    """Resolved root plus a digest of (relative path, size, mtime_ns) of every file below it."""
    root = Path(root).resolve()
    h = hashlib.blake2b(digest_size=16)
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, root)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
            count += 1
    return {"path": str(root), "files": count, "digest": h.hexdigest()}


def cache_key(reader: str, version: int, inputs: Iterable[dict], options: dict) -> str:
    """Hex digest identifying one decode: reader + version + input fingerprints + options."""
    payload = {
        "format": CACHE_FORMAT,
        "reader": reader,
        "version": version,
        "inputs": list(inputs),
        "options": options,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_file(cache_dir: Path, reader: str, key: str, stem: str = "") -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:40]
    return cache_dir / f"{reader}-{safe}-{key[:20]}.npz" if safe else cache_dir / f"{reader}-{key[:20]}.npz"


def save_dataset_npz(ds: FaceDataset, path: Path, key: str = "") -> None:
    """Write ``ds`` to ``path`` atomically (temp file in the same folder, then os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    json_info: dict = {}
    arrays: dict[str, np.ndarray] = {
        "images": ds.images.numpy(),
        "labels": ds.labels.numpy(),
        "splits": ds.splits.numpy(),
    }
    if ds.identities is not None:
        arrays["identities"] = ds.identities.numpy()
    for k, v in ds.info.items():
        if isinstance(v, torch.Tensor):
            arrays[_INFO_TENSOR_PREFIX + k] = v.numpy()
        else:
            json_info[k] = v
    meta = {
        "format": CACHE_FORMAT,
        "key": key,
        "class_names": list(ds.class_names),
        "source": ds.source,
        "info": json_info,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_dataset_npz(path: Path, key: str = "") -> FaceDataset:
    """Read a file written by :func:`save_dataset_npz`; raises on anything unexpected."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"cache format {meta.get('format')} != {CACHE_FORMAT}")
        if key and meta.get("key") != key:
            raise ValueError("cache key mismatch")
        info = dict(meta.get("info", {}))
        for name in z.files:
            if name.startswith(_INFO_TENSOR_PREFIX):
                info[name[len(_INFO_TENSOR_PREFIX):]] = torch.from_numpy(z[name])
        return FaceDataset(
            images=torch.from_numpy(z["images"]),
            labels=torch.from_numpy(z["labels"]),
            splits=torch.from_numpy(z["splits"]),
            identities=torch.from_numpy(z["identities"]) if "identities" in z.files else None,
            class_names=tuple(meta.get("class_names", EMOTIONS)),
            source=meta.get("source", ""),
            info=info,
        )


def cached_dataset(
    reader: str,
    version: int,
    inputs: Iterable[dict],
    options: dict,
    build: Callable[[], FaceDataset],
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    stem: str = "",
) -> FaceDataset:
    """Return ``build()``, through the cache when ``cache`` is true.

    The returned dataset's ``info`` gains ``"cache"``: "hit", "miss" or "off", and
    ``"cache_file"`` (the path) when caching.
    """
    if not cache:
        ds = build()
        ds.info["cache"] = "off"
        return ds
    directory = resolve_cache_dir(cache_dir)
    key = cache_key(reader, version, inputs, options)
    path = cache_file(directory, reader, key, stem)
    if path.is_file():
        try:
            ds = load_dataset_npz(path, key)
            ds.info["cache"] = "hit"
            ds.info["cache_file"] = str(path)
            return ds
        except Exception as exc:  # corrupt or foreign file: rebuild, never fail
            log.warning("ignoring unreadable cache file %s (%s); rebuilding", path, exc)
    ds = build()
    try:
        save_dataset_npz(ds, path, key)
        ds.info["cache_file"] = str(path)
    except OSError as exc:
        log.warning("could not write cache file %s (%s); continuing without cache", path, exc)
    ds.info["cache"] = "miss"
    return ds


def cached_read(
    reader: str,
    version: int,
    path: Path,
    inputs: Iterable[dict],
    options: dict,
    build: Callable[[str], FaceDataset],
    *,
    source: str | None,
    cache: bool,
    cache_dir: str | os.PathLike | None,
) -> FaceDataset:
    """:func:`cached_dataset` for a reader of ``path``: ``build(src)`` through the cache.

    ``src`` is ``source``, else ``str(path)``; the cache file's stem is ``path.name``. The
    dataset returned carries ``src`` as its source even when the cached copy was written
    under another one.
    """
    src = source if source is not None else str(path)
    ds = cached_dataset(reader, version, inputs, options, lambda: build(src),
                        cache=cache, cache_dir=cache_dir, stem=path.name)
    return ds if ds.source == src else replace(ds, source=src)
