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


def scan_image_tree(root: Path, skip_bad: bool) -> tuple[list[Path], list[int], list[str], int, int, list[str]]:
    """Walk a tree: (paths, labels, splits, ignored file count, skipped count, skip reasons)."""
    subdirs = _subdirs(root)
    if not subdirs:
        raise DataError(
            f"{root}: no sub-folders; expected root/<emotion>/* or root/<split>/<emotion>/* "
            f"(emotions: {', '.join(EMOTIONS)})"
        )
    skipped: list[str] = []
    n_skipped = 0

    def skip_folder(folder: Path, msg: str) -> None:
        nonlocal n_skipped
        if not skip_bad:
            raise DataError(msg) from None
        n_files = sum(len(f) for _, _, f in os.walk(folder))
        n_skipped += n_files
        skipped.append(msg + f" - skipped {n_files} files")

    split_dirs: list[tuple[str, Path]] = []
    if _is_split_tree(subdirs):
        for d in subdirs:
            split = split_from_name(d.name)
            if split is None:
                skip_folder(d, f"{d}: unknown split folder '{d.name}'; expected one of "
                               f"{accepted_split_names()} (case-insensitive)")
                continue
            split_dirs.append((split, d))
    else:
        split_dirs.append(("train", root))

    paths: list[str] = []
    labels: list[int] = []
    splits: list[int] = []
    ignored = 0
    for split, sdir in split_dirs:
        for edir in _subdirs(sdir):
            try:
                label = EMOTION_INDEX[canonical_name(edir.name)]
            except UnknownEmotionError as exc:
                skip_folder(edir, f"{edir}: emotion folder name not recognised: {exc}")
                continue
            for dirpath, dirnames, filenames in os.walk(edir):
                dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
                for name in sorted(filenames):
                    if is_image_file(name):
                        paths.append(os.path.join(dirpath, name))
                        labels.append(label)
                        splits.append(SPLIT_INDEX[split])
                    else:
                        ignored += 1
        # loose files directly in a split folder (or root) are not labelled
        ignored += sum(1 for p in sdir.iterdir() if p.is_file())
    return paths, labels, splits, ignored, n_skipped, skipped


def _build(root: Path, skip_bad: bool, threads: int | None, source: str, detect: str | None) -> FaceDataset:
    paths, labels, splits, ignored, n_skipped, skipped = scan_image_tree(root, skip_bad)
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
    n_skipped += len(failures)
    skipped.extend(msg for _, msg in failures)
    if not ok:
        raise DataError(f"{root}: none of the {len(paths)} image files could be read; first: {failures[0][1]}")
    return dataset_from_images(images, ok, labels, splits, source=source, info={
        "reader": "folder",
        "path": str(root),
        UNSPLIT: not _is_split_tree(_subdirs(root)),
        "rows": len(ok),
        "ignored_files": ignored,
        "skipped": n_skipped,
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
