"""fergan evaluate: features, KID/FID with their floors, the per-emotion report, synthetic
folders measured against their manifest's source faces, the files written, bad input."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from classifiers.checkpoint import load_classifier, model_artifact, save_model
from classifiers.inference import CPU, FP32, extract_features, predict_logits
from classifiers.registry import create_model
from ferganaug.cli import main
from ferganaug.data.builtin import render_counterparts
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.evaluate import (
    compare_with_truth,
    evaluate_generator,
    evaluate_path,
    evaluate_synthetic,
    format_generator_report,
    read_synthetic_folder,
    set_distances,
)
from ferganaug.gan.images import png_bytes
from ferganaug.gan.networks import Generator
from ferganaug.gan.artifact import GENERATOR_KIND
from ferganaug.measure import frechet_distance, kernel_inception_distance
from ferganaug.utils.files import atomic_torch_save

TINY = "builtin:train=280,val=70,test=140,seed=3"
TARGETS = [e for e in EMOTIONS if e != "neutral"]


def _identity(faces, target):
    return faces, torch.zeros_like(faces)


def _save_generator(folder, spec=TINY, condition="label"):
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    g = Generator(width=8, n_res=1, condition=condition)
    atomic_torch_save({"kind": GENERATOR_KIND, "format_version": 1, "generator_config": g.config,
                       "state_dict": g.state_dict(), "class_names": list(EMOTIONS), "step": 3,
                       "source_emotions": ["neutral"]}, folder / "generator.pt")
    if spec is not None:
        (folder / "config.json").write_text(json.dumps({"data": {"spec": spec}}))
    return folder


@pytest.fixture(scope="module")
def data():
    return load_dataset(TINY)


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    """A randomly initialised resnet-baseline (64-d features) saved as a checkpoint."""
    path = tmp_path_factory.mktemp("evaluator") / "model.pt"
    torch.manual_seed(1)
    save_model(path, model_artifact(create_model("resnet-baseline"), "resnet-baseline", {}, EMOTIONS))
    return path


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return _save_generator(tmp_path_factory.mktemp("gan") / "run")


def test_extract_features_shape_batches_and_logits(evaluator):
    model = create_model("resnet-baseline").eval()
    images = torch.randint(0, 256, (5, 1, 48, 48), dtype=torch.uint8)
    feats, logits = extract_features(model, images, batch_size=2, with_logits=True)
    assert feats.shape == (5, model.num_features) == (5, 64) and feats.dtype == torch.float32
    assert torch.allclose(feats, extract_features(model, images, FP32, CPU, batch_size=128), atol=1e-5)
    assert torch.allclose(logits, predict_logits(model, images, FP32, CPU), atol=1e-5)
    assert extract_features(model, images[:0]).shape == (0, 64)


def test_distances_of_a_set_against_itself_and_the_floor():
    rng = np.random.default_rng(0)
    test = torch.from_numpy(rng.normal(size=(120, 4)))
    train = torch.from_numpy(rng.normal(0.5, 1.0, size=(100, 4)))
    same = set_distances(test, test, train)
    assert same["fid"]["value"] == pytest.approx(0.0, abs=1e-9)
    # KID is unbiased for independent samples: another draw of the same distribution scores ~0
    # (the very same rows do not: their kernel diagonal enters the cross term)
    twin = set_distances(torch.from_numpy(rng.normal(size=(120, 4))), test, train)
    assert abs(twin["kid"]["value"]) < 0.1 * twin["kid"]["floor"]
    # the floor is train vs test, computed exactly as the measure functions do
    assert same["fid"]["floor"] == pytest.approx(frechet_distance(train, test))
    assert same["kid"]["floor"] == pytest.approx(kernel_inception_distance(train, test, subsets=10, subset_size=100)[0])
    assert same["n_sets"] == {"synthetic": 120, "real_test": 120, "real_train_floor": 100}
    assert same["kid"]["subset_size"] == 120 and same["kid"]["floor_subset_size"] == 100


def test_tiny_sets_give_none_with_a_reason_not_nan():
    a = torch.randn(1, 8)
    b = torch.randn(6, 8)
    d = set_distances(a, b, b)
    assert d["kid"]["value"] is None and "fewer than 2 faces" in d["kid"]["reason"]
    assert d["fid"]["value"] is None and "8 feature dimensions" in d["fid"]["reason"]
    assert d["kid"]["floor"] is not None and d["fid"]["floor"] is None  # 6 vs 6 faces: KID yes, FID (8-d) no
    json.dumps(d, allow_nan=False)


def test_generator_report_per_emotion(data, evaluator, gan_run):
    from ferganaug.synth import load_generator_file

    gen = load_generator_file(gan_run)
    report = evaluate_generator(gen.model, gen.source_emotions, data, evaluator, n_per_emotion=10, two_sample=False)
    assert list(report["per_emotion"]) == TARGETS
    test_counts = data.split("test").class_counts()
    for emotion, row in report["per_emotion"].items():
        assert row["n"] == 10 and row["n_sets"]["synthetic"] == 10
        assert row["n_sets"]["real_test"] == min(10, test_counts[EMOTION_INDEX[emotion]])
        assert row["real_support"] == test_counts[EMOTION_INDEX[emotion]]
        assert 0 <= row["hit_rate"] <= 1 and 0 < row["mask_area"] < 1 and row["pixel_change"] > 0
        assert {"value", "std", "floor", "reason", "floor_reason", "subset_size"} <= set(row["kid"])
        assert row["fid"]["value"] is None and "64 feature dimensions" in row["fid"]["reason"]
        assert row["mae_vs_truth"] >= 0 and row["mae_source_vs_truth"] >= 0
    s = report["summary"]
    assert s["n_sources"] == 10 and s["evaluator"]["feature_dim"] == 64 and 0 < s["mean_mask_area"] < 1
    json.dumps(report, allow_nan=False)
    table = format_generator_report(report)
    assert table.splitlines()[0].split()[:3] == ["target", "n", "n"] and "mask" in table and "MAE truth" in table
    assert "FID (a set has no more faces than the 64 feature dimensions): angry" in table


def test_identity_edit_scores_the_source(data, evaluator):
    report = evaluate_generator(_identity, ("neutral",), data, evaluator, two_sample=False)
    for row in report["per_emotion"].values():
        assert row["pixel_change"] == 0 and row["mask_area"] == 0
        assert row["mae_vs_truth"] == pytest.approx(row["mae_source_vs_truth"])


def test_sample_grid_carries_the_true_renders_of_the_faces_shown(data, evaluator):
    from ferganaug.evaluate import measure_generator

    _, grid = measure_generator(_identity, ("neutral",), data, evaluator, n_per_emotion=10)
    test = data.split("test")
    shown = grid.images[:, 0]
    rows = [int(((test.images[:, 0] == face).flatten(1).all(1)).nonzero()[0]) for face in shown]
    truths = torch.stack([render_counterparts(test.subset(torch.tensor(rows)), e)[:, 0] for e in TARGETS], dim=1)
    assert grid.truths.shape == (len(shown), len(TARGETS), 48, 48) and torch.equal(grid.truths, truths)
    assert (grid.truths.float() - shown[:, None].float()).abs().mean() > 0  # the true change is there to see


def test_sample_grid_names_each_source_by_its_emotion(data, evaluator):
    from ferganaug.evaluate import measure_generator

    sources = ("happy", "neutral")
    _, grid = measure_generator(_identity, sources, data, evaluator, n_per_emotion=10, two_sample=False)
    test = data.split("test")
    shown = grid.images[:, 0]
    rows = [int(((test.images[:, 0] == face).flatten(1).all(1)).nonzero()[0]) for face in shown]
    assert grid.row_labels == tuple(f"{i + 1}: {EMOTIONS[int(test.labels[r])]}" for i, r in enumerate(rows))
    assert {label.split(": ")[1] for label in grid.row_labels} <= set(sources)
    assert grid.col_labels == ("source", *(e for e in EMOTIONS if e not in sources))


def test_floor_is_real_train_vs_real_test(data, evaluator, monkeypatch):
    from ferganaug.evaluate import measure

    calls = []
    monkeypatch.setattr(measure, "set_distances", lambda *args, **kw: _record(calls, args))
    evaluate_generator(_identity, ("neutral",), data, evaluator, n_per_emotion=12, two_sample=False)
    model, _ = load_classifier(evaluator)
    train, test = data.split("train"), data.split("test")
    assert len(calls) == len(TARGETS)
    for emotion, (synthetic, real_test, real_train, _seed) in zip(TARGETS, calls):
        k = EMOTION_INDEX[emotion]
        test_feats = extract_features(model, test.images[test.labels == k])
        train_feats = extract_features(model, train.images[train.labels == k])
        assert len(real_train) == min(len(synthetic), len(train_feats))
        assert len(real_test) == min(12, len(test_feats))
        assert all(torch.isclose(row, test_feats, atol=1e-4).all(1).any() for row in real_test)
        assert all(torch.isclose(row, train_feats, atol=1e-4).all(1).any() for row in real_train)


def _record(calls, args):
    calls.append(args)
    return set_distances(*args)


def test_reference_conditioned_generator(data, evaluator, tmp_path):
    from ferganaug.synth import load_generator_file

    gen = load_generator_file(_save_generator(tmp_path / "ref", condition="reference"))
    report = evaluate_generator(gen.model, gen.source_emotions, data, evaluator, n_per_emotion=4, two_sample=False)
    assert all(row["n"] == 4 for row in report["per_emotion"].values())


@pytest.mark.slow
def test_cli_on_a_run_writes_metrics_json_and_sheet(gan_run, evaluator):
    result = CliRunner().invoke(main, ["evaluate", str(gan_run), "--evaluator", str(evaluator), "--n-per-emotion", "8",
                                       "--json", "--quiet", "--no-two-sample"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # --json: exactly one document on stdout, the paths on stderr
    assert f"metrics: {gan_run / 'metrics.json'}" in result.stderr
    assert report["kind"] == "generator" and report["generator"]["step"] == 3 and report["data"] == TINY
    assert report == json.loads((gan_run / "metrics.json").read_text())
    assert report["summary"]["evaluator"]["trained_here"] is False
    assert report["summary"]["evaluator"]["is_loss_classifier"] is False
    assert Image.open(gan_run / "metrics.png").size[0] > 500
    assert Image.open(gan_run / "changes.png").size[0] > 500  # built-in data: drawn vs true change
    assert not (gan_run / "generator_metrics.json").exists()
    text = CliRunner().invoke(main, ["evaluate", str(gan_run), "--evaluator", str(evaluator), "--n-per-emotion", "8",
                                     "--quiet", "--no-two-sample"])
    assert text.exit_code == 0 and "mean target hit rate" in text.output and "sheet:" in text.output
    assert f"changes (drawn vs true): {gan_run / 'changes.png'}" in text.output


def test_evaluating_with_the_loss_classifier_is_flagged(gan_run, evaluator, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(gan_run, run)
    (run / "expression-classifier").mkdir()
    shutil.copy(evaluator, run / "expression-classifier" / "model.pt")
    report, _, _ = evaluate_path(run, evaluator=run / "expression-classifier", n_per_emotion=4, progress=False)
    assert report["summary"]["evaluator"]["is_loss_classifier"] is True


def _write_synthetic(folder, rows, generator="nowhere/generator.pt"):
    """rows: (emotion, source row, uint8 [1, 48, 48] face)."""
    lines = []
    for i, (emotion, source, face) in enumerate(rows):
        name = f"{emotion}/{i:06d}.png"
        (folder / emotion).mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png_bytes(face))
        row = {"file": name, "emotion": emotion, "seed": i, "generator": generator, "step": 5}
        if source is not None:
            row |= {"source": source, "source_spec": TINY}
        lines.append(json.dumps(row))
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, data):
    """Happy faces that are the true renders of their sources, and disgust faces of plain grey 128."""
    train = data.split("train")
    neutral = (train.labels == EMOTION_INDEX["neutral"]).nonzero().flatten()
    happy_src, grey_src = neutral[:5].tolist(), neutral[5:8].tolist()
    truth = render_counterparts(train.subset(torch.tensor(happy_src)), "happy")
    grey = torch.full((1, 48, 48), 128, dtype=torch.uint8)
    rows = [("happy", s, f) for s, f in zip(happy_src, truth)] + [("disgust", s, grey) for s in grey_src]
    folder = _write_synthetic(tmp_path_factory.mktemp("synth") / "s", rows)
    return folder, happy_src, grey_src


def test_synthetic_folder_is_measured_against_its_sources(synthetic, data, evaluator):
    folder, happy_src, grey_src = synthetic
    read = read_synthetic_folder(folder)
    train = data.split("train")
    assert torch.equal(read.sources.images, train.images[torch.tensor(happy_src + grey_src)])
    report = evaluate_synthetic(read, data, evaluator, two_sample=False)
    happy, disgust = report["per_emotion"]["happy"], report["per_emotion"]["disgust"]
    assert list(report["per_emotion"]) == ["disgust", "happy"]
    assert happy["n"] == 5 and disgust["n"] == 3
    assert happy["mae_vs_truth"] == 0 and happy["mae_source_vs_truth"] == happy["pixel_change"] > 0
    assert happy["mae_vs_truth_off_change"] == 0 and happy["change_cosine"] == pytest.approx(1.0)
    # grey faces: the error off the true change and the cosine, by hand
    src = train.images[grey_src].numpy().astype(float)
    true = render_counterparts(train.subset(torch.tensor(grey_src)), "disgust").numpy().astype(float)
    off = (np.abs(128.0 - true) * (true == src)).mean()
    assert disgust["mae_vs_truth_off_change"] == pytest.approx(off) and 0 < off < disgust["mae_vs_truth"]
    drawn, wanted = (128.0 - src).reshape(3, -1), (true - src).reshape(3, -1)
    cosines = (drawn * wanted).sum(1) / np.linalg.norm(drawn, axis=1) / np.linalg.norm(wanted, axis=1)
    assert disgust["change_cosine"] == pytest.approx(cosines.mean(), abs=1e-6)
    # the happy faces are the true renders, so the generator's score equals the perfect one
    assert happy["truth_hit_rate"] == happy["hit_rate"]
    assert report["summary"]["mean_truth_hit_rate"] == pytest.approx((happy["truth_hit_rate"] + disgust["truth_hit_rate"]) / 2)
    by_hand = np.abs(128.0 - train.images[grey_src].numpy().astype(float)).mean()
    assert disgust["pixel_change"] == pytest.approx(by_hand)
    assert "mask_area" not in happy
    assert happy["n_sets"]["real_train_floor"] == 5 and happy["kid"]["value"] is not None


def test_cli_on_a_synthetic_folder_trains_its_evaluator_in_the_folder(synthetic, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(synthetic[0], folder)
    (folder / "changes.png").write_bytes(b"an older evaluation's")
    report, json_path, png_path = evaluate_path(folder, evaluator_epochs=1, evaluator_precision="fp32",
                                                progress=False)
    assert not (folder / "changes.png").exists()  # a folder has no generator to compare: no stale sheet
    trained = folder / "evaluator-resnet-baseline-balanced-seed1"
    assert (trained / "model.pt").is_file()
    assert json.loads((trained / "config.json").read_text())["train"]["balanced_sampler"] is True
    assert json_path == folder / "metrics.json" and png_path.is_file()
    assert report["kind"] == "synthetic" and report["synthetic"]["rows"] == 8
    assert report["summary"]["evaluator"]["trained_here"] is True
    # the same folder again: the evaluator is found, not retrained; other data is refused
    result = CliRunner().invoke(main, ["evaluate", str(folder), "--quiet", "--no-two-sample", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    assert json.loads(json_path.read_text())["summary"]["evaluator"]["trained_here"] is False
    result = CliRunner().invoke(main, ["evaluate", str(folder), "--data", "builtin:train=60,val=10,test=30,seed=4"])
    assert result.exit_code != 0 and "holds an evaluator trained on" in result.output


def test_evaluator_folders_tell_the_samplers_apart(tmp_path):
    from ferganaug.evaluate.evaluator import evaluator_folder, resolve_evaluator

    assert evaluator_folder(tmp_path, "resnet-baseline", 1).name == "evaluator-resnet-baseline-balanced-seed1"
    # an evaluator trained before balancing was the default keeps its name and is found with "natural"
    old = evaluator_folder(tmp_path, "resnet-baseline", 1, "natural")
    assert old.name == "evaluator-resnet-baseline-seed1"
    old.mkdir()
    (old / "model.pt").write_bytes(b"x")
    assert resolve_evaluator(None, "builtin", tmp_path, sampler="natural") == (old / "model.pt", False)
    with pytest.raises(DataError, match="unknown evaluator sampler 'prior'; expected one of balanced, natural"):
        evaluator_folder(tmp_path, "resnet-baseline", 1, "prior")


def test_synthetic_folder_without_sources_still_gets_hit_rate_and_kid(tmp_path, evaluator, data):
    faces = data.split("test").images[:4]
    folder = _write_synthetic(tmp_path / "s", [("fear", None, f) for f in faces])
    result = CliRunner().invoke(main, ["evaluate", str(folder), "--evaluator", str(evaluator), "--data", TINY, "--json",
                                       "--no-two-sample"])
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "metrics.json").read_text())
    assert report["per_emotion"]["fear"]["pixel_change"] is None and "no source face" in report["summary"]["note"]


@pytest.fixture
def bad_inputs(tmp_path, evaluator, gan_run, data):
    neither = tmp_path / "neither"
    neither.mkdir()
    Image.new("L", (48, 48)).save(neither / "face.png")
    swapped = tmp_path / "swapped.pt"
    save_model(swapped, model_artifact(create_model("resnet-baseline"), "resnet-baseline", {}, EMOTIONS[::-1]))
    face = torch.zeros(1, 48, 48, dtype=torch.uint8)
    lost = _write_synthetic(tmp_path / "lost", [("fear", 0, face)])
    manifest = lost / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace(TINY, str(tmp_path / "gone.csv")))
    outside = _write_synthetic(tmp_path / "outside", [("fear", 0, face), ("fear", 10**6, face)])
    unnamed = _write_synthetic(tmp_path / "unnamed", [("fear", None, face)])
    lone = _save_generator(tmp_path / "lone", spec=None)
    return {"neither": neither, "swapped": swapped, "lost": lost, "outside": outside, "unnamed": unnamed,
            "lone": lone, "run": gan_run, "evaluator": evaluator}


@pytest.mark.parametrize("args, message", [
    (["{neither}"], "is neither a fergan train run (no generator.pt) nor a synthetic folder"),
    (["{run}", "--evaluator", "{swapped}"], "class order"),
    (["{run}", "--evaluator", "{evaluator}", "--data", "builtin:train=40,val=10,test=0"], "has no test split"),
    (["{lost}", "--evaluator", "{evaluator}"], "gone.csv' cannot be loaded (no such file or folder"),
    (["{outside}", "--evaluator", "{evaluator}"], "line 2: source 1000000 is outside the 280 training faces"),
    (["{unnamed}", "--evaluator", "{evaluator}"], "names no source_spec; give the real data with --data SPEC"),
    (["{lone}", "--evaluator", "{evaluator}"], "give --data SPEC"),
    (["{run}", "--evaluator-model", "resnet-9000"], "unknown evaluator model 'resnet-9000'"),
    (["{run}", "--n-per-emotion", "1"], "1 is not in the range x>=2"),
    (["{run}", "--evaluator", "{evaluator}", "--sources-split", "val", "--data",
      "builtin:train=40,val=1,test=20,seed=2"], "faces in the val split"),
])
def test_bad_input_is_a_one_line_error(bad_inputs, args, message):
    args = ["evaluate"] + [a.format(**bad_inputs) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a click error, not a crash
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0]  # the whole message on one line


def test_compare_with_truth_by_hand():
    pixels = lambda *v: torch.tensor(v, dtype=torch.uint8).view(1, 1, 1, -1)  # noqa: E731
    source, truth, edit = pixels(0, 0, 0, 0), pixels(0, 10, 0, 0), pixels(2, 5, 0, 0)
    numbers = compare_with_truth(edit, source, truth)
    assert numbers["mae_vs_truth"] == pytest.approx((2 + 5) / 4)
    assert numbers["mae_source_vs_truth"] == pytest.approx(10 / 4)
    assert numbers["mae_vs_truth_off_change"] == pytest.approx(2 / 4)  # pixel 0: the truth left it alone
    assert numbers["change_cosine"] == pytest.approx(50 / (29 ** 0.5 * 10))
    assert compare_with_truth(source, source, truth)["change_cosine"] == 0  # no change drawn
