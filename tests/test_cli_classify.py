"""fer-classify end to end through click, on the built-in faces at a tiny size."""

import csv
import io
import json

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from classifiers.cli import main

TINY = "builtin:train=280,val=70,test=140,seed=3"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    result = CliRunner().invoke(main, [
        "train", "--data", TINY, "--model", "basic-cnn", "--epochs", "2", "--batch-size", "32",
        "--precision", "fp32", "--augment", "light", "--out", str(root), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    return run_dir, result.output


def test_train_prints_report_and_run_dir(trained_run):
    run_dir, output = trained_run
    assert "accuracy" in output and "disgust" in output
    assert (torch.load(f"{run_dir}/model.pt", weights_only=True)["model_name"]) == "basic-cnn"
    config = json.loads(open(f"{run_dir}/config.json").read())
    assert config["train"]["epochs"] == 2 and config["train"]["optimizer"] == "adam"


def test_evaluate_json_schema(trained_run):
    run_dir, _ = trained_run
    result = CliRunner().invoke(main, ["evaluate", f"{run_dir}/model.pt", "--data", TINY, "--json",
                                       "--tta", "flip", "--precision", "fp32", "--no-latency"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(report)
    assert set(report["per_class"]["disgust"]) >= {"precision", "recall", "f1", "support"}
    assert sum(map(sum, report["confusion"])) == report["n"] == 140
    assert report["leak_free"]["n"] <= 140


def test_predict_json_and_csv(trained_run, tmp_path):
    run_dir, _ = trained_run
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (200, 160), (120, 90, 60)).save(photo)
    result = CliRunner().invoke(main, ["predict", f"{run_dir}/model.pt", str(photo), "--no-detect"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    pred = out["predictions"][0]
    assert out["schema"] == 2 and pred["path"] == str(photo) and pred["status"] == "ok"
    assert pred["emotion"] in out["class_names"]
    assert sum(pred["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    result = CliRunner().invoke(main, ["predict", f"{run_dir}/model.pt", str(photo), "--format", "csv", "--no-detect"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows[0]["emotion"] == pred["emotion"] and "p_disgust" in rows[0]


def test_resume_finished_run_is_a_no_op_that_still_reports(trained_run):
    run_dir, _ = trained_run
    result = CliRunner().invoke(main, ["train", "--resume", run_dir, "--quiet"])
    assert result.exit_code == 0, result.output
    lines = open(f"{run_dir}/stats.jsonl").read().splitlines()
    assert [json.loads(r)["epoch"] for r in lines] == [1, 2]


def test_models_lists_every_design():
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0
    for name in ("basic-cnn", "deep-cnn", "se-resnet", "resnet18-e", "resnet50-gray"):
        assert name in result.output


def test_data_info_json():
    result = CliRunner().invoke(main, ["data-info", TINY, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "alexnet"], "'alexnet' is not one of"),
    (["train", "--data", "no/such/file.csv"], "no such file or folder"),
    (["train", "--class-weights", "heavy"], "invalid class weights"),
    (["train", "--data", TINY, "--class-weights", "1,2"], "expected 7 class weights, got 2 (classes: angry, disgust"),
    (["train", "--data", TINY, "--lr", "inf"], "lr must be a positive finite number, got inf"),
    (["train", "--data", TINY, "--lr", "nan"], "lr must be a positive finite number, got nan"),
    (["train", "--data", TINY, "--set", "weight_decay=nan"], "weight_decay must be a finite number >= 0, got nan"),
    (["train", "--data", TINY, "--set", "learning_rate=0.1"], "unknown key 'learning_rate'; valid keys: model"),
    (["evaluate", "missing.pt"], "does not exist"),
])
def test_bad_input_is_a_clear_error(args, message, tmp_path):
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "runs"), "--precision", "fp32"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # a failed start leaves nothing


def test_json_output_is_strict_when_a_metric_is_undefined(tmp_path):
    from ferganaug.utils.files import atomic_write_json, json_text

    assert json_text({"val_loss": float("nan"), "x": [float("inf"), 1.5]}, indent=None) == '{"val_loss": null, "x": [null, 1.5]}'
    atomic_write_json(tmp_path / "m.json", {"loss": float("nan")})
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=lambda c: pytest.fail(c)) == {"loss": None}


def test_truncated_checkpoint_is_a_clear_error(trained_run, tmp_path):
    run_dir, _ = trained_run
    data = open(f"{run_dir}/model.pt", "rb").read()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:1000])
    result = CliRunner().invoke(main, ["evaluate", str(cut), "--data", TINY])
    assert result.exit_code == 1
    assert "cut.pt is truncated" in result.output and "Traceback" not in result.output


def test_augment_with_synthetic_folder(trained_run, tmp_path):
    folder = tmp_path / "synthetic" / "disgust"
    folder.mkdir(parents=True)
    manifest = []
    for i in range(5):
        Image.fromarray((torch.rand(48, 48) * 255).byte().numpy(), mode="L").save(folder / f"{i:06d}.png")
        manifest.append({"file": f"disgust/{i:06d}.png", "emotion": "disgust", "source": i, "seed": i,
                         "generator": "test", "step": 0})
    (tmp_path / "synthetic" / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    result = CliRunner().invoke(main, [
        "train", "--data", TINY, "--model", "basic-cnn", "--epochs", "1", "--precision", "fp32",
        "--augment-with", str(tmp_path / "synthetic"), "--augment-cap", "3", "--out", str(tmp_path / "runs"), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    config = json.loads(open(f"{run_dir}/config.json").read())
    assert config["data"]["synthetic_added"] == {"disgust": 3}
    base_train = config["run"]["train_class_counts"]["disgust"]
    assert base_train >= 3


def test_an_unwritable_output_names_the_file(trained_run, tmp_path):
    run_dir, _ = trained_run
    Image.new("L", (48, 48), 90).save(tmp_path / "face.png")
    result = CliRunner().invoke(main, ["predict", f"{run_dir}/model.pt", str(tmp_path / "face.png"),
                                       "--output", "/proc/no-such-place/predictions.json"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "/proc/no-such-place" in result.output


def test_a_full_disk_while_training_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import errno

    import ferganaug.engine.checkpoint as checkpoint

    def disk_full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint, "atomic_torch_save", disk_full)
    result = CliRunner().invoke(main, ["train", "--data", TINY, "--model", "basic-cnn", "--epochs", "1",
                                       "--precision", "fp32", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "No space left on device" in result.output and "last.pt" in result.output
