"""Compare the face detectors on real photos: detection rate, false detections, time per image.

    python scripts/bench_face_detectors.py [PHOTOS_DIR] [--limit N] [--detectors haar,mtcnn]

PHOTOS_DIR defaults to ../shared/data/photos-dev (1,000 photos of one person each, faces large
and roughly centred; see its README). Three sets are measured per detector:

- single: each photo as it is; "found" = exactly one face whose centre lies in the photo's
  middle 60%; "extra" = every other detection (false or duplicate, since each photo shows one
  face);
- multi: photos composed three to a canvas (a row of three), at reduced size so faces are
  smaller; each tile's face is found when one detection's centre lies in that tile's middle
  60%; extra = all the rest;
- faceless: scikit-image's photographs without a human face (coffee, cat, rocket, coins, ...),
  tiled the same way; every detection is false.

Time is wall time per image on this machine's cores (torch and OpenCV set to all of them).
Prints the CPU model and flags first. mtcnn is measured only when facenet-pytorch is
importable (see ferganaug/faces/detect.py for its install line).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ferganaug.data.errors import DataError
from ferganaug.faces.detect import create_detector, detect_faces
from ferganaug.faces.photo import read_photo
from ferganaug.utils.hardware import describe_machine

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "photos-dev"
FACELESS = ("coffee", "chelsea", "rocket", "coins", "hubble_deep_field", "immunohistochemistry", "page", "text",
            "horse", "cell", "brick", "grass", "gravel", "logo", "clock", "moon", "checkerboard", "colorwheel",
            "retina", "microaneurysms")  # every still of skimage.data that ships in its wheel, bar the cameraman


def centre_in(face, x0: float, y0: float, w: float, h: float) -> bool:
    cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
    return x0 + 0.2 * w <= cx <= x0 + 0.8 * w and y0 + 0.2 * h <= cy <= y0 + 0.8 * h


def tiles_row(images: list[np.ndarray], side: int) -> np.ndarray:
    return np.concatenate([cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA) for img in images], axis=1)


def score_tiles(faces, n_tiles: int, side: int) -> tuple[int, int]:
    """(tiles whose face was found, extra detections) for a row of ``n_tiles`` tiles."""
    found, used = 0, set()
    for t in range(n_tiles):
        hits = [i for i, f in enumerate(faces) if i not in used and centre_in(f, t * side, 0, side, side)]
        if hits:
            found += 1
            used.add(hits[0])
    return found, len(faces) - len(used)


def faceless_images() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in FACELESS:
        img = getattr(data, name)()
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        out.append(np.ascontiguousarray(img[:, :, :3]).astype(np.uint8))
    return out


def measure(detector, photos: list[np.ndarray], faceless: list[np.ndarray]) -> dict:
    times, found, extra = [], 0, 0
    for img in photos:
        t = time.perf_counter()
        faces = detect_faces(detector, img)
        times.append(time.perf_counter() - t)
        hits = [f for f in faces if centre_in(f, 0, 0, img.shape[1], img.shape[0])]
        found += len(faces) == 1 and len(hits) == 1
        extra += len(faces) - min(1, len(hits))
    multi_found = multi_extra = multi_total = 0
    side = 200
    for k in range(0, len(photos) - 2, 3):
        row = tiles_row(photos[k:k + 3], side)
        t = time.perf_counter()
        faces = detect_faces(detector, row)
        times.append(time.perf_counter() - t)
        f, e = score_tiles(faces, 3, side)
        multi_found, multi_extra, multi_total = multi_found + f, multi_extra + e, multi_total + 3
    faceless_false = 0
    for img in faceless:
        t = time.perf_counter()
        faceless_false += len(detect_faces(detector, img))
        times.append(time.perf_counter() - t)
    return {"single_found": found / len(photos), "single_extra": extra, "multi_found": multi_found / max(1, multi_total),
            "multi_extra": multi_extra, "faceless_false": faceless_false, "ms_per_image": 1000 * float(np.mean(times)),
            "n_single": len(photos), "n_multi": multi_total, "n_faceless": len(faceless)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", default=str(DEFAULT))
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos (sorted by path)")
    parser.add_argument("--detectors", default="haar,mtcnn")
    args = parser.parse_args(argv)
    print(describe_machine())
    root = Path(args.photos)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        print(f"error: no photos under {root} (see ../shared/data/README.md) - give a folder of face photos",
              file=sys.stderr)
        return 2
    paths = paths[: args.limit] if args.limit else paths
    photos = [read_photo(p) for p in paths]
    faceless = [tiles_row([img], 400) for img in faceless_images()]
    print(f"{len(photos)} photos from {root}; {len(photos) // 3 * 3} faces in rows of three at 200 px; "
          f"{len(faceless)} faceless photos at 400 px")
    print(f"{'detector':<10} {'single found':>12} {'single extra':>12} {'multi found':>11} {'multi extra':>11} "
          f"{'faceless false':>14} {'ms/image':>9}")
    for name in args.detectors.split(","):
        try:
            detector = create_detector(name)
        except DataError as exc:
            print(f"{name:<10} not measured: {exc}")
            continue
        r = measure(detector, photos, faceless)
        print(f"{name:<10} {r['single_found']:>12.1%} {r['single_extra']:>12d} {r['multi_found']:>11.1%} "
              f"{r['multi_extra']:>11d} {r['faceless_false']:>14d} {r['ms_per_image']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
