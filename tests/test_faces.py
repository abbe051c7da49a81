"""ferganaug.faces: reading photos, detecting, aligning and pasting faces back."""

import math

import numpy as np
import pytest
from PIL import Image

from ferganaug.data.errors import DataError
from ferganaug.faces import DETECTOR_NAMES
from ferganaug.faces.align import align_faces, crop_matrix
from ferganaug.faces.blend import feather_mask, paste_edit
from ferganaug.faces.detect import DETECTORS, Face, create_detector, detect_faces, iou
from ferganaug.faces.photo import PhotoError, read_photo
from photos import ASTRONAUT_FACE, astronaut, face_patch, faceless, faces_on_canvas


@pytest.fixture(scope="module")
def haar():
    return create_detector("haar")


def test_haar_finds_the_astronaut_and_nothing_in_a_faceless_photo(haar):
    faces = detect_faces(haar, astronaut())
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.7
    assert faces[0].landmarks is None
    assert detect_faces(haar, faceless()) == []


def test_faces_come_left_to_right_whatever_the_detector_returns(haar):
    canvas = faces_on_canvas([(400, 250), (20, 20)])
    faces = detect_faces(haar, canvas)
    assert len(faces) == 2
    assert faces[0].box[0] < 200 < 400 < faces[1].box[0]

    class Reversed:
        name = "reversed"

        def detect(self, rgb):
            return list(reversed(haar.detect(rgb)))

    assert detect_faces(Reversed(), canvas) == faces


def test_a_huge_photo_is_detected_on_a_downscaled_copy_and_boxed_in_its_own_pixels(haar):
    big = np.full((6000, 8000, 3), 120, dtype=np.uint8)
    patch = np.asarray(Image.fromarray(face_patch()).resize((1730, 1730)))  # 10x the face's size
    big[2000:3730, 3000:4730] = patch
    faces = detect_faces(haar, big)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 3000 < x + w / 2 < 4730 and 2000 < y + h / 2 < 3730 and w > 500
    crops, _ = align_faces(big, faces)
    small_crops, _ = align_faces(astronaut(), detect_faces(haar, astronaut()))
    # the same face, cut from 10x the pixels, looks about the same at 48x48
    assert np.abs(crops[0].astype(int) - small_crops[0]).mean() < 25


def test_tiny_images_have_no_face(haar):
    for shape in [(1, 1, 3), (5, 7, 3)]:
        assert detect_faces(haar, np.zeros(shape, dtype=np.uint8)) == []


def test_alignment_centres_the_box_and_levels_the_eyes():
    face = Face((100.0, 50.0, 80.0, 80.0), 1.0, ((120.0, 80.0), (160.0, 100.0), (140, 100), (125, 120), (155, 130)))
    matrix = crop_matrix(face, size=48, margin=0.1)
    centre = matrix @ np.array([140.0, 90.0, 1.0])
    assert centre == pytest.approx([24.0, 24.0])
    (lx, ly), (rx, ry) = (matrix @ np.array([*face.landmarks[i], 1.0]) for i in (0, 1))
    assert ly == pytest.approx(ry) and rx > lx
    # scale: the box's side plus 10% on each side fills the crop
    assert math.hypot(*matrix[0, :2]) == pytest.approx(48 / (80 * 1.2))


def test_aligned_crops_are_48x48_grey_of_the_face(haar):
    photo = astronaut()
    crops, matrices = align_faces(photo, detect_faces(haar, photo))
    assert crops.shape == (1, 48, 48) and crops.dtype == np.uint8
    assert len(matrices) == 1 and crops[0].std() > 20  # a face, not a flat patch


def test_feather_mask_is_one_inside_and_zero_at_the_border():
    mask = feather_mask(48, 0.2)
    assert mask[24, 24] == 1.0 and mask[0, 0] < 0.01 and mask[0, 24] < 0.1
    assert np.all(np.diff(mask[24, :24]) >= 0)


def test_paste_changes_only_the_face_square(haar):
    photo = astronaut()
    faces = detect_faces(haar, photo)
    crops, matrices = align_faces(photo, faces)
    unchanged = paste_edit(photo, matrices[0], crops[0], crops[0])
    assert np.array_equal(unchanged, photo)  # an edit that changes nothing changes no pixel
    edited = paste_edit(photo, matrices[0], crops[0], 255 - crops[0])
    changed = np.nonzero(np.abs(edited.astype(int) - photo).sum(axis=2))
    x, y, w, h = faces[0].box
    side = max(w, h) * 1.2
    assert changed[1].min() >= x + w / 2 - side / 2 - 1 and changed[1].max() <= x + w / 2 + side / 2 + 1
    assert changed[0].min() >= y + h / 2 - side / 2 - 1 and changed[0].max() <= y + h / 2 + side / 2 + 1
    assert np.array_equal(edited[:40], photo[:40]) and np.array_equal(edited[300:], photo[300:])
    assert edited.shape == photo.shape


def test_every_detector_name_has_a_detector():
    assert tuple(DETECTORS) == DETECTOR_NAMES
    with pytest.raises(DataError, match="unknown face detector 'yolo'; expected one of haar, mtcnn"):
        create_detector("yolo")


def test_mtcnn_without_facenet_pytorch_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "facenet_pytorch.models.mtcnn", None)
    with pytest.raises(DataError, match="pip install --no-deps facenet-pytorch==2.6.0"):
        create_detector("mtcnn")


def test_mtcnn_gives_landmarks_and_upright_crops():
    pytest.importorskip("facenet_pytorch", reason="the optional mtcnn detector is not installed")
    photo = astronaut()
    faces = detect_faces(create_detector("mtcnn"), photo)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5 and len(faces[0].landmarks) == 5
    matrix = crop_matrix(faces[0])
    (_, ly), (_, ry) = (matrix @ np.array([*faces[0].landmarks[i], 1.0]) for i in (0, 1))
    assert ly == pytest.approx(ry, abs=1e-6)


# --- reading photos --------------------------------------------------------------------------


def test_photos_of_every_mode_read_as_rgb(tmp_path):
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (32, 1))
    Image.fromarray(grey).convert("CMYK").save(tmp_path / "cmyk.jpg")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    rgba = np.zeros((32, 64, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 0  # fully transparent red: white after compositing
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(grey).convert("P").save(tmp_path / "palette.png")
    Image.new("L", (1, 1), 7).save(tmp_path / "dot.png")
    for name in ["cmyk.jpg", "sixteen.png", "rgba.png", "palette.png", "dot.png"]:
        photo = read_photo(tmp_path / name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
    assert np.array_equal(read_photo(tmp_path / "sixteen.png")[:, :, 0], grey)
    assert np.all(read_photo(tmp_path / "rgba.png") == 255)
    assert read_photo(tmp_path / "dot.png").shape == (1, 1, 3)


def test_unreadable_photos_are_errors_that_name_the_file(tmp_path):
    Image.fromarray(astronaut()).save(tmp_path / "whole.jpg")
    (tmp_path / "truncated.jpg").write_bytes((tmp_path / "whole.jpg").read_bytes()[:3000])
    (tmp_path / "notes.jpg").write_text("not an image")
    cases = {"truncated.jpg": "truncated or corrupt", "notes.jpg": "not an image file", "missing.jpg": "no such image file"}
    for name, message in cases.items():
        with pytest.raises(PhotoError, match=message) as info:
            read_photo(tmp_path / name)
        assert name in str(info.value)
