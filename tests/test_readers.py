"""Dataset readers, spec strings and the decode cache, on tiny files written per test."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import json
import os

import numpy as np
import pytest
import torch
from data_fixtures import (
    random_faces,
    write_fer2013,
    write_image,
    write_synthetic,
    write_votes,
)

from ferganaug.data.dataset import SPLIT_INDEX
from ferganaug.data.errors import DataError
from ferganaug.data.fer2013 import read_fer2013, write_fer2013_csv
from ferganaug.data.ferplus import read_ferplus
from ferganaug.data.folders import read_image_folders
from ferganaug.data.images import load_face_image
from ferganaug.data.pathlabel import read_path_label_csv
from ferganaug.data.spec import describe_spec_grammar, load_dataset, parse_spec
from ferganaug.data.synthetic import limit_per_class, read_synthetic
from ferganaug.emotions import EMOTION_INDEX


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def fer(tmp_path):
    """A tiny FER2013 file: 9 rows over the three splits."""
    images = random_faces(9, seed=1)
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 3, 0])
    splits = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2])
    path = write_fer2013(tmp_path / "fer2013.csv", images, labels, splits)
    return path, images, labels, splits


# --------------------------------------------------------------------------- FER2013


@pytest.mark.parametrize("name", ["fer2013.csv", "fer2013.csv.gz"])
def test_fer2013_happy_path(tmp_path, name, cache_dir):
    images, labels = random_faces(9, seed=2), np.array([0, 1, 2, 3, 4, 5, 6, 3, 0])
    splits = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2])
    path = write_fer2013(tmp_path / name, images, labels, splits)
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    ds = read_fer2013(path, cache_dir=cache_dir)
    assert ds.images.shape == (9, 1, 48, 48) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == labels.tolist()
    assert ds.splits.dtype == torch.int8 and ds.splits.tolist() == splits.tolist()
    assert ds.source == str(path)
    assert ds.info["skipped"] == 0 and ds.info["usage_counts"] == {"Training": 5, "PublicTest": 2, "PrivateTest": 2}


def test_fer2013_without_usage_is_all_train(tmp_path):
    images = random_faces(4, seed=3)
    path = write_fer2013(tmp_path / "train.csv", images, [1, 2, 3, 4])
    ds = read_fer2013(path, cache=False)
    assert ds.splits.tolist() == [SPLIT_INDEX["train"]] * 4
    assert ds.labels.tolist() == [1, 2, 3, 4]


def test_fer2013_tolerates_crlf_quotes_blank_lines_and_column_order(tmp_path):
    images = random_faces(3, seed=4)
    pix = [" ".join(map(str, im.reshape(-1))) for im in images]
    # icml_face_data.csv style: spaces after commas, other column order, quoted pixels
    text = (
        "emotion, Usage, pixels\r\n"
        f'5, Training, "{pix[0]}"\r\n'
        "\r\n"
        f"6, PublicTest, {pix[1]}\r\n"
        f"0, PrivateTest, {pix[2]}"  # no final newline
    )
    path = tmp_path / "icml_face_data.csv"
    path.write_bytes(text.encode())
    ds = read_fer2013(path, cache=False)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
    assert ds.labels.tolist() == [5, 6, 0]
    assert ds.splits.tolist() == [0, 1, 2]


def _bad_file(tmp_path, row_index: int, line: str, name: str = "bad.csv"):
    images = random_faces(4, seed=5)
    return write_fer2013(tmp_path / name, images, [0, 1, 2, 3], [0, 0, 1, 2], extra_lines={row_index: line})


GOOD_PIXELS = " ".join(["7"] * 2304)


@pytest.mark.parametrize(
    "line, fragments",
    [
        ("3," + " ".join(["7"] * 2303) + ",Training", ["found 2303 pixel values", "expected 2304"]),
        ("3," + " ".join(["7"] * 2305) + ",Training", ["found 2305 pixel values", "expected 2304"]),
        ("3,7 7 7 7 x7 " + " ".join(["7"] * 2299) + ",Training", ["pixel 5 is 'x7'", "integer 0..255"]),
        ("3,7 -7 " + " ".join(["7"] * 2302) + ",Training", ["pixel 2 is '-7'", "0..255"]),
        ("3,7 256 " + " ".join(["7"] * 2302) + ",Training", ["pixel 2 is 256", "0..255"]),
        ("3,7 1000 " + " ".join(["7"] * 2302) + ",Training", ["pixel 2 is 1000", "0..255"]),
        ("3,7 0007 " + " ".join(["7"] * 2302) + ",Training", ["pixel 2 is '0007'", "at most 3 digits"]),
        ("3,7\t7 " + " ".join(["7"] * 2302) + ",Training", ["pixel 1 is '7\\t7'", "0..255"]),
        ("7," + GOOD_PIXELS + ",Training", ["emotion label 7 is out of range", "0..6"]),
        ("-1," + GOOD_PIXELS + ",Training", ["out of range", "0..6"]),
        ("2.5," + GOOD_PIXELS + ",Training", ["'2.5' is not an integer", "0..6"]),
        ("happy," + GOOD_PIXELS + ",Training", ["'happy' is not an integer", "0..6"]),
        ("," + GOOD_PIXELS + ",Training", ["emotion label is empty", "0..6"]),
        ("3," + GOOD_PIXELS + ",Testing", ["unknown Usage value 'Testing'", "PublicTest"]),
        ("3," + GOOD_PIXELS, ["found 2 comma-separated fields", "expected 3"]),
    ],
)
@pytest.mark.parametrize("name", ["bad.csv", "bad.csv.gz"])
def test_fer2013_bad_rows_name_file_line_and_expectation(tmp_path, line, fragments, name):
    path = _bad_file(tmp_path, 2, line, name)  # data row 2 is line 4 of the file
    with pytest.raises(DataError) as err:
        read_fer2013(path, cache=False)
    msg = str(err.value)
    assert str(path) in msg and "line 4:" in msg, msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert "Traceback" not in msg


def test_fer2013_strict_reports_earliest_bad_line(tmp_path):
    images = random_faces(6, seed=6)
    path = write_fer2013(
        tmp_path / "bad.csv", images, [0] * 6, [0] * 6,
        extra_lines={1: "3,1 2 3,Training", 4: "9," + GOOD_PIXELS + ",Training"},
    )
    with pytest.raises(DataError, match=r"line 3: found 3 pixel values.*\(2 bad rows in all"):
        read_fer2013(path, cache=False)


def test_fer2013_skip_bad_counts_and_keeps_good_rows(tmp_path):
    images = random_faces(8, seed=7)
    labels = [0, 1, 2, 3, 4, 5, 6, 0]
    bad = {1: "3,1 2 3,Training", 4: "9," + GOOD_PIXELS + ",Training", 6: "3," + GOOD_PIXELS + ",Nope"}
    path = write_fer2013(tmp_path / "bad.csv", images, labels, [0] * 8, extra_lines=bad)
    ds = read_fer2013(path, cache=False, skip_bad=True)
    keep = [0, 2, 3, 5, 7]
    assert len(ds) == 5 and ds.info["skipped"] == 3
    assert torch.equal(ds.images[:, 0], torch.from_numpy(images[keep]))
    assert ds.labels.tolist() == [labels[i] for i in keep]
    ex = ds.info["skipped_examples"]
    assert len(ex) == 3 and "line 3:" in ex[0] and "line 6:" in ex[1] and "line 8:" in ex[2]


@pytest.mark.parametrize(
    "header, fragments",
    [
        ("emotion,Usage", ["missing column(s) 'pixels'", "found columns 'emotion', 'Usage'"]),
        ("pixels", ["missing column(s) 'emotion'", "unlabelled test file", "found columns 'pixels'"]),
        ("id,pixels", ["missing column(s) 'emotion'", "'id', 'pixels'"]),
    ],
)
def test_fer2013_missing_columns(tmp_path, header, fragments):
    path = tmp_path / "test.csv"
    path.write_text(header + "\n" + ("1," if header == "emotion,Usage" else "") + GOOD_PIXELS + "\n")
    with pytest.raises(DataError) as err:
        read_fer2013(path, cache=False)
    msg = str(err.value)
    assert str(path) in msg and "line 1" in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)


def test_fer2013_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        read_fer2013(tmp_path / "missing.csv")
    fake = tmp_path / "fake.csv.gz"
    fake.write_text("emotion,pixels\n")
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_fer2013(fake, cache=False)
    trunc = tmp_path / "trunc.csv.gz"
    trunc.write_bytes(gzip.compress(b"emotion,pixels\n1," + GOOD_PIXELS.encode() * 50)[:200])
    with pytest.raises(DataError, match="trunc.csv.gz: not a valid gzip file"):
        read_fer2013(trunc, cache=False)
    only_header = tmp_path / "empty.csv"
    only_header.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match="no data rows"):
        read_fer2013(only_header, cache=False)


# --------------------------------------------------------------------------- cache


def test_cache_hit_equals_fresh_decode_and_is_used(fer, cache_dir):
    path = fer[0]
    first = read_fer2013(path, cache_dir=cache_dir)
    assert first.info["cache"] == "miss"
    files = list(cache_dir.glob("*.npz"))
    assert len(files) == 1 and not list(cache_dir.glob("*.tmp"))
    second = read_fer2013(path, cache_dir=cache_dir)
    assert second.info["cache"] == "hit" and second.info["cache_file"] == str(files[0])
    fresh = read_fer2013(path, cache=False)
    assert fresh.info["cache"] == "off"
    for a in (first, second):
        assert torch.equal(a.images, fresh.images) and torch.equal(a.labels, fresh.labels)
        assert torch.equal(a.splits, fresh.splits) and a.images.dtype == torch.uint8
    assert second.info["usage_counts"] == fresh.info["usage_counts"]


def test_cache_invalidated_by_mtime_and_content_and_options(fer, cache_dir):
    path, images, labels, splits = fer
    read_fer2013(path, cache_dir=cache_dir)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert read_fer2013(path, cache_dir=cache_dir).info["cache"] == "miss"
    assert read_fer2013(path, cache_dir=cache_dir).info["cache"] == "hit"
    # rewrite with other labels: same size, new mtime -> new decode, new labels
    write_fer2013(path, images, (labels + 1) % 7, splits)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    ds = read_fer2013(path, cache_dir=cache_dir)
    assert ds.info["cache"] == "miss" and ds.labels.tolist() == ((labels + 1) % 7).tolist()
    assert read_fer2013(path, cache_dir=cache_dir, skip_bad=True).info["cache"] == "miss"


def test_corrupt_cache_is_rebuilt(fer, cache_dir):
    path = fer[0]
    ds = read_fer2013(path, cache_dir=cache_dir)
    cfile = next(cache_dir.glob("*.npz"))
    cfile.write_bytes(b"not a zip file at all")
    again = read_fer2013(path, cache_dir=cache_dir)
    assert again.info["cache"] == "miss" and torch.equal(again.images, ds.images)
    assert read_fer2013(path, cache_dir=cache_dir).info["cache"] == "hit"
    # truncated (half-written by something else) is ignored too
    cfile.write_bytes(cfile.read_bytes()[:1000])
    assert read_fer2013(path, cache_dir=cache_dir).info["cache"] == "miss"


def test_cache_env_var_and_cache_off(fer, tmp_path, monkeypatch):
    env_dir = tmp_path / "envcache"
    monkeypatch.setenv("FERGANAUG_CACHE", str(env_dir))
    read_fer2013(fer[0])
    assert len(list(env_dir.glob("fer2013-*.npz"))) == 1
    off_dir = tmp_path / "off"
    assert read_fer2013(fer[0], cache=False, cache_dir=off_dir).info["cache"] == "off"
    assert not off_dir.exists()


def test_cache_keeps_per_row_info_tensors(tmp_path, cache_dir):
    root = write_synthetic(tmp_path / "syn", [("happy", random_faces(1, 8)[0], 11), ("sad", random_faces(1, 9)[0], 12)])
    a = read_synthetic(root, cache_dir=cache_dir)
    b = read_synthetic(root, cache_dir=cache_dir)
    assert b.info["cache"] == "hit"
    assert isinstance(b.info["seed"], torch.Tensor) and torch.equal(a.info["seed"], b.info["seed"])
    assert b.info["generators"] == a.info["generators"]


# --------------------------------------------------------------------------- images


def test_load_face_image_centre_crop_grey(tmp_path):
    # 100x60 RGB: red 20-px bands left and right, a flat grey 60x60 square in the middle
    rgb = np.zeros((60, 100, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)
    rgb[:, 80:] = (255, 0, 0)
    rgb[:, 20:80] = (90, 90, 90)
    t = load_face_image(write_image(tmp_path / "wide.png", rgb))
    assert t.shape == (1, 48, 48) and t.dtype == torch.uint8
    assert int(t.min()) == int(t.max()) == 90  # the bands were cropped away, not squeezed in
    tall = np.zeros((120, 40), np.uint8)
    tall[40:80] = 200
    t2 = load_face_image(write_image(tmp_path / "tall.jpg", tall))
    assert t2.shape == (1, 48, 48) and abs(int(t2.float().mean()) - 200) <= 3


def test_load_face_image_exact_48_grey_unchanged(tmp_path):
    img = random_faces(1, 10)[0]
    t = load_face_image(write_image(tmp_path / "a.png", img))
    assert torch.equal(t[0], torch.from_numpy(img))


def test_load_face_image_errors(tmp_path):
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    with pytest.raises(DataError, match="notes.png: not an image file"):
        load_face_image(txt)
    with pytest.raises(DataError, match="missing.png: no such image file"):
        load_face_image(tmp_path / "missing.png")
    big = write_image(tmp_path / "big.png", np.zeros((64, 64), np.uint8))
    with pytest.raises(DataError, match=r"big.png: image is 64x64, expected 48x48"):
        load_face_image(big, exact_size=True)


# --------------------------------------------------------------------------- folders


def _tree(root, layout):
    """layout: {relative folder: [(array), ...]}; returns {(folder, i): array}."""
    for folder, arrays in layout.items():
        for i, arr in enumerate(arrays):
            write_image(root / folder / f"{i:03d}.png", arr)


def test_folders_split_tree_with_aliases_sizes_and_colour(tmp_path, cache_dir):
    faces = random_faces(6, seed=11)
    rgb = np.zeros((80, 80, 3), np.uint8)
    rgb[...] = (10, 200, 30)
    _tree(tmp_path / "data", {
        "Train/happiness": [faces[0], faces[1]],
        "Train/Anger": [np.zeros((100, 70), np.uint8)],
        "PublicTest/surprised": [faces[2]],
        "privatetest/Fearful": [faces[3], rgb],
    })
    write_image(tmp_path / "data" / "Train" / "sadness" / "x.jpg", np.full((30, 30), 77, np.uint8))
    (tmp_path / "data" / "Train" / "happiness" / "README.txt").write_text("ignore me")
    ds = read_image_folders(tmp_path / "data", cache_dir=cache_dir)
    assert len(ds) == 7 and ds.images.shape == (7, 1, 48, 48)
    got = {(int(s), int(lab)) for s, lab in zip(ds.splits, ds.labels)}
    E = EMOTION_INDEX
    assert got == {(0, E["happy"]), (0, E["angry"]), (0, E["sad"]), (1, E["surprise"]), (2, E["fear"])}
    assert torch.bincount(ds.splits.long(), minlength=3).tolist() == [4, 1, 2]
    # 48x48 grey files come back byte for byte
    for k in range(4):
        assert any(torch.equal(ds.images[i, 0], torch.from_numpy(faces[k])) for i in range(len(ds)))
    assert ds.info["ignored_files"] == 1
    assert read_image_folders(tmp_path / "data", cache_dir=cache_dir).info["cache"] == "hit"
    write_image(tmp_path / "data" / "Train" / "happiness" / "new.png", faces[4])
    again = read_image_folders(tmp_path / "data", cache_dir=cache_dir)
    assert again.info["cache"] == "miss" and len(again) == 8


def test_folders_flat_tree_is_all_train(tmp_path):
    faces = random_faces(3, seed=12)
    _tree(tmp_path / "flat", {"angry": [faces[0]], "neutral": [faces[1], faces[2]]})
    ds = read_image_folders(tmp_path / "flat", cache=False)
    assert ds.splits.tolist() == [0, 0, 0]
    assert sorted(ds.labels.tolist()) == [0, 6, 6]


def test_folders_unknown_emotion_and_split(tmp_path):
    faces = random_faces(3, seed=13)
    _tree(tmp_path / "a", {"happy": [faces[0]], "bored": [faces[1], faces[2]]})
    with pytest.raises(DataError) as err:
        read_image_folders(tmp_path / "a", cache=False)
    msg = str(err.value)
    assert "bored" in msg and "angry" in msg and "happiness" in msg  # accepted names and aliases listed
    ds = read_image_folders(tmp_path / "a", cache=False, skip_bad=True)
    assert len(ds) == 1 and ds.info["skipped"] == 2 and "bored" in ds.info["skipped_examples"][0]

    _tree(tmp_path / "b", {"train/happy": [faces[0]], "holdout/happy": [faces[1]]})
    with pytest.raises(DataError, match=r"unknown split folder 'holdout'.*privatetest"):
        read_image_folders(tmp_path / "b", cache=False)

    _tree(tmp_path / "c", {"contempt": [faces[0]]})
    with pytest.raises(DataError, match=r"contempt.*seven FER2013 emotions"):
        read_image_folders(tmp_path / "c", cache=False)


def test_folders_bad_image_named_and_skippable(tmp_path):
    faces = random_faces(2, seed=14)
    _tree(tmp_path / "d", {"sad": [faces[0], faces[1]]})
    (tmp_path / "d" / "sad" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DataError, match=r"broken\.png"):
        read_image_folders(tmp_path / "d", cache=False)
    ds = read_image_folders(tmp_path / "d", cache=False, skip_bad=True)
    assert len(ds) == 2 and ds.info["skipped"] == 1


def test_folders_empty(tmp_path):
    (tmp_path / "e" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files"):
        read_image_folders(tmp_path / "e", cache=False)
    (tmp_path / "f").mkdir()
    with pytest.raises(DataError, match="no sub-folders"):
        read_image_folders(tmp_path / "f", cache=False)


# --------------------------------------------------------------------------- path,label csv


def test_path_label_csv(tmp_path, cache_dir):
    faces = random_faces(4, seed=15)
    for i in range(3):
        write_image(tmp_path / "imgs" / f"{i}.png", faces[i])
    absolute = write_image(tmp_path / "elsewhere" / "abs.png", faces[3])
    csv = tmp_path / "list.csv"
    csv.write_text(
        "path,label,split\n"
        "imgs/0.png,3,train\n"
        "imgs/1.png,Happiness,validation\n"
        "imgs/2.png, surprised ,PrivateTest\n"
        f"{absolute},0,test\n"
    )
    ds = read_path_label_csv(csv, cache_dir=cache_dir)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(faces))
    assert ds.labels.tolist() == [3, EMOTION_INDEX["happy"], EMOTION_INDEX["surprise"], 0]
    assert ds.splits.tolist() == [0, 1, 2, 2]
    assert read_path_label_csv(csv, cache_dir=cache_dir).info["cache"] == "hit"
    # replacing a listed image invalidates the cache even though the csv is unchanged
    write_image(tmp_path / "imgs" / "0.png", faces[3])
    st = (tmp_path / "imgs" / "0.png").stat()
    os.utime(tmp_path / "imgs" / "0.png", ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))
    again = read_path_label_csv(csv, cache_dir=cache_dir)
    assert again.info["cache"] == "miss" and torch.equal(again.images[0, 0], torch.from_numpy(faces[3]))


@pytest.mark.parametrize(
    "row, fragments",
    [
        ("imgs/0.png,9", ["line 3", "label 9 is out of range", "0..6"]),
        ("imgs/0.png,bored", ["line 3", "unknown emotion 'bored'", "angry"]),
        ("imgs/0.png,contempt", ["line 3", "seven FER2013 emotions"]),
        ("imgs/missing.png,1", ["line 3", "missing.png", "no such image file"]),
        ("imgs/0.png", ["line 3", "found 1 fields, expected 2"]),
    ],
)
def test_path_label_csv_bad_rows(tmp_path, row, fragments):
    write_image(tmp_path / "imgs" / "0.png", random_faces(1, 16)[0])
    csv = tmp_path / "list.csv"
    csv.write_text(f"path,label\nimgs/0.png,1\n{row}\n")
    with pytest.raises(DataError) as err:
        read_path_label_csv(csv, cache=False)
    msg = str(err.value)
    assert str(csv) in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    ds = read_path_label_csv(csv, cache=False, skip_bad=True)
    assert len(ds) == 1 and ds.info["skipped"] == 1 and "line 3" in ds.info["skipped_examples"][0]


def test_path_label_csv_bad_split_and_header(tmp_path):
    write_image(tmp_path / "0.png", random_faces(1, 17)[0])
    csv = tmp_path / "a.csv"
    csv.write_text("path,label,split\n0.png,1,holdout\n")
    with pytest.raises(DataError, match=r"line 2: column split: unknown split 'holdout'"):
        read_path_label_csv(csv, cache=False)
    csv.write_text("file,emotion\n0.png,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) 'path', 'label'; found columns 'file', 'emotion'"):
        read_path_label_csv(csv, cache=False)


# --------------------------------------------------------------------------- FER+


# votes columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
FERPLUS_VOTES = [
    ([0, 8, 1, 0, 0, 0, 0, 1, 0, 0], "Training"),     # happiness -> happy
    ([4, 4, 0, 0, 0, 0, 0, 0, 2, 0], "Training"),     # tie -> dropped
    ([1, 0, 0, 0, 0, 0, 0, 0, 9, 0], "Training"),     # unknown -> dropped
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "PublicTest"),  # not a face -> dropped
    ([2, 0, 0, 0, 0, 0, 0, 5, 0, 3], "PublicTest"),   # contempt -> dropped
    ([0, 0, 0, 6, 2, 0, 0, 0, 1, 1], "PublicTest"),   # sadness -> sad
    ([0, 0, 0, 0, 7, 3, 0, 0, 0, 0], "PrivateTest"),  # anger -> angry
    ([9, 0, 0, 0, 0, 0, 1, 0, 0, 0], "PrivateTest"),  # neutral
]


def _ferplus_files(tmp_path, layout="sibling"):
    n = len(FERPLUS_VOTES)
    faces = random_faces(n, seed=18)
    # fer2013 labels are deliberately different: FER+ labels must win
    pix_dir = tmp_path / "fer2013" if layout == "sibling" else tmp_path / "ferplus"
    pixels = write_fer2013(pix_dir / "fer2013.csv.gz", faces, [1] * n, [0, 0, 0, 1, 1, 1, 2, 2])
    votes = write_votes(tmp_path / "ferplus" / "fer2013new.csv", [v for v, _ in FERPLUS_VOTES],
                        [u for _, u in FERPLUS_VOTES])
    return votes, pixels, faces


@pytest.mark.parametrize("layout", ["sibling", "beside"])
def test_ferplus_majority_labels_and_drops(tmp_path, layout, cache_dir):
    votes, pixels, faces = _ferplus_files(tmp_path, layout)
    ds = read_ferplus(votes, cache_dir=cache_dir)  # pixels found automatically
    assert ds.info["pixels"] == str(pixels.resolve())
    E = EMOTION_INDEX
    assert ds.labels.tolist() == [E["happy"], E["sad"], E["angry"], E["neutral"]]
    assert ds.splits.tolist() == [0, 1, 2, 2]
    assert torch.equal(ds.images[:, 0], torch.from_numpy(faces[[0, 5, 6, 7]]))
    assert ds.info["dropped"] == {"tie": 1, "unknown": 1, "not_face": 1, "contempt": 1, "no_votes": 0}
    assert ds.info["vote_rows"] == 8 and ds.info["usage_mismatches"] == 0
    assert ds.info["votes"].shape == (4, 10) and ds.info["votes"][1].tolist() == FERPLUS_VOTES[5][0]
    sub = ds.subset(torch.tensor([False, True, False, True]))
    assert sub.info["votes"].tolist() == [FERPLUS_VOTES[5][0], FERPLUS_VOTES[7][0]]


def test_ferplus_contempt_ignore_and_explicit_pixels(tmp_path):
    votes, pixels, faces = _ferplus_files(tmp_path)
    moved = pixels.rename(tmp_path / "somewhere.csv.gz")
    with pytest.raises(DataError, match=r"pixels=PATH"):
        read_ferplus(votes, cache=False)
    ds = read_ferplus(votes, moved, contempt="ignore", cache=False)
    # row 4 without contempt votes: NF 3 beats neutral 2 -> still dropped, as not a face
    assert ds.info["dropped"]["contempt"] == 0 and ds.info["dropped"]["not_face"] == 2
    with pytest.raises(DataError, match="contempt='keep'"):
        read_ferplus(votes, moved, contempt="keep", cache=False)


def test_ferplus_misaligned_and_bad_votes(tmp_path):
    votes, pixels, faces = _ferplus_files(tmp_path)
    write_fer2013(pixels, faces[:7], [1] * 7, [0] * 7)
    with pytest.raises(DataError, match=r"has 8 data rows but .* has 7.*row order"):
        read_ferplus(votes, cache=False)
    write_fer2013(pixels, faces, [1] * 8, [0] * 8)
    text = votes.read_text().splitlines()
    text[3] = text[3].replace(",0,9,0", ",0,x,0")
    votes.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"fer2013new.csv, line 4: vote count unknown='x'"):
        read_ferplus(votes, cache=False)
    ds = read_ferplus(votes, cache=False, skip_bad=True)
    assert ds.info["skipped"] == 1 and len(ds) == 4
    votes.write_text("Usage,neutral\nTraining,1\n")
    with pytest.raises(DataError, match=r"missing column\(s\) 'image name'"):
        read_ferplus(votes, cache=False)


# --------------------------------------------------------------------------- synthetic


def test_synthetic_with_manifest(tmp_path, cache_dir):
    faces = random_faces(4, seed=19)
    root = write_synthetic(tmp_path / "syn", [("disgust", faces[0], 5), ("disgust", faces[1], 6),
                                              ("fear", faces[2], 7)])
    write_image(root / "fear" / "stray.png", faces[3])  # not in the manifest: ignored, counted
    ds = read_synthetic(root, cache_dir=cache_dir)
    assert len(ds) == 3 and torch.equal(ds.images[:, 0], torch.from_numpy(faces[:3]))
    assert ds.labels.tolist() == [EMOTION_INDEX["disgust"]] * 2 + [EMOTION_INDEX["fear"]]
    assert ds.splits.tolist() == [0, 0, 0]
    assert ds.info["unlisted_files"] == 1 and ds.info["seed"].tolist() == [5, 6, 7]
    assert ds.info["step"].tolist() == [1000] * 3
    assert ds.info["generators"] == ["runs/gan/00001/generator.pt"]


def test_synthetic_errors(tmp_path):
    faces = random_faces(2, seed=20)
    root = write_synthetic(tmp_path / "syn", [("sad", faces[0], 1), ("sad", faces[1], 2)])
    (root / "sad" / "000001.png").unlink()
    with pytest.raises(DataError, match=r"manifest.jsonl, line 2: listed file .*000001.png does not exist"):
        read_synthetic(root, cache=False)
    ds = read_synthetic(root, cache=False, skip_bad=True)
    assert len(ds) == 1 and ds.info["skipped"] == 1

    root2 = write_synthetic(tmp_path / "syn2", [("happy", np.zeros((64, 64), np.uint8), 1)])
    with pytest.raises(DataError, match=r"manifest.jsonl, line 1: .*000000.png: image is 64x64, expected 48x48"):
        read_synthetic(root2, cache=False)

    root3 = write_synthetic(tmp_path / "syn3", [("happy", faces[0], 1)])
    with open(root3 / "manifest.jsonl", "a") as f:
        f.write("{not json\n")
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read_synthetic(root3, cache=False)

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty synthetic folder"):
        read_synthetic(tmp_path / "empty", cache=False)


def test_synthetic_without_manifest_falls_back_to_tree(tmp_path):
    faces = random_faces(3, seed=21)
    root = write_synthetic(tmp_path / "syn", [("angry", faces[0], 1), ("neutral", faces[1], 2),
                                              ("neutral", faces[2], 3)], manifest=False)
    ds = read_synthetic(root, cache=False)
    assert sorted(ds.labels.tolist()) == [0, 6, 6] and ds.info["manifest"] is False
    assert ds.info["seed"].tolist() == [-1, -1, -1]


def _labelled(counts):
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    n = len(labels)
    from ferganaug.data.dataset import FaceDataset
    return FaceDataset(images=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 48, 48).clone(),
                       labels=labels, splits=torch.zeros(n, dtype=torch.int8))


def test_limit_per_class():
    ds = _labelled([10, 1, 5, 0, 3, 8, 2])
    capped = limit_per_class(ds, 3, seed=0)
    assert capped.class_counts() == [3, 1, 3, 0, 3, 3, 2]
    again = limit_per_class(ds, 3, seed=0)
    assert torch.equal(capped.images, again.images)  # seeded: same rows
    other = [limit_per_class(ds, 3, seed=s).images[:, 0, 0, 0].tolist() for s in range(1, 6)]
    assert any(o != capped.images[:, 0, 0, 0].tolist() for o in other)
    assert limit_per_class(ds, None) is ds
    per_class = limit_per_class(ds, [2, None, 0, None, 1, 8, None], seed=0)
    assert per_class.class_counts() == [2, 1, 0, 0, 1, 8, 2]
    with pytest.raises(ValueError, match="one cap per class"):
        limit_per_class(ds, [1, 2])


# --------------------------------------------------------------------------- spec strings


def test_spec_dispatch(tmp_path, cache_dir):
    faces = random_faces(3, seed=22)
    fer_csv = write_fer2013(tmp_path / "f.csv", faces, [0, 1, 2], [0, 1, 2])
    fer_gz = write_fer2013(tmp_path / "f.csv.gz", faces, [0, 1, 2], [0, 1, 2])
    write_image(tmp_path / "list" / "a.png", faces[0])
    (tmp_path / "list" / "l.csv").write_text("path,label\na.png,happy\n")
    _tree(tmp_path / "tree", {"happy": [faces[1]]})
    syn = write_synthetic(tmp_path / "syn", [("fear", faces[2], 1)])
    votes, _, _ = _ferplus_files(tmp_path / "fp")
    cases = {
        str(fer_csv): "fer2013",
        str(fer_gz): "fer2013",
        f"fer2013:{fer_csv}": "fer2013",
        str(tmp_path / "list" / "l.csv"): "csv",
        f"csv:{tmp_path / 'list' / 'l.csv'}": "csv",
        str(tmp_path / "tree"): "folder",
        f"folder:{tmp_path / 'tree'}": "folder",
        str(syn): "synthetic",
        f"synthetic:{syn}": "synthetic",
        f"folder:{syn}": "folder",  # an explicit kind wins over detection
        str(votes): "ferplus",
        f"ferplus:{votes},contempt=ignore": "ferplus",
        f"ferplus:{votes},pixels={tmp_path / 'fp' / 'fer2013' / 'fer2013.csv.gz'}": "ferplus",
    }
    for spec, reader in cases.items():
        ds = load_dataset(spec, cache_dir=cache_dir)
        assert ds.info["reader"] == reader, spec
        assert ds.source == spec
    assert load_dataset(f"ferplus:{votes},contempt=ignore", cache=False).info["contempt"] == "ignore"
    assert parse_spec(f"ferplus:{votes},pixels=/x/y.csv").options == {"pixels": "/x/y.csv"}


def test_spec_errors(tmp_path):
    with pytest.raises(DataError, match=r"no such file or folder: .*nothing\.csv"):
        load_dataset(str(tmp_path / "nothing.csv"))
    with pytest.raises(DataError, match=r"no such file or folder"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match=r"no such file or folder: .*'data:' is not a dataset kind"):
        load_dataset("data:whatever")
    faces = random_faces(1, seed=23)
    fer_csv = write_fer2013(tmp_path / "f.csv", faces, [0], [0])
    with pytest.raises(DataError, match=r"unknown option\(s\) 'seed' for fer2013; valid options: none"):
        load_dataset(f"{fer_csv},seed=3", cache=False)
    votes, _, _ = _ferplus_files(tmp_path / "fp")
    with pytest.raises(DataError, match=r"unknown option\(s\) 'pixel' for ferplus; valid options: pixels, contempt"):
        load_dataset(f"{votes},pixel=x", cache=False)
    with pytest.raises(DataError, match=r"no such file or folder: /no/such.csv \(option pixels"):
        load_dataset(f"{votes},pixels=/no/such.csv", cache=False)
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match=r"odd.csv: cannot tell what kind of dataset.*'a', 'b', 'c'"):
        load_dataset(str(odd))
    with pytest.raises(DataError, match="empty dataset spec"):
        load_dataset("  ")


def test_spec_builtin():
    try:
        from ferganaug.data.builtin import builtin_dataset
    except ImportError:
        pytest.skip("ferganaug.data.builtin is not available")
    params = inspect.signature(builtin_dataset).parameters
    wanted = {"train": 14, "val": 7, "test": 7, "seed": 0}
    opts = {k: v for k, v in wanted.items() if k in params}
    spec = "builtin:" + ",".join(f"{k}={v}" for k, v in opts.items()) if opts else "builtin"
    ds = load_dataset(spec)
    assert ds.source == spec and ds.images.shape[1:] == (1, 48, 48) and len(ds) > 0
    if {"train", "val", "test"} <= set(opts):
        assert torch.bincount(ds.splits.long(), minlength=3).tolist() == [14, 7, 7]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        with pytest.raises(DataError, match=r"unknown option\(s\) 'bogus' for builtin; valid options"):
            load_dataset("builtin:bogus=1")


def test_describe_spec_grammar_mentions_every_kind():
    text = describe_spec_grammar()
    for word in ("builtin", "fer2013", "ferplus:", "manifest.jsonl", "path,label", "folder:", "csv:", "synthetic:"):
        assert word in text, word
    json.dumps(text)


def test_a_dark_16_bit_png_stays_dark(tmp_path):
    from PIL import Image

    from ferganaug.data.images import load_face_image

    dark = np.full((48, 48), 2570, dtype=np.uint16)  # 4% of the 16-bit range: grey level 10 of 255
    dark[0, 0] = 5140
    Image.fromarray(dark).save(tmp_path / "dark.png")
    face = load_face_image(tmp_path / "dark.png")
    assert int(face.max()) == 20 and int(face.min()) == 10


def test_data_info_says_how_many_rows_it_skipped(tmp_path):
    from click.testing import CliRunner

    from classifiers.cli import main

    csv = write_fer2013(tmp_path / "f.csv", random_faces(6), [0, 1, 2, 3, 4, 5], [0] * 6)
    with open(csv, "a") as f:
        f.write("9,1 2 3,Training\n")  # a bad label and too few pixels
    result = CliRunner().invoke(main, ["data-info", str(csv), "--skip-bad", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "skipped 1 malformed rows (--skip-bad); first:" in result.output


@pytest.mark.parametrize("name", ["faces.csv", "faces.csv.gz"])
def test_write_fer2013_reads_back_row_for_row(tmp_path, name):
    data = load_dataset("builtin:train=40,val=10,test=10,seed=2")
    path = write_fer2013_csv(data, tmp_path / name)
    back = read_fer2013(path)
    assert torch.equal(back.images, data.images) and torch.equal(back.labels, data.labels)
    assert torch.equal(back.splits, data.splits)
    assert (gzip.open(path) if name.endswith(".gz") else open(path, "rb")).readline() == b"emotion,pixels,Usage\n"
    assert not list(tmp_path.glob("*.partial*")) and not list(tmp_path.glob(".*"))


def test_write_fer2013_refuses_what_the_format_cannot_hold(tmp_path):
    data = load_dataset("builtin:train=20,val=5,test=5,seed=2")
    renamed = dataclasses.replace(data, class_names=tuple(reversed(data.class_names)))
    with pytest.raises(DataError, match="a FER2013 csv labels faces angry, disgust"):
        write_fer2013_csv(renamed, tmp_path / "x.csv")
    small = dataclasses.replace(data, images=data.images[:, :, :24, :24])
    with pytest.raises(DataError, match="holds 48x48 faces, got \\(24, 24\\)"):
        write_fer2013_csv(small, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
