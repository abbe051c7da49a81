"""Classifier presets: committed recipes that `fer-classify train --preset`, a GAN preset's
[classifier] table and `fergan evaluate --evaluator-preset` resolve the same way; and the
test-time augmentation a recipe asks for, reported beside the plain figures."""

import json

import pytest
import torch
from click.testing import CliRunner

from classifiers.cli import main
from classifiers.presets import preset_names, preset_train_table, resolve_preset_config
from classifiers.registry import create_model, list_models
from ferganaug.engine.config import ConfigError

TINY = "builtin:train=280,val=70,test=140,seed=3"


@pytest.mark.parametrize("name", preset_names())
def test_every_committed_preset_builds_its_design(name):
    config = resolve_preset_config(name)
    assert config.model in list_models()
    model = create_model(config.model, **config.model_kwargs).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 48, 48)).shape == (2, 7)


def test_preset_fields_sit_on_the_design_recipe_and_choices_on_the_preset():
    table = preset_train_table("fer2013-cpu")
    config = resolve_preset_config("fer2013-cpu", {"epochs": 3})
    assert config.epochs == 3  # the caller's choice wins
    assert (config.optimizer, config.nesterov, config.test_tta) == (table["optimizer"], table["nesterov"], table["test_tta"])
    other = resolve_preset_config("fer2013-cpu", {"model": "basic-cnn"})
    assert other.model == "basic-cnn" and other.optimizer == table["optimizer"]  # a new design keeps the recipe
    with pytest.raises(ConfigError, match="unknown classifier preset 'fer2013'; presets: fer2013-cpu"):
        preset_train_table("fer2013")


def test_train_with_a_preset_reports_test_time_augmentation_beside_the_plain_figures(tmp_path):
    result = CliRunner().invoke(main, [
        "train", "--preset", "fer2013-cpu", "--data", TINY, "--epochs", "1", "--lr", "0.01",
        "--precision", "fp32", "--out", str(tmp_path), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    train = json.loads(open(f"{run_dir}/config.json").read())["train"]
    table = preset_train_table("fer2013-cpu")
    assert train["model"] == table["model"] and train["optimizer"] == table["optimizer"]
    assert (train["epochs"], train["lr"], train["label_smoothing"]) == (1, 0.01, table["label_smoothing"])
    report = json.loads(open(f"{run_dir}/test_metrics.json").read())
    assert report["tta"] == table["test_tta"] != "none"
    assert "test-time augmentation flip" in result.output
    # the plain figures are those of an evaluation without test-time augmentation
    plain = CliRunner().invoke(main, ["evaluate", f"{run_dir}/model.pt", "--data", TINY, "--json",
                                      "--precision", "fp32", "--no-latency"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.output)["accuracy"] == pytest.approx(report["without_tta"]["accuracy"])


def test_unknown_preset_is_named_and_nothing_is_written(tmp_path):
    result = CliRunner().invoke(main, ["train", "--preset", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown classifier preset 'nope'" in result.output, result.output
    assert not any(tmp_path.iterdir())


def test_presets_command_lists_every_preset():
    result = CliRunner().invoke(main, ["presets"])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines()] == preset_names()


def test_gan_preset_classifier_table_can_name_a_classifier_preset(tmp_path):
    from ferganaug.presets import resolve_run_config

    config_file = tmp_path / "gan.toml"
    config_file.write_text('[classifier]\npreset = "fer2013-cpu"\nepochs = 2\n')
    classifier = resolve_run_config("builtin", config_file).classifier
    table = preset_train_table("fer2013-cpu")
    assert (classifier.model, classifier.optimizer, classifier.epochs) == (table["model"], table["optimizer"], 2)


def test_evaluator_trained_from_a_preset(tmp_path):
    from ferganaug.evaluate.evaluator import evaluator_folder, resolve_evaluator

    checkpoint, trained = resolve_evaluator(None, TINY, tmp_path, epochs=1, progress=False, precision="fp32",
                                            preset="fer2013-cpu")
    assert trained and checkpoint == evaluator_folder(tmp_path, "fer2013-cpu", 1) / "model.pt"
    train = json.loads((checkpoint.parent / "config.json").read_text())["train"]
    table = preset_train_table("fer2013-cpu")
    assert (train["model"], train["optimizer"], train["epochs"], train["balanced_sampler"]) == (
        table["model"], table["optimizer"], 1, True)
    assert resolve_evaluator(None, TINY, tmp_path, epochs=1, preset="fer2013-cpu") == (checkpoint, False)
    with pytest.raises(ConfigError, match="unknown classifier preset 'nope'"):
        resolve_evaluator(None, TINY, tmp_path, preset="nope")
