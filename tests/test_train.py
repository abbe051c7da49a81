import json
import math

import pytest
import torch
import torch.nn.functional as F

from classifiers import workflow
from classifiers.checkpoint import CheckpointError, load_classifier, read_checkpoint
from ferganaug.data.errors import DataError
from ferganaug.data.imbalance import logit_adjustment
from ferganaug.engine import restore_training_state
from classifiers.train import TrainConfig, TrainData, Trainer, split_train_val, training_loss
from toy_data import toy_faces

FAST = dict(model="basic-cnn", batch_size=16, precision="fp32", augment="none", lr=2e-3)


def _trainer(tmp_path, name="run", **overrides):
    config = TrainConfig(**{**FAST, **overrides})
    return Trainer(config, split_train_val(toy_faces(), config.seed), tmp_path / name, progress=False)


def test_tiny_overfit(tmp_path):
    trainer = _trainer(tmp_path, epochs=12)
    trainer.fit()
    train_report = trainer.evaluate(trainer.data.train)
    assert train_report["accuracy"] > 0.9


def test_same_seed_same_weights(tmp_path):
    a = _trainer(tmp_path, "a", epochs=2, augment="strong")
    b = _trainer(tmp_path, "b", epochs=2, augment="strong")
    a.fit(), b.fit()
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k


def test_fit_resume_matches_uninterrupted_fit(tmp_path):
    settings = dict(epochs=3, augment="standard", scheduler="cosine", balanced_sampler=True)
    straight = _trainer(tmp_path, "straight", **settings)
    straight.fit()
    interrupted = _trainer(tmp_path, "resumed", **{**settings, "epochs": 3})
    interrupted.config = TrainConfig(**{**FAST, **settings, "epochs": 1})  # stop after one epoch
    interrupted.fit()
    resumed = _trainer(tmp_path, "resumed", **settings)
    assert restore_training_state(resumed.folder, resumed, "a classifier checkpoint")
    resumed.fit()
    assert resumed.epoch == 3
    # Compare the final (not best-restored) states: weights, optimiser moments, RNG streams.
    a = read_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = read_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    moments_a = [s["exp_avg"] for s in a["optimizer"]["state"].values()]
    moments_b = [s["exp_avg"] for s in b["optimizer"]["state"].values()]
    assert all(torch.equal(x, y) for x, y in zip(moments_a, moments_b))
    assert torch.equal(a["rng"]["augment"], b["rng"]["augment"])
    stats = (tmp_path / "resumed" / "stats.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in stats] == [1, 2, 3]


def test_non_finite_loss_stops_with_checkpoint_intact(tmp_path):
    trainer = _trainer(tmp_path, epochs=3)
    trainer.train_epoch()
    trainer.epoch += 1
    trainer.save_state()
    before = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    original_forward = trainer.model.forward
    trainer.model.forward = lambda x: original_forward(x) * float("nan")
    with pytest.raises(FloatingPointError, match="last good checkpoint"):
        trainer.train_epoch()
    after = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert after["epoch"] == before["epoch"] == 1


def test_early_stopping_restores_best(tmp_path):
    trainer = _trainer(tmp_path, epochs=30, early_stopping=2, lr=1e-2)
    trainer.fit()
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    best_epoch = max(stats, key=lambda s: s["val_acc"])["epoch"]
    restored = trainer.evaluate(trainer.data.val)
    assert restored["accuracy"] == pytest.approx(max(s["val_acc"] for s in stats))
    assert len(stats) < 30 or best_epoch >= 28


def test_val_is_carved_from_train_when_missing():
    data = toy_faces(splits=(1.0, 0.0, 0.0))
    parts = split_train_val(data, seed=0)
    assert len(parts.val) > 0 and len(parts.train) + len(parts.val) == len(data)
    assert "stratified" in parts.val_source
    assert set(parts.val.labels.tolist()) == set(range(7))


def test_run_training_writes_run_dir_and_model(tmp_path, toy_spec):
    config = TrainConfig(**{**FAST, "epochs": 2})
    run_dir, report = workflow.run_training(config, workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "stats.jsonl", "curves.png", "confusion.png", "model.pt", "test_metrics.json", "checkpoints"} <= names
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} == {"last.pt", "best.pt"}
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["train"]["model"] == "basic-cnn"
    assert saved["run"]["numeric_path"]["precision"] == "fp32"
    assert "cpu_model" in saved["machine"] and saved["versions"]["torch"]
    assert set(report["per_class"]) == set(toy_faces().class_names)
    model, artifact = load_classifier(run_dir / "model.pt")
    assert artifact["model_name"] == "basic-cnn"


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        read_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        read_checkpoint(bad)
    torch.save({"kind": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="found kind='something-else'"):
        read_checkpoint(tmp_path / "other.pt")


def test_truncated_and_mismatched_model_files(tmp_path):
    trainer = _trainer(tmp_path, epochs=1)
    from classifiers.checkpoint import save_model

    save_model(tmp_path / "m.pt", trainer.artifact())
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt is truncated"):
        read_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="class order"):
        load_classifier(tmp_path / "m.pt", expected_class_names=["a"] * 7)
    artifact = trainer.artifact()
    artifact["model_name"] = "deep-cnn"
    save_model(tmp_path / "wrong.pt", artifact)
    with pytest.raises(CheckpointError, match="do not fit architecture 'deep-cnn'"):
        load_classifier(tmp_path / "wrong.pt")


def test_transfer_design_without_weights_trains_from_scratch(tmp_path, caplog):
    config = TrainConfig(model="resnet50-transfer", model_kwargs={"input_size": 32}, batch_size=8,
                         precision="fp32", augment="none", epochs=1)
    with caplog.at_level("WARNING"):
        trainer = Trainer(config, split_train_val(toy_faces(n_per_class=3), 0), tmp_path / "r", progress=False)
    assert "trained from scratch" in caplog.text
    assert trainer.describe()["pretrained"].startswith("no ImageNet weights")
    first_conv = next(p for n, p in trainer.model.named_parameters() if n.startswith("backbone."))
    before = first_conv.detach().clone()
    trainer.train_epoch()
    assert not torch.equal(before, first_conv.detach())


@pytest.mark.parametrize("name", ["deep-cnn", "cnn-e", "vgg-e"])
def test_batchnorm_folding_keeps_outputs(name):
    from classifiers.inference import fold_batchnorm
    from classifiers.registry import create_model

    torch.manual_seed(0)
    model = create_model(name).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x = torch.rand(3, 1, 48, 48) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-4, rtol=1e-4)


def test_synthetic_faces_are_limited_per_emotion_and_join_train_only():
    from ferganaug.data.errors import DataError

    data = toy_faces()
    train = data.split("train")
    real = train.class_counts()
    synthetic = toy_faces(n_per_class=20, seed=5).subset(torch.arange(140))
    options = workflow.DataOptions(augment_with="synthetic/", augment_ratio=0.5, augment_cap=6)
    merged, added = workflow.add_synthetic(train, synthetic, options, seed=0)
    expected = {name: min(6, int(0.5 * real[c]), synthetic.class_counts()[c])
                for c, name in enumerate(train.class_names)}
    assert added == {k: v for k, v in expected.items() if v}
    assert len(merged) == len(train) + sum(added.values())
    assert (merged.splits == 0).all()
    no_disgust = train.subset(train.labels != 1)
    with pytest.raises(DataError, match="no 'disgust' faces to balance against"):
        workflow.add_synthetic(no_disgust, synthetic, options, seed=0)


@pytest.mark.parametrize("main_module", ["classifiers.cli", "ferganaug.cli"])
def test_both_trainers_refuse_to_resume_a_folder_without_config_json(tmp_path, main_module):
    import importlib

    from click.testing import CliRunner

    (tmp_path / "stray").mkdir()
    main = importlib.import_module(main_module).main
    result = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "stray")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    tool = "fer-classify train" if main_module == "classifiers.cli" else "fergan train"
    assert f"{tmp_path / 'stray'} is not a {tool} run folder (no config.json)" in result.output


def test_resume_without_its_checkpoint_is_refused_rather_than_redone(tmp_path, toy_spec):
    config = TrainConfig(**{**FAST, "epochs": 2})
    run_dir, _ = workflow.run_training(config, workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    (run_dir / "checkpoints" / "last.pt").unlink()
    before = (run_dir / "stats.jsonl").read_text()
    with pytest.raises(CheckpointError, match="last.pt is missing, but stats.jsonl records epochs up to 2"):
        workflow.resume_training(run_dir, progress=False)
    assert (run_dir / "stats.jsonl").read_text() == before


def test_resume_before_the_first_checkpoint_starts_from_the_beginning(tmp_path, toy_spec):
    config = TrainConfig(**{**FAST, "epochs": 2})
    run_dir, _ = workflow.run_training(config, workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    for name in ("stats.jsonl", "checkpoints/last.pt", "checkpoints/best.pt", "model.pt"):
        (run_dir / name).unlink()
    workflow.resume_training(run_dir, progress=False)
    assert [json.loads(r)["epoch"] for r in (run_dir / "stats.jsonl").read_text().splitlines()] == [1, 2]


def test_a_failed_start_leaves_no_run_folder(tmp_path, toy_spec, monkeypatch):

    def fail(*args, **kwargs):
        raise ValueError("the model cannot be built")

    monkeypatch.setattr(workflow, "Trainer", fail)
    with pytest.raises(ValueError, match="cannot be built"):
        workflow.run_training(TrainConfig(**FAST), workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_resumed_config_json_with_an_unknown_key_is_refused(tmp_path, toy_spec):
    config = TrainConfig(**{**FAST, "epochs": 1})
    run_dir, _ = workflow.run_training(config, workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    saved = json.loads((run_dir / "config.json").read_text())
    saved["train"]["learning_rate"] = 0.1
    (run_dir / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="unknown key 'learning_rate'; valid keys: model, model_kwargs"):
        workflow.resume_training(run_dir, progress=False)


def test_too_few_faces_for_validation_warn_and_write_strict_null_metrics(tmp_path, monkeypatch, caplog):
    tiny = toy_faces(n_per_class=1, splits=(1.0, 0.0, 0.0))  # one face a class: nothing to carve
    monkeypatch.setattr(workflow, "load_dataset", lambda spec, **kw: tiny)
    config = TrainConfig(**{**FAST, "epochs": 2, "batch_size": 4})
    with caplog.at_level("WARNING"):
        run_dir, _ = workflow.run_training(config, workflow.DataOptions(spec="toy"), tmp_path / "runs", progress=False)
    assert "too small to carve a validation split" in caplog.text
    rows = [json.loads(r, parse_constant=lambda c: pytest.fail(f"bare {c} in stats.jsonl"))
            for r in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["val_loss"] is None and rows[-1]["best_epoch"] == 2


# -- logit adjustment, synthetic loss weights, the synthetic share ---------------------------------

def test_logit_adjusted_loss_by_hand():
    logits = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1])
    shift = logit_adjustment([3, 1], tau=1.0)  # log prior = [log 0.75, log 0.25]
    # Row 0 trains on [1 + log .75, log .25]: -log softmax_0 = log(1 + e^-1 / 3) = 0.1156710
    # Row 1 trains on [log .75, log .25]: softmax = the prior, so -log 0.25 = 1.3862944
    # Mean: (0.1156710 + 1.3862944) / 2 = 0.7509827
    assert training_loss(logits, labels, logit_shift=shift).item() == pytest.approx(0.7509827, abs=1e-6)
    # Plain cross-entropy: (log(1 + e^-1) + log 2) / 2 = (0.3132617 + 0.6931472) / 2 = 0.5032044
    assert training_loss(logits, labels).item() == pytest.approx(0.5032044, abs=1e-6)
    off = training_loss(logits, labels, logit_shift=logit_adjustment([3, 1], tau=0.0))
    assert torch.equal(off, torch.nn.functional.cross_entropy(logits, labels))  # tau 0: plain cross-entropy, exactly


def _logits_and_rows(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(6, 3, generator=g)
    labels = torch.tensor([0, 1, 2, 1, 0, 2])
    synthetic = torch.tensor([False, True, False, True, True, False])
    return logits, labels, synthetic


def test_synthetic_rows_weighing_zero_add_nothing():
    logits, labels, synthetic = _logits_and_rows()
    real = ~synthetic
    full = logits.clone().requires_grad_(True)
    loss = training_loss(full, labels, row_weight=torch.where(synthetic, 0.0, 1.0))
    loss.backward()
    # The real-only computation, over the same batch size (a plain mean over the batch).
    part = logits[real].clone().requires_grad_(True)
    by_hand = F.cross_entropy(part, labels[real], reduction="sum") / len(labels)
    by_hand.backward()
    assert loss.item() == pytest.approx(by_hand.item(), abs=1e-7)
    assert torch.equal(full.grad[synthetic], torch.zeros(3, 3))
    assert torch.allclose(full.grad[real], part.grad, atol=1e-7)


@pytest.mark.parametrize("class_weight, smoothing", [(None, 0.0), (torch.tensor([0.5, 2.0, 1.0]), 0.1)])
def test_the_synthetic_weight_scales_exactly_the_synthetic_terms(class_weight, smoothing):
    logits, labels, synthetic = _logits_and_rows(1)

    def loss(w: float) -> float:
        rows = torch.where(synthetic, w, 1.0)
        return training_loss(logits, labels, class_weight, smoothing, row_weight=rows).item()

    plain = F.cross_entropy(logits, labels, weight=class_weight, label_smoothing=smoothing).item()
    assert loss(1.0) == pytest.approx(plain, abs=1e-6)  # weight 1: the usual (class-weighted) cross-entropy
    terms = F.cross_entropy(logits, labels, weight=class_weight, label_smoothing=smoothing, reduction="none")
    norm = len(labels) if class_weight is None else class_weight[labels].sum().item()
    synthetic_part = terms[synthetic].sum().item() / norm
    for w in (0.0, 0.5, 2.5):
        assert loss(w) == pytest.approx(loss(0.0) + w * synthetic_part, abs=1e-6)


def _synthetic_trainer(tmp_path, weight: float, **overrides):
    data = toy_faces()
    parts = split_train_val(data, 0)
    synthetic = toy_faces(n_per_class=20, seed=5).subset(torch.arange(140))
    options = workflow.DataOptions(augment_with="synthetic/", augment_cap=4, augment_weight=weight)
    train, _ = workflow.add_synthetic(parts.train, synthetic, options, seed=0)
    config = TrainConfig(**{**FAST, "epochs": 1, **overrides})
    return Trainer(config, TrainData(train, parts.val, parts.val_source, synthetic_weight=weight), tmp_path / "run",
                   progress=False)


def test_the_trainer_weighs_the_rows_add_synthetic_marks(tmp_path):
    trainer = _synthetic_trainer(tmp_path, 0.0)
    synthetic = trainer.data.synthetic
    assert int(synthetic.sum()) == 28 and not synthetic[: len(toy_faces().split("train"))].any()
    assert torch.equal(trainer.row_weight, torch.where(synthetic, 0.0, 1.0))
    # A batch through the trainer's loss: the synthetic rows get no gradient.
    index = torch.arange(len(synthetic))
    logits = torch.randn(len(index), 7).requires_grad_(True)
    loss = trainer.batch_loss(logits, index)
    loss.backward()
    labels = trainer.data.train.labels
    by_hand = F.cross_entropy(logits[~synthetic], labels[~synthetic], reduction="sum") / len(index)
    assert loss.item() == pytest.approx(by_hand.item(), abs=1e-6)
    assert not logits.grad[synthetic].any()
    facts = trainer.describe()
    assert facts["synthetic_rows"] == 28 and facts["synthetic_loss_weight"] == 0.0
    assert _synthetic_trainer(tmp_path, 1.0).row_weight is None  # weight 1: the plain loss path


def test_the_trainer_holds_the_synthetic_share_and_adjusts_logits(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        trainer = _synthetic_trainer(tmp_path, 1.0, balanced_sampler=True, synthetic_share=0.25,
                                     logit_adjust_tau=1.0)
    assert "favoured twice" in caplog.text  # logit adjustment on top of the balanced sampler
    labels, synthetic = trainer.data.train.labels, trainer.data.synthetic
    w = trainer.sampler.weights
    for c in range(7):
        assert w[(labels == c) & synthetic].sum().item() == pytest.approx(0.25)
        assert w[labels == c].sum().item() == pytest.approx(1.0)
    # The prior counts every training row, synthetic ones too: they are what the loss sees.
    assert synthetic.any() and list(trainer.data.train.class_counts()) == torch.bincount(labels, minlength=7).tolist()
    expected = logit_adjustment(trainer.data.train.class_counts(), 1.0)
    assert torch.equal(trainer.logit_shift, expected) and trainer.describe()["logit_adjustment"] == expected.tolist()
    stats = trainer.train_epoch()
    assert math.isfinite(stats["train_loss"])


def test_the_real_finish_draws_only_real_faces_in_its_epochs(tmp_path):
    trainer = _synthetic_trainer(tmp_path, 1.0, epochs=3, balanced_sampler=True, synthetic_share=0.5,
                                 real_finish_epochs=1)
    synthetic = trainer.data.synthetic
    drawn = {}
    for epoch in range(3):
        trainer.epoch = epoch
        sampler = trainer.epoch_sampler()
        assert len(sampler) == len(trainer.sampler)  # the schedules count the same batches every epoch
        drawn[epoch] = torch.cat(list(sampler))
    assert synthetic[drawn[0]].any() and synthetic[drawn[1]].any()
    assert not synthetic[drawn[2]].any()  # the last epoch: real faces only
    labels = trainer.data.train.labels
    assert set(labels[drawn[2]].tolist()) == set(range(7))  # every emotion still drawn, from its real faces
    with pytest.raises(DataError, match="real_finish_epochs .* the training data has no synthetic faces"):
        parts = split_train_val(toy_faces(), 0)
        Trainer(TrainConfig(**{**FAST, "epochs": 2, "balanced_sampler": True, "real_finish_epochs": 1}),
                parts, tmp_path / "plain", progress=False)


@pytest.mark.parametrize("finish, epochs_run, best_epoch", [(0, 2, 0), (1, 3, 2)])
def test_the_model_that_leaves_training_has_finished_on_real_faces(tmp_path, finish, epochs_run, best_epoch):
    trainer = _synthetic_trainer(tmp_path / str(finish), 1.0, epochs=3, balanced_sampler=True, early_stopping=1,
                                 real_finish_epochs=finish)
    falling = iter([0.9, 0.5, 0.4])  # validation accuracy only falls: epoch 0 is the best of all
    trainer.evaluate = lambda ds: {"loss": 1.0, "accuracy": next(falling), "macro_f1": 0.1}
    val = trainer.fit()
    assert trainer.epoch == epochs_run  # without a finish, early stopping ends the run after epoch 1
    assert trainer.best_epoch == best_epoch and val["accuracy"] == [0.9, 0.5, 0.4][best_epoch]


@pytest.mark.parametrize("overrides, message", [
    (dict(epochs=3, balanced_sampler=True, real_finish_epochs=3), r"real_finish_epochs must be in \[0, epochs\)"),
    (dict(epochs=3, balanced_sampler=True, real_finish_epochs=-1), r"real_finish_epochs must be in \[0, epochs\)"),
    (dict(epochs=3, real_finish_epochs=1), "real_finish_epochs needs balanced_sampler"),
])
def test_bad_real_finish_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{**FAST, **overrides})


@pytest.mark.parametrize("args, message", [
    (["--balanced-sampler", "--set", "real_finish_epochs=1"], "--set real_finish_epochs needs --augment-with DIR"),
    (["--augment-weight", "0.5"], "--augment-weight needs --augment-with DIR"),
    (["--augment-weight", "-1"], "-1.0 is not in the range x>=0"),
    (["--set", "logit_adjust_tau=-1"], "logit_adjust_tau must be a finite number >= 0, got -1.0"),
    (["--set", "logit_adjust_tau=nan"], "logit_adjust_tau must be a finite number >= 0, got nan"),
    (["--balanced-sampler", "--set", "synthetic_share=1.5"], r"synthetic_share must be in [0, 1] (or none), got 1.5"),
    (["--set", "synthetic_share=0.5"], "synthetic_share needs balanced_sampler"),
    (["--balanced-sampler", "--set", "synthetic_share=0.5"], "--set synthetic_share needs --augment-with DIR"),
])
def test_bad_loss_and_sampler_options_are_named(tmp_path, args, message):
    from click.testing import CliRunner

    from classifiers.cli import main

    result = CliRunner().invoke(main, ["train", "--model", "basic-cnn", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert message in " ".join(result.output.split()), result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("values, message", [
    (dict(augment_with="syn/", augment_weight=-0.5), "augment_weight must be a finite number >= 0, got -0.5"),
    (dict(augment_with="syn/", augment_weight=float("inf")), "augment_weight must be a finite number >= 0"),
    (dict(augment_weight=2.0), "no synthetic folder"),
])
def test_data_options_refuse_bad_synthetic_weights(values, message):
    with pytest.raises(ValueError, match=message):
        workflow.DataOptions(**values)
