"""ImageNet weights: local files and torchvision's cache only, never a download; bad files fail clearly.

The weights here are made up (random torchvision ResNets saved to tmp_path): no real
pretrained weights are needed or fetched.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torchvision

from classifiers.pretrained import load_imagenet_weights
from classifiers.registry import create_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision cache: torch.hub.get_dir() follows TORCH_HOME."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    assert tmp_path in folder.parents, "torch.hub.set_dir() was called elsewhere; cannot isolate the cache"
    folder.mkdir(parents=True)
    return folder


def _random_state_dict(arch: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    net = getattr(torchvision.models, arch)(weights=None)
    # Give BN statistics distinctive values so "copied" is distinguishable from "left at init".
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
    return net.state_dict()


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = _random_state_dict("resnet50")
    path = tmp_path_factory.mktemp("weights") / "resnet50-made-up.pth"
    torch.save(sd, path)
    return path, sd


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = _random_state_dict("resnet18")
    path = tmp_path_factory.mktemp("weights") / "resnet18-made-up.pth"
    torch.save(sd, path)
    return path, sd


def test_single_channel_conversion_resnet50_gray(resnet50_file) -> None:
    path, sd = resnet50_file
    model = create_model("resnet50-gray", weights=str(path))
    got = model.backbone.state_dict()
    torch.testing.assert_close(got["conv1.weight"], sd["conv1.weight"].mean(dim=1, keepdim=True))
    assert got["conv1.weight"].shape == (64, 1, 7, 7)
    for k, v in sd.items():
        if k != "conv1.weight" and not k.startswith("fc."):
            assert torch.equal(got[k], v), k
    assert "fc.weight" not in got
    assert "averaged" in model.pretrained_status and "fc.* skipped" in model.pretrained_status
    assert str(path) in model.pretrained_status
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 48, 48)).shape == (1, 7)


def test_se_resnet_takes_resnet50_weights_and_keeps_se_init(resnet50_file) -> None:
    path, sd = resnet50_file
    torch.manual_seed(0)
    model = create_model("se-resnet", input_size=48, weights=str(path))
    got = model.backbone.state_dict()
    assert torch.equal(got["layer3.5.conv2.weight"], sd["layer3.5.conv2.weight"])
    assert got["conv1.weight"].shape == (64, 1, 7, 7)
    assert "tensors outside resnet50 keep their init" in model.pretrained_status


def test_rgb_transfer_copies_conv1_exactly(resnet18_file) -> None:
    path, sd = resnet18_file
    model = create_model("resnet18-transfer", input_size=64, weights=path)
    assert torch.equal(model.backbone.conv1.weight, sd["conv1.weight"])
    assert torch.equal(model.backbone.layer4[1].bn2.running_var, sd["layer4.1.bn2.running_var"])


def test_found_in_torchvision_cache(hub: Path, resnet18_file) -> None:
    path, sd = resnet18_file
    (hub / "resnet18-f37072fd.pth").write_bytes(path.read_bytes())
    model = create_model("resnet18-transfer", input_size=64, pretrained=True)
    assert model.pretrained_status.startswith("loaded ImageNet resnet18 weights")
    assert str(hub) in model.pretrained_status
    assert torch.equal(model.backbone.layer1[0].conv1.weight, sd["layer1.0.conv1.weight"])


def test_nothing_found_trains_from_scratch(hub: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="classifiers"):
        model = create_model("resnet50-transfer", input_size=64, pretrained=True)
    status = model.pretrained_status
    assert status.startswith("no ImageNet weights for resnet50 found (looked in ")
    assert str(hub) in status and status.endswith("training from scratch")
    assert status in caplog.text
    assert "frozen but randomly initialised" in caplog.text  # the frozen-base design says so
    # The bare function says the same and does not fail.
    net = torchvision.models.resnet18(weights=None)
    assert load_imagenet_weights(net, "resnet18", None).startswith("no ImageNet weights for resnet18 found")


def test_wrapped_old_style_state_dict(tmp_path: Path, resnet18_file) -> None:
    # {"state_dict": ...}, DataParallel "module." keys, no num_batches_tracked (pre-1.0 files).
    _, sd = resnet18_file
    old = {f"module.{k}": v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": old, "epoch": 90}, path)
    net = torchvision.models.resnet18(weights=None)
    msg = load_imagenet_weights(net, "resnet18", str(path))
    assert msg.startswith("loaded")
    assert torch.equal(net.layer2[0].downsample[0].weight, sd["layer2.0.downsample.0.weight"])
    assert not torch.equal(net.fc.weight, sd["fc.weight"])  # the classifier is never copied


def test_truncated_file(tmp_path: Path, resnet18_file) -> None:
    path, _ = resnet18_file
    bad = tmp_path / "resnet18-truncated.pth"
    data = path.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"resnet18-truncated\.pth.*expected a torchvision resnet18"):
        create_model("resnet18-transfer", input_size=64, weights=str(bad))


def test_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pth"
    bad.write_text("definitely not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read weights file notes\.pth"):
        create_model("resnet50-gray", weights=str(bad))


def test_not_a_state_dict(tmp_path: Path) -> None:
    bad = tmp_path / "list.pth"
    torch.save([1, 2, 3], bad)
    with pytest.raises(ValueError, match=r"list\.pth does not hold a state dict"):
        load_imagenet_weights(torchvision.models.resnet18(weights=None), "resnet18", bad)


def test_wrong_architecture(resnet18_file) -> None:
    path, _ = resnet18_file
    expected = rf"{path.name} is not a torchvision resnet50 state dict: .*missing keys"
    with pytest.raises(ValueError, match=expected):
        create_model("resnet50-gray", weights=str(path))


def test_wrong_target(resnet50_file) -> None:
    path, _ = resnet50_file
    expected = rf"cannot load {path.name} \(resnet50\) into ResNet: .*expected a torchvision resnet50"
    with pytest.raises(ValueError, match=expected):
        load_imagenet_weights(torchvision.models.resnet18(weights=None), "resnet50", path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_model("resnet18-transfer", input_size=64, weights=str(tmp_path / "nope.pth"))


def test_designs_without_imagenet_backbone_refuse_weights(hub: Path) -> None:
    with pytest.raises(ValueError, match="has no ImageNet backbone.*resnet50-gray"):
        create_model("deep-cnn", pretrained=True)
