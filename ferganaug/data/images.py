"""Loading single face images from files (PNG, JPEG, BMP, ... anything PIL reads).

:func:`load_face_image` turns any image into the toolkit's face format, uint8 [1, 48, 48]:

1. EXIF orientation is applied (phone photos are often stored rotated),
2. the image is converted to 8-bit grey with PIL's ``convert("L")`` (ITU-R 601-2 luma;
   transparency is dropped),
3. a centred square is cropped (the largest one that fits), so a non-square face image is
   trimmed at its long sides instead of being squashed - faces keep their proportions,
4. the square is resized to 48x48 with PIL's antialiased bilinear filter.

An image that is already 48x48 grey is returned byte for byte. ``exact_size=True`` refuses
(DataError) anything that is not already 48x48, for inputs such as synthetic folders that
must not be resampled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ferganaug.data.dataset import IMAGE_SIZE, FaceDataset
from ferganaug.data.errors import DataError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm"}
)


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a non-hidden file whose extension is a common image type."""
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def face_array_from_pil(img: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """Grey, centre-square-cropped, resized uint8 array [size, size] from a PIL image."""
    img = ImageOps.exif_transpose(img) if img.getexif() else img
    if img.mode != "L":
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey (PIL reads it as I or I;16)
            # scaled by the format's full range, not the image's own peak: a dark image stays dark
            arr = np.asarray(img, dtype=np.float64)
            img = Image.fromarray(np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8), mode="L")
        else:
            img = img.convert("L")
    w, h = img.size
    if (w, h) != (size, size):
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        if (w, h) != (side, side):  # crop first: resize(box=...) would filter in pixels outside
            img = img.crop((left, top, left + side, top + side))
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).copy()


def load_face_image(path: str | os.PathLike, *, exact_size: bool = False) -> torch.Tensor:
    """Load any image file as a uint8 face tensor [1, 48, 48] (see the module docstring).

    Raises DataError naming the file when it is missing, unreadable or not an image, or,
    with ``exact_size=True``, when it is not already 48x48.
    """
    return torch.from_numpy(_load_array(path, exact_size)).unsqueeze(0)


def _load_array(path: str | os.PathLike, exact_size: bool = False) -> np.ndarray:
    path = Path(path)
    with image_read_errors(path, DataError):
        with Image.open(path) as img:
            if exact_size and img.size != (IMAGE_SIZE, IMAGE_SIZE):
                raise DataError(
                    f"{path}: image is {img.size[0]}x{img.size[1]}, expected "
                    f"{IMAGE_SIZE}x{IMAGE_SIZE} grey (synthetic faces are not resampled)"
                )
            img.load()
            return face_array_from_pil(img)


@contextmanager
def image_read_errors(path: Path, error_type: type[DataError]) -> Iterator[None]:
    """Turn what PIL raises for a missing, unreadable or corrupt image file into ``error_type``
    with a message that names the file."""
    try:
        yield
    except DataError:
        raise
    except FileNotFoundError:
        raise error_type(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise error_type(f"{path}: is a folder, expected an image file") from None
    except UnidentifiedImageError:
        raise error_type(f"{path}: not an image file PIL can read (expected PNG, JPEG, BMP, ...)") from None
    except Image.DecompressionBombError as exc:
        raise error_type(f"{path}: image too large to decode safely ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise error_type(f"{path}: cannot decode image, truncated or corrupt? ({exc})") from None


def default_threads() -> int:
    return max(1, min(8, (os.cpu_count() or 1) * 2))


def load_face_images(
    paths: Sequence[str | os.PathLike],
    *,
    exact_size: bool = False,
    skip_bad: bool = False,
    threads: int | None = None,
) -> tuple[torch.Tensor, list[int], list[tuple[int, str]]]:
    """Load many images with a thread pool (PIL releases the GIL while decoding).

    Returns (images uint8 [K, 1, 48, 48], indices of the K loaded paths, failures as
    (index, message)). Without ``skip_bad`` the first failure (in ``paths`` order) raises.
    """
    n = len(paths)
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    errors: dict[int, str] = {}

    def work(i: int) -> None:
        try:
            out[i] = _load_array(paths[i], exact_size)
        except DataError as exc:
            errors[i] = str(exc)

    workers = threads or default_threads()
    if n <= 4 or workers <= 1:
        for i in range(n):
            work(i)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(n), chunksize=max(1, n // (workers * 8))))
    failures = sorted(errors.items())
    if failures and not skip_bad:
        raise bad_images_error([msg for _, msg in failures])
    ok = [i for i in range(n) if i not in errors]
    images = torch.from_numpy(out[ok] if failures else out).unsqueeze(1)
    return images, ok, failures


def bad_images_error(messages: Sequence[str]) -> DataError:
    """The strict-mode error for images that failed: the first message, and the count if more."""
    more = f" ({len(messages)} bad images in all; skip_bad=True skips them)" if len(messages) > 1 else ""
    return DataError(messages[0] + more)


def load_listed_images(
    paths: Sequence[str | os.PathLike],
    where: Sequence[str],
    *,
    exact_size: bool = False,
    skip_bad: bool = False,
    threads: int | None = None,
) -> tuple[torch.Tensor, list[int], list[str]]:
    """:func:`load_face_images` for paths listed in a file: the message of a failed path ``i``
    starts with ``where[i]`` (where it is listed, e.g. ``"list.csv, line 3: "``).

    Returns (images, indices of the loaded paths, failure messages in ``paths`` order).
    Without ``skip_bad`` any failure raises :func:`bad_images_error`.
    """
    images, ok, failures = load_face_images(paths, exact_size=exact_size, skip_bad=True, threads=threads)
    messages = [where[i] + msg for i, msg in failures]
    if messages and not skip_bad:
        raise bad_images_error(messages)
    return images, ok, messages


def dataset_from_images(
    images: torch.Tensor,
    ok: Sequence[int],
    labels: Sequence[int],
    splits: Sequence[int],
    *,
    source: str,
    info: dict,
    per_row: dict[str, Sequence[int]] | None = None,
) -> FaceDataset:
    """FaceDataset of the loaded rows: ``images`` and ``ok`` as :func:`load_face_images`
    returns them, ``labels`` and ``splits`` one per path (only the ``ok`` ones are kept).

    ``per_row`` lists (one value per path) go into ``info`` after its other keys as int64
    tensors of the ``ok`` rows, so that they follow ``subset``.
    """
    idx = torch.tensor(ok, dtype=torch.long)
    if per_row:
        info = {**info, **{key: torch.tensor(values, dtype=torch.int64)[idx] for key, values in per_row.items()}}
    return FaceDataset(
        images=images,
        labels=torch.tensor(labels, dtype=torch.int64)[idx],
        splits=torch.tensor(splits, dtype=torch.int8)[idx],
        source=source,
        info=info,
    )
