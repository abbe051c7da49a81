"""Image-folder trees: ``root/<split>/<emotion>/*`` or flat ``root/<emotion>/*`` (all train).

Split folder names (case-insensitive): train/training -> train; val/valid/validation/
publictest -> val; test/privatetest -> test. Emotion folder names go through
:func:`ferganaug.emotions.canonical_name`, so the usual Kaggle spellings (anger, disgusted,
fearful, happiness, sadness, surprised, ...) work. Images anywhere below an emotion folder
are read (see :mod:`ferganaug.data.images` for the resizing rule); other files (README,
.DS_Store, ...) are ignored and counted in ``info["ignored_files"]``.

A tree is a split tree when any of root's sub-folders is a split name; then every
sub-folder must be one. Hidden folders (starting with '.') are ignored. A flat tree's rows sit
in 'train' only so that it can be trained on; ``info[UNSPLIT]`` is True for it, so that an
evaluation can tell "no split named" from "only a train split named" and read every row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ferganaug.data.cache import cached_read, tree_fingerprint
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset
from ferganaug.data.errors import MAX_SKIP_EXAMPLES, DataError, check_folder
from ferganaug.data.images import bad_images_error, dataset_from_images, is_image_file, load_face_images
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS, UnknownEmotionError, canonical_name

READER_VERSION = 3  # 2: info[UNSPLIT]; 3: info detector, no_face
UNSPLIT = "unsplit"  # info key: True when the source names no splits (a flat tree)

SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "privatetest": "test",
}


def split_from_name(name: str) -> str | None:
    """Canonical split ('train', 'val', 'test') for a folder/column value, else None."""
    return SPLIT_ALIASES.get(name.strip().lower().replace("_", "").replace("-", "").replace(" ", ""))


def accepted_split_names() -> str:
    return ", ".join(f"{k}" for k in SPLIT_ALIASES)


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _is_split_tree(subdirs: list[Path]) -> bool:
    return any(split_from_name(d.name) for d in subdirs)


@dataclass
class ImageTree:
    """What :func:`scan_image_tree` found: one entry per image file, in path order, and what it left out."""

    paths: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    splits: list[int] = field(default_factory=list)
    ignored: int = 0  # files that are not images, or sit outside an emotion folder
    skipped: int = 0  # files under folders skipped with skip_bad
    skip_reasons: list[str] = field(default_factory=list)


def scan_image_tree(root: Path, skip_bad: bool) -> ImageTree:
    """Walk a tree of ``root/<emotion>/*`` or ``root/<split>/<emotion>/*``; a folder whose name is
    not a split or an emotion is a DataError, or with ``skip_bad`` skipped with all its files."""
    subdirs = _subdirs(root)
    if not subdirs:
        raise DataError(
            f"{root}: no sub-folders; expected root/<emotion>/* or root/<split>/<emotion>/* "
            f"(emotions: {', '.join(EMOTIONS)})"
        )
    tree = ImageTree()

    def skip_folder(folder: Path, msg: str) -> None:
        if not skip_bad:
            raise DataError(msg) from None
        n_files = sum(len(f) for _, _, f in os.walk(folder))
        tree.skipped += n_files
        tree.skip_reasons.append(msg + f" - skipped {n_files} files")

    for split, split_dir in _split_folders(root, subdirs, skip_folder):
        for emotion_dir in _subdirs(split_dir):
            try:
                label = EMOTION_INDEX[canonical_name(emotion_dir.name)]
            except UnknownEmotionError as exc:
                skip_folder(emotion_dir, f"{emotion_dir}: emotion folder name not recognised: {exc}")
                continue
            _add_images(tree, emotion_dir, label, SPLIT_INDEX[split])
        # loose files directly in a split folder (or root) are not labelled
        tree.ignored += sum(1 for p in split_dir.iterdir() if p.is_file())
    return tree


def _split_folders(root: Path, subdirs: list[Path], skip_folder) -> list[tuple[str, Path]]:
    """(split, folder) pairs: every sub-folder of a split tree, or root itself as 'train'."""
    if not _is_split_tree(subdirs):
        return [("train", root)]
    folders = []
    for d in subdirs:
        split = split_from_name(d.name)
        if split is None:
            skip_folder(d, f"{d}: unknown split folder '{d.name}'; expected one of "
                           f"{accepted_split_names()} (case-insensitive)")
            continue
        folders.append((split, d))
    return folders


def _add_images(tree: ImageTree, emotion_dir: Path, label: int, split: int) -> None:
    """Every image file below ``emotion_dir`` (hidden folders left out), in sorted order."""
    for dirpath, dirnames, filenames in os.walk(emotion_dir):
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for name in sorted(filenames):
            if is_image_file(name):
                tree.paths.append(os.path.join(dirpath, name))
                tree.labels.append(label)
                tree.splits.append(split)
            else:
                tree.ignored += 1


def _build(root: Path, skip_bad: bool, threads: int | None, source: str, detect: str | None) -> FaceDataset:
    tree = scan_image_tree(root, skip_bad)
    paths = tree.paths
    if not paths:
        raise DataError(
            f"{root}: no image files found in its emotion folders "
            f"(expected *.png, *.jpg, ... under root/<emotion>/ or root/<split>/<emotion>/)"
        )
    no_face: list[int] = []
    if detect:
        from ferganaug.faces.crops import largest_face_crops  # OpenCV only when asked for

        images, ok, failures, no_face = largest_face_crops(paths, detect)
        if failures and not skip_bad:
            raise bad_images_error([msg for _, msg in failures])
    else:
        images, ok, failures = load_face_images(paths, skip_bad=skip_bad, threads=threads)
    skipped = tree.skip_reasons + [msg for _, msg in failures]
    if not ok:
        raise DataError(f"{root}: none of the {len(paths)} image files could be read; first: {failures[0][1]}")
    return dataset_from_images(images, ok, tree.labels, tree.splits, source=source, info={
        "reader": "folder",
        "path": str(root),
        UNSPLIT: not _is_split_tree(_subdirs(root)),
        "rows": len(ok),
        "ignored_files": tree.ignored,
        "skipped": tree.skipped + len(failures),
        "skipped_examples": skipped[:MAX_SKIP_EXAMPLES],
        "detector": detect,
        "no_face": len(no_face),
        "no_face_examples": [str(paths[i]) for i in no_face[:MAX_SKIP_EXAMPLES]],
    })


def read_image_folders(
    root: str | os.PathLike,
    *,
    skip_bad: bool = False,
    threads: int | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    source: str | None = None,
    detect: str | None = None,
) -> FaceDataset:
    """Read an image-folder tree into a FaceDataset (through the cache; see module docstring).

    ``detect`` names a face detector (``haar``, ``mtcnn``) for folders of uncropped photos:
    each image's largest face is aligned instead of centre-cropping the image, and images with
    no face are left out and counted in ``info["no_face"]``.

    An unknown split or emotion
    folder, or an unreadable image, raises DataError naming it; with ``skip_bad=True`` it is
    skipped and counted in ``info["skipped"]``.
    """
    root = Path(root)
    check_folder(root, "a folder of <emotion>/ image folders")
    return cached_read(
        "folder", READER_VERSION, root, [tree_fingerprint(root)], {"skip_bad": skip_bad, "detect": detect},
        lambda src: _build(root, skip_bad, threads, src, detect), source=source, cache=cache, cache_dir=cache_dir,
    )
