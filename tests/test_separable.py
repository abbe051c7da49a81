"""mini-xception (study E's real-time recogniser): structure, size, the model contract and a CLI run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from test_cli_classify import TINY

from classifiers.cli import main
from classifiers.inference import fold_batchnorm
from classifiers.models.separable import MiniXception, XceptionModule
from classifiers.registry import create_model, model_entry, model_info
from ferganaug.emotions import EMOTIONS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 48, 48, generator=g) * 2 - 1


def test_parameter_count_is_tens_of_thousands() -> None:
    model = create_model("mini-xception")
    params = sum(p.numel() for p in model.parameters())
    assert 20_000 < params < 200_000
    # Keras' summary of the same network: 58,423, of which 1,472 are BN moving statistics.
    assert params == 56_951 == model_info("mini-xception")["params"]


def test_residual_modules_are_depthwise_separable() -> None:
    model = create_model("mini-xception")
    blocks = [m for m in model.modules() if isinstance(m, XceptionModule)]
    assert [b.shortcut[0].out_channels for b in blocks] == [16, 32, 64, 128]
    for block in blocks:
        convs = [m for m in block.branch if isinstance(m, torch.nn.Conv2d)]
        depthwise, pointwise = convs[0::2], convs[1::2]
        assert len(depthwise) == len(pointwise) == 2
        for dw, pw in zip(depthwise, pointwise):
            assert dw.groups == dw.in_channels == dw.out_channels and dw.kernel_size == (3, 3)
            assert pw.groups == 1 and pw.kernel_size == (1, 1) and pw.out_channels == block.shortcut[0].out_channels
        short = block.shortcut[0]
        assert short.kernel_size == (1, 1) and short.stride == (2, 2)


def test_the_shortcut_is_added_to_the_branch() -> None:
    block = XceptionModule(8, 16).eval()
    x = torch.randn(1, 8, 44, 44)
    with torch.no_grad():
        assert block(x).shape == (1, 16, 22, 22)
        torch.testing.assert_close(block(x), block.branch(x) + block.shortcut(x))
        block.shortcut[1].weight.zero_()
        block.shortcut[1].bias.zero_()
        torch.testing.assert_close(block(x), block.branch(x))


@pytest.mark.parametrize("num_classes", [7, 5, 3])
def test_contract_with_odd_class_counts(num_classes: int) -> None:
    torch.manual_seed(0)
    model = create_model("mini-xception", num_classes=num_classes).train()
    x = batch().requires_grad_(True)
    feats = model.forward_features(x)
    logits = model.forward_head(feats)
    assert feats.shape == (2, model.num_features) == (2, 128 * 3 * 3)
    assert logits.shape == (2, num_classes) and torch.isfinite(logits).all()
    expected = EMOTIONS if num_classes == 7 else tuple(f"class_{i}" for i in range(num_classes))
    assert model.class_names == expected
    F.cross_entropy(logits, torch.tensor([0, num_classes - 1])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert x.grad is not None and x.grad.abs().sum() > 0  # the GAN's expression loss reaches its input


def test_bad_input_is_a_clear_error() -> None:
    model = create_model("mini-xception")
    with pytest.raises(ValueError, match="expects 48x48"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"expects input \[N, 1, H, W\]"):
        model(torch.zeros(1, 3, 48, 48))


def test_batchnorm_folds_away_for_inference() -> None:
    # Every BN sits right after a conv in one Sequential, so evaluate's fast path folds them all.
    torch.manual_seed(0)
    model = MiniXception()
    model.train()
    model(batch(8))  # give BN non-trivial running statistics
    model.eval()
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(batch()), model(batch()), atol=1e-5, rtol=1e-4)


def test_provenance_is_speed_only() -> None:
    provenance = model_entry("mini-xception").provenance
    assert provenance.study == "E"
    assert "0.22 ms" in provenance.reported and "80 frames/s" in provenance.reported
    assert "no accuracy" in provenance.reported and "%" not in provenance.headline()


def test_trains_through_the_cli(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = CliRunner().invoke(main, [
        "train", "--model", "mini-xception", "--data", TINY, "--epochs", "1", "--precision", "fp32",
        "--out", str(runs), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    assert "accuracy" in result.output
    artifact = torch.load(f"{run_dir}/model.pt", weights_only=True)
    assert artifact["model_name"] == "mini-xception"
    train = json.loads(Path(run_dir, "config.json").read_text())["train"]
    # The design's recipe fills what the command line leaves unset.
    assert (train["batch_size"], train["scheduler"], train["plateau_factor"]) == (32, "plateau", 0.1)
    assert train["epochs"] == 1
