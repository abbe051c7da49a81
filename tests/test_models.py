"""The classifier zoo: every registered design honours the same contract; recipes match the studies."""

from __future__ import annotations

import ast
import functools
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import classifiers
from classifiers import registry
from classifiers.cli import main
from classifiers.models.base import ImageNetInputAdapter, InputSpec
from classifiers.recipes import Recipe, recipe_for, recipes
from classifiers.registry import (
    Provenance,
    UnknownModelError,
    create_model,
    list_models,
    model_entry,
    model_info,
    register_model,
)
from ferganaug.emotions import EMOTIONS

# The reference doc's table order (not the families' import order), then the toolkit's own designs.
NAMES = [
    "basic-cnn", "deep-cnn", "cnn-baseline", "cnn-improved", "resnet-baseline", "se-resnet",
    "resnet50-gray", "resnet50-transfer", "resnet18-transfer", "cnn-e", "vgg-e", "resnet18-e",
    "mini-xception", "fer-vgg",
]  # fmt: skip
FAMILIES = {
    "cnn": ["basic-cnn", "deep-cnn", "cnn-baseline", "cnn-improved", "cnn-e"],
    "resnet": ["resnet-baseline", "se-resnet", "resnet18-e"],
    "vgg": ["vgg-e", "fer-vgg"],
    "separable": ["mini-xception"],
    "transfer": ["resnet50-gray", "resnet50-transfer", "resnet18-transfer"],
}
# Study and "reported" figure per design, as the reference doc prints them.
REPORTED = {
    "basic-cnn": ("B", "44%"), "deep-cnn": ("B", None), "cnn-baseline": ("A", "62.98%"),
    "cnn-improved": ("A", "75.14%"), "resnet-baseline": ("A", "66.39%"), "se-resnet": ("A", "75.28%"),
    "resnet50-gray": ("C", "85.7%"), "resnet50-transfer": ("B", "72%"), "resnet18-transfer": ("D", "70%"),
    "cnn-e": ("E", "57.15%"), "vgg-e": ("E", "58.83%"), "resnet18-e": ("E", "60.00%"),
    "mini-xception": ("E", "0.22 ms/face, 80 frames/s (speed only, no accuracy reported)"),
    "fer-vgg": ("toolkit", None),
}  # fmt: skip
# Designs that resize to 224 inside: tests that train use input_size=64 to stay fast.
RESIZING = {"se-resnet", "resnet50-transfer", "resnet18-transfer"}
FROZEN_BY_DEFAULT = {"resnet50-transfer"}


@pytest.fixture(scope="module", autouse=True)
def _module_setup(one_torch_thread):
    yield
    _eval_model.cache_clear()  # the shared models hold ~1 GB


def fast_kw(name: str) -> dict:
    """Cheaper config for tests that train: the resizing designs resize to 64 instead of 224."""
    return {"input_size": 64} if name in RESIZING else {}


def eval_model(name: str, num_classes: int = 7, fast: bool = False) -> torch.nn.Module:
    """One model per (name, num_classes, config), shared by the forward-only tests."""
    return _eval_model(name, num_classes, fast)


@functools.lru_cache(maxsize=None)
def _eval_model(name: str, num_classes: int, fast: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, num_classes=num_classes, **(fast_kw(name) if fast else {})).eval()


def toolkit_batch(n: int = 2, chans: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, chans, 48, 48, generator=g) * 2 - 1


def test_registry_has_exactly_the_reference_designs() -> None:
    assert list_models() == NAMES


def test_package_exports_the_api() -> None:
    assert getattr(classifiers, "__file__", None), (
        "classifiers was imported as a namespace package: the editable install predates "
        "classifiers/__init__.py; reinstall it (pip install -e .)"
    )
    for name in ("create_model", "list_models", "model_info", "UnknownModelError", "InputSpec",
                 "Recipe", "recipe_for", "load_imagenet_weights", "register_model"):
        assert hasattr(classifiers, name), name


@pytest.mark.parametrize("num_classes", [7, 5])
@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_and_class_names(name: str, num_classes: int) -> None:
    # Batch 1, no grad: the cheap half of the contract. With 7 classes every design runs at its
    # default config (224 inside the resizing designs); with 5 at the cheaper test config.
    default = num_classes == 7
    model = eval_model(name, num_classes, fast=not default)
    with torch.no_grad():
        feats = model.forward_features(toolkit_batch(1))
        logits = model.forward_head(feats)
    assert feats.shape == (1, model.num_features)
    assert logits.shape == (1, num_classes) and torch.isfinite(logits).all()
    expected = EMOTIONS if num_classes == 7 else tuple(f"class_{i}" for i in range(num_classes))
    assert model.class_names == expected
    assert isinstance(model.input_spec, InputSpec)
    if name in RESIZING:
        size = 224 if default else 64
        assert model.input_spec == InputSpec(3, size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    else:
        assert model.input_spec.size == 48 and model.input_spec.channels == 1


@pytest.mark.parametrize("name", NAMES)
def test_backward_gives_finite_gradients(name: str) -> None:
    # num_classes=5: an odd count catches a hard-coded 7.
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, **fast_kw(name)).train()
    x = toolkit_batch().requires_grad_(True)
    logits = model(x)
    assert logits.shape == (2, 5)
    F.cross_entropy(logits, torch.tensor([0, 4])).backward()

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    frozen = [(n, p) for n, p in model.named_parameters() if not p.requires_grad]
    first_name, first = trainable[0]
    assert first.grad is not None, first_name
    assert torch.isfinite(first.grad).all() and first.grad.abs().sum() > 0, first_name
    for n, p in trainable:
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
    for n, p in frozen:
        assert p.grad is None, n
    if name in FROZEN_BY_DEFAULT:
        assert model.backbone_frozen and frozen
        assert all(n.startswith("backbone.") for n, _ in frozen)
        assert not first_name.startswith("backbone.")
        assert not model.backbone.training  # frozen BN keeps its statistics
    else:
        assert not frozen
    # The GAN's expression loss flows through a (possibly frozen) classifier into the generator.
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_se_resnet_48_native_stem() -> None:
    model = create_model("se-resnet", input_size=48).eval()
    assert model.backbone.conv1.stride == (1, 1) and model.backbone.conv1.in_channels == 1
    assert isinstance(model.backbone.maxpool, torch.nn.Identity)
    assert model.input_spec.size == 48 and model.input_spec.channels == 1
    n_se = sum(1 for n, _ in model.named_modules() if n.endswith(".se"))
    assert n_se == 3 + 4 + 6 + 3  # one per bottleneck
    with torch.no_grad():
        assert model(toolkit_batch(1)).shape == (1, 7)


def test_class_names_override_and_mismatch() -> None:
    names = ["a", "b", "c"]
    model = create_model("basic-cnn", num_classes=3, class_names=names)
    assert model.class_names == ("a", "b", "c")
    with pytest.raises(ValueError, match="class_names has 2 names but num_classes is 3"):
        create_model("basic-cnn", num_classes=3, class_names=["a", "b"])


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(UnknownModelError) as err:
        create_model("deep_cnn")
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "deep_cnn" in msg and "did you mean 'deep-cnn'" in msg
    assert all(name in msg for name in NAMES)
    with pytest.raises(UnknownModelError):
        model_info("nope")
    with pytest.raises(UnknownModelError):
        recipe_for("nope")


@pytest.mark.parametrize("name", NAMES)
def test_model_info(name: str) -> None:
    info = model_info(name)
    assert info["name"] == name and info["study"] in (*"ABCDE", "toolkit") and info["description"]
    assert info["params"] > 0 and 0 < info["trainable_params"] <= info["params"]
    assert info["input"] == {"channels": 1, "size": 48, "range": (-1.0, 1.0)}
    assert set(info["input_spec"]) == {"channels", "size", "mean", "std"}
    assert info["frozen_by_default"] == (name in FROZEN_BY_DEFAULT)
    json.dumps(info)


def test_model_info_counts_real_parameters() -> None:
    model = create_model("deep-cnn")
    assert model_info("deep-cnn")["params"] == sum(p.numel() for p in model.parameters())
    info = model_info("resnet50-transfer")
    assert info["trainable_params"] == 2048 * 256 + 256 + 256 * 7 + 7  # the head only


def test_bad_input_messages() -> None:
    model = create_model("deep-cnn")
    with pytest.raises(ValueError, match=r"expects input \[N, 1, H, W\]"):
        model(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match="expects 48x48"):
        model(torch.zeros(1, 1, 64, 64))


def test_rgb_data() -> None:
    for name in ("deep-cnn", "resnet18-transfer"):
        model = create_model(name, in_chans=3, **fast_kw(name)).eval()
        assert model.input_spec.channels == 3
        with torch.no_grad():
            assert model(toolkit_batch(1, chans=3)).shape == (1, 7)


def test_adapter_maps_toolkit_input_to_imagenet() -> None:
    adapter = ImageNetInputAdapter(1, 64)
    x = torch.full((2, 1, 48, 48), 0.2)  # pixel 0.6 in [0, 1]
    y = adapter(x)
    assert y.shape == (2, 3, 64, 64)
    for c, (m, s) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
        torch.testing.assert_close(y[:, c], torch.full_like(y[:, c], (0.6 - m) / s))


def test_freezing_keeps_backbone_bn_statistics() -> None:
    model = create_model("resnet50-transfer", input_size=32).train()
    bn = model.backbone.bn1
    before = bn.running_mean.clone()
    model(toolkit_batch())
    torch.testing.assert_close(bn.running_mean, before)
    heads = list(model.head_parameters())
    assert sum(p.numel() for p in heads) == sum(p.numel() for p in model.parameters() if p.requires_grad)

    model.freeze_backbone(False)
    assert model.backbone.training and all(p.requires_grad for p in model.parameters())
    model(toolkit_batch())
    assert not torch.equal(bn.running_mean, before)


def test_resnet50_gray_freezes_on_request_only() -> None:
    model = create_model("resnet50-gray", stem_stride=2)
    assert not model.backbone_frozen and all(p.requires_grad for p in model.parameters())
    model.freeze_backbone()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if model.is_head_parameter(n)}
    assert {"gamma", "beta"} <= trainable and not any(n.startswith("backbone.") for n in trainable)
    default = eval_model("resnet50-gray").backbone
    assert default.conv1.stride == (1, 1) and default.conv1.in_channels == 1
    assert isinstance(default.maxpool, torch.nn.Identity)


def test_cnn_e_gaussian_init() -> None:
    w = eval_model("cnn-e").neck[0].weight
    assert abs(w.std().item() - 0.04) < 1e-3 and abs(w.mean().item()) < 1e-3


def test_same_seed_same_model() -> None:
    torch.manual_seed(1)
    a = create_model("resnet-baseline").state_dict()
    torch.manual_seed(1)
    b = create_model("resnet-baseline").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- recipes -------------------------------------------------------------------------------


def test_every_design_has_a_recipe() -> None:
    for name in NAMES:
        r = recipe_for(name)
        assert isinstance(r, Recipe) and r.notes
        json.dumps(r.to_dict())


def test_recipes_keep_the_studies_numbers() -> None:
    se = recipe_for("se-resnet")
    assert (se.optimizer, se.lr, se.weight_decay) == ("adamw", 1e-3, 1e-5)
    assert (se.scheduler, se.plateau_factor, se.plateau_patience) == ("plateau", 0.5, 5)
    assert (se.early_stopping_patience, se.label_smoothing) == (7, 0.1)

    gray = recipe_for("resnet50-gray")
    assert (gray.optimizer, gray.lr, gray.betas) == ("adam", 1e-4, (0.9, 0.999))
    assert (gray.epochs, gray.batch_size) == (60, 32)
    assert gray.class_weights == (0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1)
    assert gray.freeze_epochs > 0

    r50 = recipe_for("resnet50-transfer")
    assert (r50.optimizer, r50.lr, r50.early_stopping_patience) == ("adam", 1e-4, 5)
    assert r50.freeze_epochs >= r50.epochs  # base frozen throughout

    r18 = recipe_for("resnet18-transfer")
    assert (r18.optimizer, r18.lr, r18.momentum, r18.weight_decay) == ("sgd", 0.0229, 0.9, 1e-4)
    assert (r18.scheduler, r18.epochs, r18.batch_size, r18.freeze_epochs) == ("onecycle", 50, 32, 0)

    for name in ("cnn-baseline", "cnn-improved", "resnet-baseline", "basic-cnn", "deep-cnn"):
        r = recipe_for(name)
        assert (r.optimizer, r.lr, r.batch_size) == ("adam", 1e-3, 64)
    assert recipe_for("deep-cnn").epochs == 60 and recipe_for("deep-cnn").augment == "standard"


def test_recipes_follow_the_listing() -> None:
    assert list(recipes()) == NAMES
    assert all(recipes()[name] is recipe_for(name) for name in NAMES)


def test_recipe_validates() -> None:
    base = recipe_for("deep-cnn")
    with pytest.raises(ValueError, match="optimizer"):
        base.replace(optimizer="rmsprop")
    with pytest.raises(ValueError, match="class_weights"):
        base.replace(class_weights="balanced")
    weights = base.replace(class_weights=[1, 2, 3, 4, 5, 6, 7]).class_weights
    assert weights == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)


# --- provenance -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_design_has_a_recipe_and_a_provenance(name: str) -> None:
    entry = model_entry(name)
    assert isinstance(entry.recipe, Recipe) and isinstance(entry.provenance, Provenance)
    study, figure = REPORTED[name]
    assert entry.provenance.study == study
    if figure is None:  # the study gives no figure: words, never a made-up number
        assert not any(c.isdigit() for c in entry.provenance.reported)
        assert "no figure" in entry.provenance.reported and entry.provenance.dataset is None
    else:
        assert entry.provenance.reported == figure and entry.provenance.dataset

    info = model_info(name)
    assert (info["study"], info["reported"], info["dataset"]) == (
        study, entry.provenance.reported, entry.provenance.dataset,
    )
    assert info["recipe"] == recipe_for(name).to_dict()
    assert name in FAMILIES[info["family"]]


def test_provenance_keeps_the_reference_docs_datasets() -> None:
    assert model_entry("basic-cnn").provenance.headline() == "44% on FER2013 test"
    assert model_entry("cnn-baseline").provenance.dataset == "AffectNet-8 (48x48 grey)"
    gray = model_entry("resnet50-gray").provenance.dataset
    assert "80/20 random split" in gray and "not credible" in gray


def test_one_family_per_file() -> None:
    root = Path(classifiers.registry.__file__).parent / "models"
    registering = {p.stem for p in root.glob("*.py") if "@register_model(" in p.read_text()}
    assert registering == set(FAMILIES)
    assert sorted(n for names in FAMILIES.values() for n in names) == sorted(NAMES)


def test_registration_needs_a_recipe_and_a_provenance() -> None:
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        register_model("x", recipe=None, provenance=Provenance("A", "1%"), description="x")
    with pytest.raises(TypeError, match="provenance must be a Provenance"):
        register_model("x", recipe=recipe_for("deep-cnn"), provenance="A", description="x")
    with pytest.raises(ValueError, match="reported figure"):
        Provenance("A", "")


def test_designs_outside_the_listing_come_last() -> None:
    # The listing fixes the reference designs' order; a design registered later is still listed.
    register_model(
        "zz-extra", recipe=recipe_for("basic-cnn"), provenance=Provenance("ours", "none yet"), description="t"
    )(registry.model_entry("basic-cnn").fn)
    try:
        assert list_models() == [*NAMES, "zz-extra"]
    finally:
        del registry._REGISTRY["zz-extra"]
    assert list_models() == NAMES


def test_cli_models_names_each_designs_study_and_figure() -> None:
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert list(lines) == NAMES
    for name, (study, figure) in REPORTED.items():
        info = model_info(name)
        fields = lines[name].split()
        assert fields[1:4] == [info["family"], study, f"{info['params']:,}"], lines[name]
        assert model_entry(name).provenance.headline() in lines[name]
        if figure:
            assert figure in lines[name]
    assert "FER2013 test" in lines["basic-cnn"] and "224x224x3" in lines["se-resnet"]

    result = CliRunner().invoke(main, ["models", "--json"])
    assert result.exit_code == 0, result.output
    infos = json.loads(result.output)
    assert [i["name"] for i in infos] == NAMES
    for info in infos:
        entry = model_entry(info["name"])
        assert (info["study"], info["reported"], info["dataset"]) == (
            entry.provenance.study, entry.provenance.reported, entry.provenance.dataset,
        )
        assert info["recipe"] == json.loads(json.dumps(entry.recipe.to_dict()))


# --- layering ------------------------------------------------------------------------------


LAYER1_ALLOWED = (
    "torch", "torchvision", "ferganaug.emotions",
    "classifiers.registry", "classifiers.models", "classifiers.pretrained", "classifiers.recipes",
)  # fmt: skip
ZOO_FILES = ["__init__.py", "registry.py", "pretrained.py", "recipes.py"]  # + models/*.py


def test_zoo_imports_stay_in_layer_1() -> None:
    # The zoo may import torch, torchvision, ferganaug.emotions, the standard library and itself.
    root = Path(classifiers.registry.__file__).parent
    files = [root / f for f in ZOO_FILES if f.endswith(".py")] + sorted((root / "models").glob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for mod in names:
                top = mod.split(".")[0]
                ok = top in sys.stdlib_module_names or mod == "classifiers" or mod.startswith(LAYER1_ALLOWED)
                assert ok, f"{path.name} imports {mod}"
