"""fer-classify shift: decision boundaries tuned on the validation split, stored in the checkpoint,
and applied by evaluate and predict."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from toy_data import toy_faces

import classifiers.boundary
import classifiers.workflow
from classifiers.boundary import DECISION_BIAS, decision_bias, shift_checkpoint
from classifiers.checkpoint import CheckpointError, load_classifier, model_artifact, save_model
from classifiers.cli import main
from classifiers.inference import CPU, FP32, fold_batchnorm, predict_logits
from classifiers.predict import FacePredictor
from classifiers.registry import create_model
from ferganaug.data.errors import DataError
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.measure.threshold import log_softmax
from ferganaug.study.shift import tune_biases

DISGUST, FEAR = EMOTION_INDEX["disgust"], EMOTION_INDEX["fear"]


@pytest.fixture
def toy(monkeypatch):
    data = toy_faces(n_per_class=20)
    monkeypatch.setattr(classifiers.boundary, "load_dataset", lambda spec, **kw: data)
    monkeypatch.setattr(classifiers.workflow, "load_dataset", lambda spec, **kw: data)
    return data


@pytest.fixture
def never_disgust(tmp_path):
    """An untrained model whose disgust logit sits 3 below the others: it never predicts disgust."""
    torch.manual_seed(0)
    model = create_model("basic-cnn")
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[DISGUST] -= 3.0  # within the tuning grid (+-4)
    path = tmp_path / "model.pt"
    save_model(path, model_artifact(model, "basic-cnn", {}, EMOTIONS))
    return path


def _log_probs(checkpoint, images) -> np.ndarray:
    model, _ = load_classifier(checkpoint)
    return log_softmax(predict_logits(fold_batchnorm(model), images, FP32, CPU).numpy())


def test_the_biases_are_the_studys_chosen_on_the_validation_split(toy, never_disgust):
    before = hashlib.sha256(never_disgust.read_bytes()).hexdigest()
    result = shift_checkpoint(never_disgust, "toy", ["disgust", "Fearful"])
    shifted = never_disgust.with_name("model-shifted.pt")
    assert result["out"] == str(shifted) and hashlib.sha256(never_disgust.read_bytes()).hexdigest() == before
    val = toy.split("val")
    expected = tune_biases(_log_probs(never_disgust, val.images), val.labels.numpy(), [DISGUST, FEAR], "f1")
    _, artifact = load_classifier(shifted)
    biases = artifact[DECISION_BIAS]["biases"]
    assert [biases[DISGUST], biases[FEAR]] == expected
    assert all(b == 0 for c, b in enumerate(biases) if c not in (DISGUST, FEAR))
    assert artifact[DECISION_BIAS]["emotions"] == ["disgust", "fear"] and artifact[DECISION_BIAS]["n_val"] == len(val)
    assert set(result["per_emotion"]) == {"disgust", "fear"}
    # A model that never says disgust gains it: a positive bias and a validation F1 above zero.
    row = shift_checkpoint(never_disgust, "toy", ["disgust"])["per_emotion"]["disgust"]
    assert row["bias"] > 0 and row["f1_before"] == 0 and row["f1_after"] > 0


def test_evaluate_and_predict_apply_the_stored_bias(toy, never_disgust):
    shift_checkpoint(never_disgust, "toy", ["disgust"], out=never_disgust.with_name("s.pt"))
    shifted = never_disgust.with_name("s.pt")
    bias = decision_bias(load_classifier(shifted)[1])
    test = toy.split("test")
    expected = torch.from_numpy(_log_probs(never_disgust, test.images)).float() + bias
    probs = FacePredictor(shifted).probabilities(test.images[:, 0])
    assert torch.allclose(probs, expected.softmax(dim=1), atol=1e-5)
    assert FacePredictor(shifted).shifted_emotions() == {"disgust": pytest.approx(float(bias[DISGUST]))}
    assert FacePredictor(never_disgust).shifted_emotions() is None
    report = classifiers.workflow.evaluate_checkpoint(shifted, "toy", precision="fp32", latency=False)
    hits = expected.argmax(dim=1) == test.labels
    assert report["accuracy"] == pytest.approx(float(hits.float().mean()))
    assert report["per_class"]["disgust"]["recall"] > 0  # the plain model's is 0
    assert report["decision_bias"]["emotions"] == ["disgust"]
    plain = classifiers.workflow.evaluate_checkpoint(never_disgust, "toy", precision="fp32", latency=False)
    assert plain["per_class"]["disgust"]["recall"] == 0 and "decision_bias" not in plain


def test_the_command_prints_the_choice_and_evaluate_names_it(toy, never_disgust):
    runner = CliRunner()
    out = never_disgust.with_name("chosen.pt")
    result = runner.invoke(main, ["shift", str(never_disgust), "--data", "toy", "--emotion", "disgust",
                                  "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "disgust: bias +" in result.output and "F1 0.0% ->" in result.output and str(out) in result.output
    shown = runner.invoke(main, ["evaluate", str(out), "--data", "toy", "--no-latency", "--precision", "fp32"])
    assert "decision boundaries moved by fer-classify shift: disgust +" in shown.output
    as_json = runner.invoke(main, ["shift", str(never_disgust), "--data", "toy", "--emotion", "disgust", "--json",
                                   "--out", str(out)])
    assert json.loads(as_json.output)["per_emotion"]["disgust"]["bias"] > 0


@pytest.mark.parametrize("emotions, out, message", [
    (["grumpy"], None, "--emotion grumpy"),
    (["disgust", "disgusted"], None, "--emotion disgusted: named twice"),
    (["disgust"], "model.pt", "is the checkpoint itself"),
    ([], None, "name at least one emotion"),
])
def test_bad_requests_are_named_and_write_nothing(toy, never_disgust, emotions, out, message):
    target = None if out is None else never_disgust.with_name(out)
    with pytest.raises(DataError, match=message):
        shift_checkpoint(never_disgust, "toy", emotions, out=target)
    assert sorted(p.name for p in never_disgust.parent.iterdir()) == ["model.pt"]


def test_a_validation_split_without_the_emotion_is_refused(monkeypatch, never_disgust):
    data = toy_faces(n_per_class=20)
    keep = ~((data.labels == DISGUST) & (data.splits == 1))
    monkeypatch.setattr(classifiers.boundary, "load_dataset", lambda spec, **kw: data.subset(keep))
    with pytest.raises(DataError, match="the validation split has no disgust faces"):
        shift_checkpoint(never_disgust, "toy", ["disgust"])


def test_a_malformed_stored_bias_is_refused_naming_the_file(never_disgust):
    artifact = torch.load(never_disgust, weights_only=True)
    artifact[DECISION_BIAS] = {"biases": [0.0, float("nan")]}
    save_model(never_disgust, artifact)
    with pytest.raises(CheckpointError, match=r"model.pt: 'decision_bias' must hold 7 finite biases"):
        FacePredictor(never_disgust)


def test_predict_names_the_moved_boundaries(toy, never_disgust, tmp_path):
    from PIL import Image

    shifted = never_disgust.with_name("s.pt")
    shift_checkpoint(never_disgust, "toy", ["disgust"], out=shifted)
    face = tmp_path / "face.png"
    Image.fromarray(toy.split("test").images[0, 0].numpy()).save(face)
    runner = CliRunner()
    records = json.loads(runner.invoke(main, ["predict", str(shifted), str(face), "--no-detect"]).output)
    bias = float(decision_bias(load_classifier(shifted)[1])[DISGUST])
    assert records["decision_bias"] == {"disgust": pytest.approx(bias)}
    plain = json.loads(runner.invoke(main, ["predict", str(never_disgust), str(face), "--no-detect"]).output)
    assert plain["decision_bias"] is None
    assert records["predictions"][0]["probabilities"]["disgust"] > plain["predictions"][0]["probabilities"]["disgust"]
