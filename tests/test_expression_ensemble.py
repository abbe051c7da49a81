"""Several loss classifiers as one expression loss: the arithmetic, the [ensemble] table, and a
tiny `fergan train` that trains, records, resumes and refuses a swapped member."""

import json
import math

import pytest
import torch
import torch.nn as nn
from checkpoints_helpers import nudge_first_weight
from classifiers.presets import resolve_preset_config
from click.testing import CliRunner

from ferganaug.cli import main
from ferganaug.engine.config import ConfigError
from ferganaug.evaluate.run import _is_loss_classifier
from ferganaug.gan.expression import FrozenExpressionClassifier, LogProbEnsemble
from ferganaug.presets import resolve_run_config

TINY = "builtin:train=280,val=70,test=140,seed=3"


class FixedLogits(nn.Module):
    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(len(faces), -1) * faces.mean(dim=(1, 2, 3), keepdim=False).view(-1, 1)


def test_ensemble_is_the_mean_of_log_probabilities_and_trusts_only_agreement():
    sure_of_0 = [4.0, 0, 0, 0, 0, 0, 0]
    sure_of_1 = [0, 4.0, 0, 0, 0, 0, 0]
    faces = torch.ones(2, 1, 48, 48)
    ensemble = LogProbEnsemble([FixedLogits(sure_of_0), FixedLogits(sure_of_1)])
    out = ensemble(faces)
    # by hand: each member gives its class log(e^4 / (e^4 + 6)) and the other class log(1 / (e^4 + 6))
    own, other = 4 - math.log(math.exp(4) + 6), -math.log(math.exp(4) + 6)
    assert out[0, 0].item() == pytest.approx((own + other) / 2, abs=1e-5)
    assert out[0, 2].item() == pytest.approx(other, abs=1e-5)
    # each member alone gives its class 0.90; the two together give neither more than 0.5
    assert FixedLogits(sure_of_0)(faces).softmax(1)[0, 0] > 0.9
    assert out.softmax(1)[0, :2].max() < 0.5
    agreeing = LogProbEnsemble([FixedLogits(sure_of_0), FixedLogits(sure_of_0)])(faces)
    assert torch.allclose(agreeing.softmax(1), FixedLogits(sure_of_0)(faces).softmax(1), atol=1e-6)


def test_a_frozen_ensemble_passes_gradients_to_the_faces_only():
    members = [FixedLogits([1.0, 2, 0, 0, 0, 0, 0]), FixedLogits([0, 0, 3.0, 0, 0, 0, 1])]
    frozen = FrozenExpressionClassifier(LogProbEnsemble(members), ("angry", "disgust", "fear", "happy", "sad",
                                                                   "surprise", "neutral"))
    faces = torch.rand(3, 1, 48, 48, requires_grad=True)
    frozen(faces)[:, 1].sum().backward()
    assert faces.grad is not None and faces.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in frozen.parameters())
    with pytest.raises(ValueError, match="at least two"):
        LogProbEnsemble(members[:1])


def test_ensemble_table_carries_the_classifier_recipe_to_each_design_with_the_next_seed(tmp_path):
    path = tmp_path / "ensemble.toml"
    path.write_text('[classifier]\nepochs = 5\nbatch_size = 32\naugment = "light"\nmodel_kwargs = {dropout = 0.2}\n'
                    '[ensemble]\nmodels = ["mini-xception", "basic-cnn"]\n')
    config = resolve_run_config("builtin", path, {"seed": 4})
    assert [c.model for c in config.loss_classifiers] == ["deep-cnn", "mini-xception", "basic-cnn"]
    assert [c.seed for c in config.loss_classifiers] == [4, 5, 6]
    for member in config.ensemble:
        assert (member.epochs, member.batch_size, member.augment, member.model_kwargs) == (5, 32, "light", {})
    assert config.to_dict()["ensemble"][0]["model"] == "mini-xception"
    assert "ensemble" not in resolve_run_config("builtin").to_dict()


def test_ensemble_presets_bring_their_own_recipe_after_the_models(tmp_path):
    path = tmp_path / "ensemble.toml"
    path.write_text('[classifier]\nepochs = 5\n[ensemble]\nmodels = ["basic-cnn"]\npresets = ["fer2013-cpu"]\n')
    config = resolve_run_config("builtin", path, {"seed": 2, "precision": "fp32"})
    from_preset = resolve_preset_config("fer2013-cpu")
    assert [c.model for c in config.loss_classifiers] == ["deep-cnn", "basic-cnn", from_preset.model]
    assert [c.seed for c in config.loss_classifiers] == [2, 3, 4]
    member = config.ensemble[1]
    assert member.epochs == from_preset.epochs != 5  # its own recipe, not [classifier]'s
    assert (member.optimizer, member.lr, member.precision) == (from_preset.optimizer, from_preset.lr, "fp32")


@pytest.mark.parametrize("table, message", [
    ('models = ["no-such-net"]', "unknown design 'no-such-net'"),
    ('models = "mini-xception"', "models = a list of design names"),
    ('designs = ["mini-xception"]', "models = a list of design names and/or presets"),
    ('presets = ["fer-vgg"]', "unknown classifier preset 'fer-vgg'"),
])
def test_a_bad_ensemble_table_names_the_file_and_what_was_expected(tmp_path, table, message):
    path = tmp_path / "bad.toml"
    path.write_text(f"[ensemble]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as err:
        resolve_run_config("builtin", path)
    assert "bad.toml [ensemble]" in str(err.value)


def test_fergan_train_with_an_ensemble_trains_records_and_resumes_against_both(tmp_path):
    config = tmp_path / "ensemble.toml"
    config.write_text('[classifier]\nepochs = 1\n[ensemble]\nmodels = ["basic-cnn"]\n')
    result = CliRunner().invoke(main, [
        "train", "--data", TINY, "--config", str(config), "--steps", "2", "--set", "gan.batch_size=8",
        "--set", "sample_every=1", "--precision", "fp32", "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / result.output.strip().splitlines()[-1].rsplit("/", 1)[-1]
    facts = json.loads((run / "config.json").read_text())["expression_classifier"]
    second = run / "expression-classifier-2" / "model.pt"
    assert facts["model"] == "deep-cnn" and [m["model"] for m in facts["ensemble"]] == ["basic-cnn"]
    assert facts["ensemble"][0]["checkpoint"] == str(second.resolve()) and facts["ensemble"][0]["trained_here"]
    assert _is_loss_classifier(second, run)  # fergan evaluate warns about either member

    resumed = CliRunner().invoke(main, ["train", "--resume", str(run), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    nudge_first_weight(second)
    swapped = CliRunner().invoke(main, ["train", "--resume", str(run), "--quiet"])
    assert swapped.exit_code != 0 and "expression-classifier-2" in swapped.output
    assert "is not the expression classifier this run trained with" in swapped.output
