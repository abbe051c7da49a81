"""fer-classify benchmark: the zoo trained under a time budget into one resumable table."""

import json

import pytest
from click.testing import CliRunner

from classifiers.cli import main
from classifiers.zoo import EPOCH_OVERHEAD, ZooOptions, design_config, plan_epochs

TINY = "builtin:train=280,val=70,test=140,seed=3"


def bench(out, *extra):
    return CliRunner().invoke(main, ["benchmark", "--data", TINY, "--models", "basic-cnn,mini-xception",
                                     "--precision", "fp32", "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo")
    result = bench(out, "--budget-minutes", "2", "--max-epochs", "1")
    assert result.exit_code == 0, result.output
    return out


def test_every_design_gets_a_row_with_its_measurements(zoo):
    table = (zoo / "zoo.md").read_text()
    assert "| basic-cnn |" in table and "| mini-xception |" in table
    assert "Machine: CPU: " in table and "Trained at precision: fp32." in table  # what the figures depend on
    for name in ("basic-cnn", "mini-xception"):
        result = json.loads((zoo / name / "result.json").read_text())
        assert result["trained"] and result["epochs"] == 1 == result["recipe_epochs"]
        assert result["train_precision"] == "fp32"
        assert 0 <= result["accuracy"] <= 1 and result["faces_per_s"] > 0
        assert set(result["recall"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
        assert result["reported"]  # the study's own figure, beside ours


def test_the_same_command_continues_without_retraining(zoo):
    before = {p: p.stat().st_mtime_ns for p in zoo.glob("*/result.json")}
    result = bench(zoo, "--budget-minutes", "2", "--max-epochs", "1")
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in zoo.glob("*/result.json")} == before


def test_other_options_into_the_same_folder_are_refused(zoo):
    result = bench(zoo, "--budget-minutes", "5", "--max-epochs", "1")
    assert result.exit_code == 1 and "holds a benchmark with other options" in result.output


def test_a_design_that_cannot_train_an_epoch_in_budget_gets_its_epoch_time(tmp_path):
    result = CliRunner().invoke(main, ["benchmark", "--data", TINY, "--models", "basic-cnn", "--precision", "fp32",
                                       "--budget-minutes", "0.00001", "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "basic-cnn" / "result.json").read_text())
    assert row["trained"] is False and row["estimated_epoch_s"] > 0 and "over the" in row["why"]
    assert "not trained" in (tmp_path / "zoo.md").read_text()


def test_224_pixel_designs_train_at_the_given_input_size():
    options = ZooOptions(data=TINY, budget_minutes=1, models=("se-resnet", "deep-cnn"), input_size=64)
    assert design_config("se-resnet", options).model_kwargs == {"input_size": 64}
    assert design_config("deep-cnn", options).model_kwargs == {}


def test_planned_epochs_never_exceed_the_recipe_nor_the_budget(monkeypatch):
    config = design_config("basic-cnn", ZooOptions(data=TINY, budget_minutes=1, models=("basic-cnn",), precision="fp32"))
    epochs, epoch_s, precision = plan_epochs(config, 280, 70, budget_s=1e9)
    assert epochs == config.epochs and epoch_s > 0 and precision == "fp32"
    # a fixed step rate, so that the plan is arithmetic rather than a timing of this machine
    monkeypatch.setattr("classifiers.zoo.measure_train_throughput", lambda *args, **kwargs: 1000.0)
    epoch_s = EPOCH_OVERHEAD * (280 + 70 / 3) / 1000.0  # validation is forward only: a third of a step
    assert plan_epochs(config, 280, 70, budget_s=2.5 * epoch_s) == (2, pytest.approx(epoch_s), "fp32")
    assert plan_epochs(config, 280, 70, budget_s=0.9 * epoch_s)[0] == 0


def test_unknown_design_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["benchmark", "--data", TINY, "--models", "deep-cnn,vgg-99", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown design 'vgg-99'" in result.output
