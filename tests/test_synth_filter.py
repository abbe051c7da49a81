"""fergan synthesize --filter: a classifier keeps only the candidates it is as sure of as of a
typical real training face; deterministic, resumable, never looking at test faces.

A randomly initialised generator and classifier stand in for trained ones: what is tested is
the bookkeeping, and a trained pair would cost most of this file's time budget."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ferganaug.synth as synth
from classifiers.checkpoint import load_classifier, model_artifact, save_model
from classifiers.registry import create_model
from ferganaug.cli import main
from ferganaug.data.dataset import SPLIT_INDEX, FaceDataset
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from test_evaluate import TINY, _save_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder with a random generator whose config.json names TINY as its data."""
    return _save_generator(tmp_path_factory.mktemp("gan") / "run")


def _classifier(path, class_names=EMOTIONS, seed=2):
    torch.manual_seed(seed)
    save_model(path, model_artifact(create_model("basic-cnn"), "basic-cnn", {}, class_names))
    return path


@pytest.fixture(scope="module")
def filter_ckpt(tmp_path_factory):
    return _classifier(tmp_path_factory.mktemp("filter") / "model.pt")


def _rows(out):
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _same_folder(a, b):
    """The same rows (in any order: a continued run appends emotion after emotion) and images."""
    assert sorted(_rows(a), key=lambda r: r["file"]) == sorted(_rows(b), key=lambda r: r["file"])
    assert all((a / r["file"]).read_bytes() == (b / r["file"]).read_bytes() for r in _rows(a))


def _synth(run, out, n, filter_ckpt, emotions=("disgust", "fear"), **kw):
    return synth.synthesize(run, list(emotions), n, out, progress=False, filter_classifier=filter_ckpt, **kw)


def test_filtered_synthesis_is_deterministic_and_reports_its_acceptance_rate(run, filter_ckpt, tmp_path):
    results = [CliRunner().invoke(main, ["synthesize", "--generator", str(run), "--emotion", "disgust,fear", "--n", "6",
                                         "--out", str(tmp_path / name), "--filter", str(filter_ckpt), "--quiet"])
               for name in ("a", "b")]
    assert all(r.exit_code == 0 for r in results), results[0].output
    _same_folder(tmp_path / "a", tmp_path / "b")
    rows = _rows(tmp_path / "a")
    filt = synth.load_filter(filter_ckpt, load_dataset(TINY).split("train"), ("disgust", "fear"))
    for emotion in ("disgust", "fear"):
        mine = [r for r in rows if r["emotion"] == emotion]
        assert [r["index"] for r in mine] == list(range(6))
        candidates = [r["candidate"] for r in mine]
        assert candidates == sorted(set(candidates))
        assert all(r["filter_threshold"] == filt.thresholds[emotion] <= r["filter_probability"] for r in mine)
        # the probability recorded is the filter's for the image written
        faces = torch.stack([torch.from_numpy(np.array(Image.open(tmp_path / "a" / r["file"])))[None] for r in mine])
        assert filt.probabilities(faces, emotion).tolist() == pytest.approx([r["filter_probability"] for r in mine])
        tried = candidates[-1] + 1
        assert (f"{emotion}: 6 written, 0 already there; the filter kept 6 of {tried} candidates "
                f"({600 / tried:.1f}%, threshold {filt.thresholds[emotion]:.3f})") in results[0].output


def test_threshold_is_the_median_over_real_training_faces_and_no_test_face_is_read(run, filter_ckpt, tmp_path,
                                                                                      monkeypatch):
    real = load_dataset(TINY)
    train = real.split("train")
    disgust = EMOTION_INDEX["disgust"]
    model, _ = load_classifier(filter_ckpt)
    with torch.no_grad():
        probs = model(train.images[train.labels == disgust].float() / 127.5 - 1).softmax(1)[:, disgust].tolist()
    assert len(probs) == 4  # the tiny case: four real disgust training faces
    by_hand = sorted(probs)[1]  # the median of an even count is the lower middle one (torch.median's)
    # test faces are poisoned (white, all labelled disgust) and every split asked for is recorded
    test = (real.splits == SPLIT_INDEX["test"]).view(-1, 1, 1, 1)
    poisoned = dataclasses.replace(real, images=torch.where(test, torch.tensor(255, dtype=torch.uint8), real.images),
                                   labels=torch.where(test.flatten(), disgust, real.labels))
    monkeypatch.setattr(synth, "load_dataset", lambda spec: poisoned)
    asked, split = [], FaceDataset.split
    monkeypatch.setattr(FaceDataset, "split", lambda self, name: asked.append(name) or split(self, name))
    summary = _synth(run, tmp_path / "o", 2, filter_ckpt, emotions=["disgust"])
    assert asked == ["train"]
    assert summary["filter"]["per_emotion"]["disgust"]["threshold"] == pytest.approx(by_hand, rel=1e-5)


def test_a_continued_or_interrupted_run_ends_as_an_uninterrupted_one(run, filter_ckpt, tmp_path):
    fresh = tmp_path / "fresh"
    _synth(run, fresh, 6, filter_ckpt, batch_size=4)
    continued = tmp_path / "continued"
    _synth(run, continued, 3, filter_ckpt, batch_size=4)
    summary = _synth(run, continued, 6, filter_ckpt, batch_size=4)
    assert summary["already_there"] == {"disgust": 3, "fear": 3} and summary["written"] == {"disgust": 3, "fear": 3}
    _same_folder(fresh, continued)
    # a run killed after its first 4 rows: the images it wrote after them stay on disk, unlisted
    cut = tmp_path / "cut"
    shutil.copytree(fresh, cut)
    manifest = cut / "manifest.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:4]))
    _synth(run, cut, 6, filter_ckpt, batch_size=4)
    _same_folder(fresh, cut)


def test_a_run_with_another_filter_or_none_is_refused(run, filter_ckpt, tmp_path):
    filtered, plain = tmp_path / "filtered", tmp_path / "plain"
    _synth(run, filtered, 2, filter_ckpt)
    _synth(run, plain, 2, None)
    other = _classifier(tmp_path / "other.pt", seed=3)
    with pytest.raises(DataError, match=r"line 1: made with --filter .*model.pt \(weights [0-9a-f]+\), not with "
                                        r"--filter .*other.pt .*give the same --filter or use another --out"):
        _synth(run, filtered, 3, other)
    with pytest.raises(DataError, match="made with --filter .*, not without one"):
        _synth(run, filtered, 3, None)
    with pytest.raises(DataError, match="made without --filter, not with --filter"):
        _synth(run, plain, 3, filter_ckpt)
    shutil.copy(filter_ckpt, tmp_path / "same.pt")  # the same weights under another name continue the folder
    assert _synth(run, filtered, 3, tmp_path / "same.pt")["written"] == {"disgust": 1, "fear": 1}


def test_the_cap_on_candidates_ends_an_emotion_with_a_message(run, filter_ckpt, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(synth, "MAX_CANDIDATES_PER_FACE", 1)  # n candidates for n faces: some fail the filter
    summary = _synth(run, tmp_path / "o", 10, filter_ckpt, emotions=["disgust"])
    result = summary["filter"]["per_emotion"]["disgust"]
    assert result["candidates"] == 10 and result["accepted"] < 10 and result["complete"] is False
    assert result["acceptance_rate"] == result["accepted"] / 10
    assert f"disgust: only {result['accepted']} of 10 faces passed the filter" in caplog.text
    assert len(_rows(tmp_path / "o")) == result["accepted"]


@pytest.mark.parametrize("make, message", [
    (lambda run, tmp: run / "generator.pt", "--filter: {run}/generator.pt is not a ferganaug.classifier"),
    (lambda run, tmp: _classifier(tmp / "reversed.pt", class_names=EMOTIONS[::-1]), "--filter: {tmp}/reversed.pt: class order"),
], ids=["a-generator", "other-class-order"])
def test_a_filter_that_is_not_a_classifier_of_the_emotions_is_a_clear_error(run, tmp_path, make, message):
    result = CliRunner().invoke(main, ["synthesize", "--generator", str(run), "--out", str(tmp_path / "o"),
                                       "--filter", str(make(run, tmp_path))])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert message.format(run=run, tmp=tmp_path) in result.output
    assert not (tmp_path / "o" / "manifest.jsonl").exists()
