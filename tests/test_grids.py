"""Labelled sample grids: size from the tile count, labels drawn in their bands, faces tiled
unchanged, label counts checked, and `fergan transfer`'s grid labelled."""

import numpy as np
import pytest
import torch
from PIL import Image

from ferganaug.data.images import load_face_image
from ferganaug.emotions import EMOTIONS
from ferganaug.gan.images import MAX_ROW_LABEL, MIN_TILE, PAD, grid_canvas, labelled_grid, save_labelled_grid
from ferganaug.gan.networks import Generator
from ferganaug.gan.artifact import GENERATOR_KIND
from ferganaug.transfer import transfer
from ferganaug.utils.files import atomic_torch_save

DARK = 100  # text is black on white: a label band with no pixel this dark has nothing written in it


def _faces(rows: int, cols: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (rows, cols, size, size), dtype=torch.uint8, generator=g)


def _names(n: int, prefix: str) -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


def _upscaled(face: torch.Tensor, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(face.numpy(), scale, axis=0), scale, axis=1)


def _tile(image: Image.Image, layout, row: int, col: int) -> np.ndarray:
    x, y = layout.tile_origin(row, col)
    return np.asarray(image)[y : y + layout.tile_h * layout.scale, x : x + layout.tile_w * layout.scale]


@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 3), (8, 7)])
def test_size_is_the_upscaled_tiles_plus_the_label_margins(rows, cols):
    image, layout = labelled_grid(_faces(rows, cols), _names(rows, "row"), _names(cols, "col"))
    bare = grid_canvas(_faces(rows, cols))
    assert layout.left > 0 and layout.top > 0
    assert image.size == (layout.left + bare.shape[1] * layout.scale, layout.top + bare.shape[0] * layout.scale)


def test_more_tiles_grow_the_sheet_and_nothing_else():
    base, layout = labelled_grid(_faces(2, 3), _names(2, "row"), _names(3, "col"))
    wider, wider_layout = labelled_grid(_faces(2, 4), _names(2, "row"), _names(4, "col"))
    taller, _ = labelled_grid(_faces(3, 3), _names(3, "row"), _names(3, "col"))
    pitch_x = wider_layout.tile_origin(0, 1)[0] - wider_layout.tile_origin(0, 0)[0]
    pitch_y = layout.tile_origin(1, 0)[1] - layout.tile_origin(0, 0)[1]
    assert wider.size == (base.width + pitch_x, base.height)
    assert taller.size == (base.width, base.height + pitch_y)


def test_small_faces_are_upscaled_to_a_legible_tile():
    _, small = labelled_grid(_faces(1, 2, size=24), ["r"], ["a", "b"], scale=2)
    _, big = labelled_grid(_faces(1, 2), ["r"], ["a", "b"], scale=3)
    assert small.tile_w * small.scale >= MIN_TILE
    assert big.scale == 3  # a larger requested scale is kept


def test_tiles_reproduce_the_faces():
    faces = _faces(3, 4)
    image, layout = labelled_grid(faces, _names(3, "row"), _names(4, "col"), title="step 200")
    for r in range(3):
        for c in range(4):
            np.testing.assert_array_equal(_tile(image, layout, r, c), _upscaled(faces[r, c], layout.scale))


def test_every_column_and_row_has_its_label_drawn():
    image, layout = labelled_grid(_faces(3, 7), _names(3, "source"), EMOTIONS)
    pixels = np.asarray(image)
    span = layout.tile_w * layout.scale
    for c in range(7):
        x, _ = layout.tile_origin(0, c)
        assert pixels[: layout.top, x : x + span].min() < DARK, f"column {c} has no label"
    for r in range(3):
        _, y = layout.tile_origin(r, 0)
        assert pixels[y : y + span, : layout.left].min() < DARK, f"row {r} has no label"


def test_the_labels_drawn_are_the_ones_given():
    faces = _faces(2, 3)
    a, layout = labelled_grid(faces, ["x", "y"], ["angry", "fear", "sad"])
    b, _ = labelled_grid(faces, ["x", "y"], ["happy", "fear", "sad"])
    header_a, header_b = np.asarray(a)[: layout.top], np.asarray(b)[: layout.top]
    x1, _ = layout.tile_origin(0, 1)
    assert not np.array_equal(header_a[:, :x1], header_b[:, :x1])  # the changed label
    np.testing.assert_array_equal(header_a[:, x1:], header_b[:, x1:])  # the others untouched


def test_title_adds_a_band_on_top():
    faces = _faces(2, 3)
    plain, plain_layout = labelled_grid(faces, _names(2, "row"), _names(3, "col"))
    titled, titled_layout = labelled_grid(faces, _names(2, "row"), _names(3, "col"), title="step 200")
    band = titled_layout.top - plain_layout.top
    assert band > 0 and titled.size == (plain.width, plain.height + band)
    assert np.asarray(titled)[:band].min() < DARK


def test_long_labels_are_shortened_not_spilled():
    faces = _faces(1, 3)
    short, layout = labelled_grid(faces, ["me.jpg"], ["a", "b", "c"])
    long, long_layout = labelled_grid(faces, ["holiday_" * 30 + ".jpg"], ["a", "very long column label " * 5, "c"])
    assert long_layout.left <= MAX_ROW_LABEL + 2 * PAD
    assert long.width - long_layout.left == short.width - layout.left  # a column label never widens its column
    # the header beside the long label is as it is with a short one: it stays over its own column
    (x1, _), (x2, _) = long_layout.tile_origin(0, 1), long_layout.tile_origin(0, 2)
    (s1, _), (s2, _) = layout.tile_origin(0, 1), layout.tile_origin(0, 2)
    header, short_header = np.asarray(long)[: long_layout.top], np.asarray(short)[: layout.top]
    np.testing.assert_array_equal(header[:, long_layout.left : x1], short_header[:, layout.left : s1])
    np.testing.assert_array_equal(header[:, x2:], short_header[:, s2:])


@pytest.mark.parametrize("rows, cols, match", [
    (["a"], ["1", "2", "3"], r"1 row labels for a grid of 2 rows: expected 2"),
    (["a", "b", "c"], ["1", "2", "3"], r"3 row labels for a grid of 2 rows: expected 2"),
    (["a", "b"], ["1", "2"], r"2 column labels for a grid of 3 columns: expected 3"),
])
def test_mismatched_label_counts_are_refused(tmp_path, rows, cols, match):
    with pytest.raises(ValueError, match=match):
        save_labelled_grid(_faces(2, 3), tmp_path / "g.png", rows, cols)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_save_writes_the_labelled_image_and_no_stray_files(tmp_path):
    faces = _faces(2, 7)
    save_labelled_grid(faces, tmp_path / "samples" / "000200.png", _names(2, "source"), EMOTIONS, title="step 200")
    image, _ = labelled_grid(faces, _names(2, "source"), EMOTIONS, title="step 200")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "samples" / "000200.png")), np.asarray(image))
    assert [p.name for p in (tmp_path / "samples").iterdir()] == ["000200.png"]


def test_transfer_writes_a_labelled_grid(tmp_path):
    torch.manual_seed(0)
    g = Generator(width=8, n_res=1)
    atomic_torch_save({"kind": GENERATOR_KIND, "format_version": 1, "generator_config": g.config,
                       "state_dict": g.state_dict(), "class_names": list(EMOTIONS), "step": 3,
                       "source_emotions": ["neutral"]}, tmp_path / "run" / "generator.pt")
    photo = tmp_path / "me.jpg"
    Image.new("RGB", (120, 90), (200, 150, 120)).save(photo)

    [written] = transfer(tmp_path / "run", [photo], tmp_path / "out").written  # no detector: the image is the face
    assert written == tmp_path / "out" / "me_all-emotions.png"
    image = Image.open(written)
    bare = grid_canvas(torch.zeros(1, 1 + len(EMOTIONS), 48, 48, dtype=torch.uint8))
    _, layout = labelled_grid(torch.zeros(1, 1 + len(EMOTIONS), 48, 48, dtype=torch.uint8), [photo.name],
                              ["input", *EMOTIONS], scale=3)
    assert image.width > bare.shape[1] * 3 and image.height > bare.shape[0] * 3
    assert image.size == (layout.left + bare.shape[1] * layout.scale, layout.top + bare.shape[0] * layout.scale)
    np.testing.assert_array_equal(_tile(image, layout, 0, 0), _upscaled(load_face_image(photo)[0], layout.scale))
    pixels = np.asarray(image)
    assert pixels[: layout.top, layout.left :].min() < DARK and pixels[layout.top :, : layout.left].min() < DARK


def test_a_title_wider_than_the_sheet_wraps_between_words_and_keeps_them_all():
    from ferganaug.gan.images import _text_size, _wrap
    from PIL import ImageDraw

    title = "EMA generator, step 250: each source face (row) edited to each target"
    faces = _faces(2, 2)
    one_line, one_layout = labelled_grid(_faces(2, 7), _names(2, "row"), _names(7, "col"), title=title)
    narrow, narrow_layout = labelled_grid(faces, _names(2, "row"), _names(2, "col"), title=title)
    plain, plain_layout = labelled_grid(faces, _names(2, "row"), _names(2, "col"))
    draw = ImageDraw.Draw(narrow)
    lines = _wrap(draw, title, narrow.width - 2 * PAD)
    assert len(lines) > 1 and " ".join(lines) == title
    assert all(_text_size(draw, text)[0] <= narrow.width - 2 * PAD for text in lines)
    band, one_band = narrow_layout.top - plain_layout.top, one_layout.top - plain_layout.top
    assert band == len(lines) * one_band  # a band per line, each as tall as a one-line title's
    assert narrow.size == (plain.width, plain.height + band)
