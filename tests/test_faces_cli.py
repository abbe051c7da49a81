"""Faces in the wild through the command lines: predict, transfer and evaluate on photos."""

import csv
import io
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from classifiers.checkpoint import model_artifact, save_model
from classifiers.cli import main as classify
from classifiers.registry import create_model
from ferganaug.cli import main as fergan
from ferganaug.emotions import EMOTIONS
from ferganaug.gan.networks import Generator
from ferganaug.gan.artifact import generator_artifact
from ferganaug.utils.files import atomic_torch_save
from photos import astronaut, faceless, faces_on_canvas


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An (untrained) recogniser and generator, and photos: one face, two faces, none."""
    root = tmp_path_factory.mktemp("faces")
    torch.manual_seed(0)
    model = create_model("basic-cnn", num_classes=7)
    save_model(root / "model.pt", model_artifact(model, "basic-cnn", {}, EMOTIONS))
    atomic_torch_save(generator_artifact(Generator(width=8, n_res=1), 0, ("neutral",)), root / "generator.pt")
    Image.fromarray(astronaut()).save(root / "astronaut.jpg")
    Image.fromarray(faces_on_canvas([(400, 250), (20, 20)])).save(root / "two.png")
    Image.fromarray(faceless()).save(root / "coffee.jpg")
    return root


def run(main, args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_predict_gives_one_record_per_face_and_one_for_a_faceless_photo(files):
    result = run(classify, ["predict", files / "model.pt", files / "two.png", files / "astronaut.jpg", files / "coffee.jpg"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["schema"] == 2 and out["detector"] == "haar"
    records = out["predictions"]
    assert [(r["path"].split("/")[-1], r["face"], r["status"]) for r in records] == [
        ("two.png", 0, "ok"), ("two.png", 1, "ok"), ("astronaut.jpg", 0, "ok"), ("coffee.jpg", None, "no_face")]
    assert records[0]["box"][0] < records[1]["box"][0]
    assert sum(records[2]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert records[3]["emotion"] is None and records[3]["probabilities"] is None
    result = run(classify, ["predict", files / "model.pt", files / "two.png", files / "coffee.jpg", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["status"] for r in rows] == ["ok", "ok", "no_face"]
    assert float(rows[0]["box_w"]) > 50 and rows[0]["left_eye_x"] == "" and rows[2]["emotion"] == ""


def test_no_detect_takes_the_whole_image_as_the_face(files):
    result = run(classify, ["predict", files / "model.pt", files / "coffee.jpg", "--no-detect"])
    record = json.loads(result.stdout)["predictions"][0]
    assert record["status"] == "ok" and record["face"] is None and record["box"] is None
    assert record["emotion"] in EMOTIONS


def test_annotate_writes_each_photo_and_never_replaces_one(files, tmp_path):
    args = ["predict", files / "model.pt", files / "two.png", files / "coffee.jpg", "--annotate", tmp_path / "ann"]
    assert run(classify, args).exit_code == 0
    drawn = np.asarray(Image.open(tmp_path / "ann" / "two_annotated.jpg"))
    assert drawn.shape == (480, 640, 3)
    assert (tmp_path / "ann" / "coffee_annotated.jpg").is_file()
    again = run(classify, args)
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_a_bad_image_is_an_error_naming_it_or_a_record_with_skip_bad(files, tmp_path):
    (tmp_path / "broken.jpg").write_bytes((files / "astronaut.jpg").read_bytes()[:2000])
    result = run(classify, ["predict", files / "model.pt", files / "astronaut.jpg", tmp_path / "broken.jpg"])
    assert result.exit_code == 1 and "broken.jpg" in result.stderr and "Traceback" not in result.stderr
    result = run(classify, ["predict", files / "model.pt", files / "astronaut.jpg", tmp_path / "broken.jpg", "--skip-bad"])
    records = json.loads(result.stdout)["predictions"]
    assert [r["status"] for r in records] == ["ok", "unreadable"] and "broken.jpg" in records[1]["error"]


def test_tiny_and_huge_photos_go_through(files, tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    big = np.full((6000, 8000, 3), 120, dtype=np.uint8)
    big[2000:3730, 3000:4730] = np.asarray(Image.fromarray(faces_on_canvas([(0, 0)], (173, 173))).resize((1730, 1730)))
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=80)
    result = run(classify, ["predict", files / "model.pt", tmp_path / "dot.png", tmp_path / "big.jpg"])
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)["predictions"]
    assert [r["status"] for r in records] == ["no_face", "ok"] and records[1]["box"][2] > 500


def test_transfer_pastes_the_edit_into_the_whole_photo(files, tmp_path):
    result = run(fergan, ["transfer", files / "astronaut.jpg", files / "coffee.jpg", "--generator", files / "generator.pt",
                          "--emotion", "disgust", "--out", tmp_path])
    assert result.exit_code == 0, result.stderr
    assert "no face found in" in result.stderr and "coffee.jpg" in result.stderr
    edited = np.asarray(Image.open(tmp_path / "astronaut_disgust.png"))
    original = np.asarray(Image.open(files / "astronaut.jpg"))
    assert edited.shape == original.shape
    assert np.array_equal(edited[300:], original[300:]) and np.array_equal(edited[:, :120], original[:, :120])
    assert not np.array_equal(edited[60:170, 170:280], original[60:170, 170:280])


def test_transfer_grid_shows_every_face_beside_every_emotion(files, tmp_path):
    result = run(fergan, ["transfer", files / "two.png", "--generator", files / "generator.pt", "--grid", "--out", tmp_path])
    assert result.exit_code == 0, result.stderr
    grid = Image.open(tmp_path / "two_all-emotions.png")
    assert grid.width > grid.height  # two rows of eight faces


def test_evaluate_detect_on_a_flat_folder_of_photos(files, tmp_path):
    for emotion, photo in [("happy", astronaut()), ("neutral", faces_on_canvas([(100, 100)])), ("sad", faceless())]:
        (tmp_path / emotion).mkdir()
        Image.fromarray(photo).save(tmp_path / emotion / "a.jpg")
    result = run(classify, ["evaluate", files / "model.pt", "--data", tmp_path, "--detect", "--no-latency", "--json",
                            "--precision", "fp32"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["split"] == "all" and report["n"] == 2 and report["no_face"] == 1 and report["detector"] == "haar"
    result = run(classify, ["evaluate", files / "model.pt", "--data", "builtin", "--detect"])
    assert result.exit_code == 2 and "--detect reads a folder of labelled photos" in result.stderr
