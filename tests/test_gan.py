"""The conditional expression GAN: networks, losses, the frozen seam, training steps, resume."""

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ferganaug.emotions import EMOTIONS
from ferganaug.gan.expression import ClassOrderError, FrozenExpressionClassifier, typical_real_confidence
from ferganaug.gan.losses import (
    confident_cross_entropy,
    feature_matching_loss,
    gaussian_blur,
    group_means,
    lsgan_discriminator_loss,
    lsgan_fake_loss,
    mask_regularisation,
    total_variation,
)
from ferganaug.gan.networks import DECODERS, Generator, PatchDiscriminator, icnr_
from ferganaug.gan.artifact import load_generator
from ferganaug.gan.config import REAL_CONFIDENCE, GANConfig
from ferganaug.gan.pools import FacePools
from ferganaug.gan.train import GANTrainer
from ferganaug.engine import CheckpointError, DivergenceError, restore_training_state
from ferganaug.engine.checkpoint import load_checkpoint
from toy_data import toy_faces


class TinyClassifier(nn.Module):
    class_names = EMOTIONS

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Flatten(), nn.Linear(4 * 24 * 24, 7))

    def forward(self, x):
        return self.net(x)


FAST = dict(batch_size=8, g_width=8, g_res_blocks=1, d_width=8, precision="fp32", log_every=2,
            sample_every=1000, checkpoint_every=1000)


def _trainer(tmp_path, name="run", **overrides):
    torch.manual_seed(0)
    clf = FrozenExpressionClassifier(TinyClassifier())
    return GANTrainer(GANConfig(**{**FAST, **overrides}), toy_faces().split("train"), clf, tmp_path / name,
                      progress=False)


def _set_heads(g: Generator, mask_bias: float, zero_colour: bool = False) -> None:
    """Fill the mask head's bias (and zero the colour head) whichever decoder ``g`` has."""
    with torch.no_grad():
        if g.config["decoder"] == "shuffle":
            g.to_colour_mask.bias[1].fill_(mask_bias)
            if zero_colour:
                g.to_colour_mask.weight[0].zero_()
                g.to_colour_mask.bias[0].zero_()
        else:
            g.to_mask.bias.fill_(mask_bias)
            if zero_colour:
                g.to_colour.weight.zero_()
                g.to_colour.bias.zero_()


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("condition", ["label", "reference"])
def test_generator_shapes_and_blend(condition, decoder):
    g = Generator(width=8, n_res=1, condition=condition, decoder=decoder)
    x = torch.rand(3, 1, 48, 48) * 2 - 1
    cond = torch.tensor([0, 1, 2]) if condition == "label" else torch.rand(3, 1, 48, 48)
    out, mask = g(x, cond)
    assert out.shape == mask.shape == (3, 1, 48, 48)
    assert mask.min() >= 0 and mask.max() <= 1
    assert out.min() >= -1 and out.max() <= 1
    assert mask.mean() < 0.2  # starts nearly closed (bias -3; an open start would be 0.5): an edit starts as a copy
    # the output is a blend: where the mask is ~0 the source pixel survives
    _set_heads(g, mask_bias=-30.0)
    out, _ = g(x, cond)
    assert torch.allclose(out, x, atol=1e-6)


def test_unknown_decoder_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown decoder 'bicubic'; expected one of shuffle, upsample"):
        Generator(decoder="bicubic")


def test_generators_saved_before_the_decoder_option_load_as_upsample():
    torch.manual_seed(0)
    old = Generator(width=8, n_res=1, decoder="upsample").eval()
    config = {k: v for k, v in old.config.items() if k != "decoder"}  # what such an artifact holds
    loaded = load_generator({"generator_config": config, "state_dict": old.state_dict()})
    assert loaded.config["decoder"] == "upsample"
    x = torch.rand(2, 1, 48, 48) * 2 - 1
    assert torch.equal(loaded(x, torch.tensor([1, 4]))[0], old(x, torch.tensor([1, 4]))[0])


def test_generators_with_a_warp_field_are_refused_and_warp_free_ones_load():
    old = Generator(width=8, n_res=1).eval()
    loaded = load_generator({"generator_config": {**old.config, "warp": False, "max_shift": 3.0},
                             "state_dict": old.state_dict()})
    assert loaded.config == old.config
    with pytest.raises(CheckpointError, match="warp"):
        load_generator({"generator_config": {**old.config, "warp": True}, "state_dict": old.state_dict()})


def test_conditioning_changes_the_output():
    torch.manual_seed(0)
    g = Generator(width=8, n_res=1)
    x = torch.rand(2, 1, 48, 48) * 2 - 1
    a, _ = g(x, torch.tensor([1, 1]))
    b, _ = g(x, torch.tensor([3, 3]))
    assert (a - b).abs().mean() > 1e-4


def test_discriminator_judges_the_given_emotion_map():
    d = PatchDiscriminator(width=8).eval()  # eval: no spectral-norm power iteration between calls
    x = torch.rand(2, 1, 48, 48)
    scores, feats = d(x, torch.tensor([0, 5]))
    assert scores.shape == (2, 6, 6) and len(feats) == 4
    all_maps = d.head(feats[-1])
    assert torch.allclose(scores[1], all_maps[1, 5])


def test_frozen_classifier_gets_no_gradient_but_passes_it_on():
    clf = FrozenExpressionClassifier(TinyClassifier())
    clf.train()
    assert not clf.classifier.training
    x = torch.rand(2, 1, 48, 48, requires_grad=True)
    clf(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in clf.parameters())


def test_frozen_classifier_checks_class_order():
    model = TinyClassifier()
    with pytest.raises(ClassOrderError, match="not the toolkit's emotions"):
        FrozenExpressionClassifier(model, class_names=list(reversed(EMOTIONS)))


def test_group_means_and_feature_matching_by_hand():
    x = torch.tensor([[1.0], [3.0], [10.0]])
    means, present = group_means(x, torch.tensor([0, 0, 2]), 3)
    assert means.flatten().tolist() == [2.0, 0.0, 10.0]
    assert present.tolist() == [True, False, True]
    fake = [torch.tensor([[1.0], [3.0]])]
    real = [torch.tensor([[4.0], [8.0]])]
    labels = torch.tensor([0, 1])
    # per emotion: |1-4| and |3-8| -> mean 4
    assert feature_matching_loss(fake, real, labels, labels, 2).item() == pytest.approx(4.0)


def test_lsgan_and_mask_terms_by_hand():
    assert lsgan_discriminator_loss(torch.ones(4), torch.zeros(4)).item() == 0.0
    assert lsgan_discriminator_loss(torch.zeros(4), torch.ones(4)).item() == pytest.approx(1.0)
    assert lsgan_fake_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(0.5 * (1 + 9) / 2)
    inside = torch.full((2, 1, 8, 8), 0.2)
    assert mask_regularisation(inside, 0.1, 0.5, l1_weight=0.0).item() == pytest.approx(0.0)
    assert mask_regularisation(inside, 0.1, 0.5, l1_weight=0.5).item() == pytest.approx(0.1)
    full = torch.ones(2, 1, 8, 8)
    assert mask_regularisation(full, 0.1, 0.5, l1_weight=0.0).item() == pytest.approx(0.5)
    empty = torch.zeros(2, 1, 8, 8)
    assert mask_regularisation(empty, 0.1, 0.5).item() == pytest.approx(0.1)
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., ::2, :] = 1.0  # mean 0.5 inside the band; TV: rows alternate -> vertical TV 1, horizontal 0
    assert mask_regularisation(stripes, 0.1, 0.9, l1_weight=0.0, tv_weight=1.0).item() == pytest.approx(1.0)


def test_a_few_adversarial_steps_stay_finite_and_leave_classifier_untouched(tmp_path):
    trainer = _trainer(tmp_path, steps=4, w_r1=1.0)
    before = {k: v.clone() for k, v in trainer.classifier.state_dict().items()}
    trainer.fit()
    stats = (tmp_path / "run" / "stats.jsonl").read_text().splitlines()
    assert len(stats) == 2
    import json

    for row in map(json.loads, stats):
        assert all(v == v and abs(v) != float("inf") for v in row.values())
    for k, v in trainer.classifier.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert (tmp_path / "run" / "generator.pt").is_file()


@pytest.mark.parametrize("confidence", [0.9, REAL_CONFIDENCE])
def test_resume_equals_straight_run(tmp_path, confidence):
    straight = _trainer(tmp_path, "straight", steps=4, expr_confidence=confidence)
    straight.fit()
    first = _trainer(tmp_path, "resumed", steps=2, expr_confidence=confidence)
    first.fit()
    second = _trainer(tmp_path, "resumed", steps=4, expr_confidence=confidence)
    assert restore_training_state(second.folder, second, "a GAN checkpoint")
    assert second.step == 2
    second.fit()
    for a, b in ((straight.generator, second.generator), (straight.ema, second.ema),
                 (straight.discriminator, second.discriminator)):
        for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(va, vb), k


def test_divergence_guard_keeps_last_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, steps=2)
    trainer.fit()
    before = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt", ("ferganaug.gan-train-state",))
    trainer.config = GANConfig(**{**FAST, "steps": 4})
    with torch.no_grad():
        next(trainer.discriminator.parameters()).fill_(float("nan"))
    with pytest.raises(DivergenceError, match="last good checkpoint"):
        trainer.fit()
    after = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt", ("ferganaug.gan-train-state",))
    assert after["step"] == before["step"] == 2


def test_no_source_faces_is_a_clear_error(tmp_path):
    data = toy_faces().split("train")
    keep = data.labels != EMOTIONS.index("neutral")
    clf = FrozenExpressionClassifier(TinyClassifier())
    with pytest.raises(ValueError, match="no neutral faces to use as sources"):
        GANTrainer(GANConfig(**FAST), data.subset(keep), clf, tmp_path / "r", progress=False)


def test_ema_decay_warms_up_then_holds():
    from ferganaug.gan.train import ema_decay_at

    assert ema_decay_at(0, 0.999) == pytest.approx(0.1)
    assert ema_decay_at(90, 0.999) == pytest.approx(0.91)
    assert ema_decay_at(100_000, 0.999) == 0.999


@pytest.mark.parametrize("decoder", DECODERS)
def test_residual_colour_keeps_the_source_where_it_paints_no_change(decoder):
    g = Generator(width=8, n_res=1, colour="residual", decoder=decoder)
    _set_heads(g, mask_bias=30.0, zero_colour=True)  # mask fully open, no change painted
    x = torch.rand(2, 1, 48, 48) * 2 - 1
    out, mask = g(x, torch.tensor([1, 2]))
    assert mask.min() > 0.99
    assert torch.allclose(out, x, atol=1e-5)
    with pytest.raises(ValueError, match="unknown colour mode 'neon'"):
        Generator(colour="neon")


def test_confident_cross_entropy_stops_at_the_confidence_and_is_plain_ce_at_zero():
    # target probability 0.9 (confident enough) and 0.5 (not): logits giving exactly those
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.5, 0.5]]))
    target = torch.tensor([0, 0])
    plain = (-torch.log(torch.tensor(0.9)) - torch.log(torch.tensor(0.5))) / 2
    assert torch.isclose(confident_cross_entropy(logits, target, 0.0), plain)
    # at confidence 0.8: the first face costs nothing, the second log(0.8) - log(0.5)
    expected = (torch.log(torch.tensor(0.8)) - torch.log(torch.tensor(0.5))) / 2
    assert torch.isclose(confident_cross_entropy(logits, target, 0.8), expected)


def test_new_loss_options_train_finite_steps(tmp_path):
    trainer = _trainer(tmp_path, steps=2, w_change=5.0, expr_confidence=0.9, d_augment=True)
    trainer.fit()
    last = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2 and last["g_change"] > 0
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())


def test_total_variation_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # down: |2-0|, |4-1| -> mean 2.5; across: |1-0|, |4-2| -> mean 1.5
    assert torch.isclose(total_variation(x), torch.tensor(4.0))


def test_gaussian_blur_keeps_flat_images_and_kills_pixel_stripes():
    flat = torch.full((2, 1, 12, 12), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat, atol=1e-6)
    stripes = torch.zeros(1, 1, 12, 12)
    stripes[..., ::2] = 1.0  # one-pixel vertical stripes, contrast 1
    blurred = gaussian_blur(stripes, 1.0)
    inner = blurred[..., 3:-3, 3:-3]
    assert inner.max() - inner.min() < 0.05  # the stripes are gone
    assert torch.isclose(inner.mean(), torch.tensor(0.5), atol=0.02)  # their mean grey is kept
    # a broad blob (what an expression is at this scale) keeps most of its contrast
    blob = torch.zeros(1, 1, 24, 24)
    blob[..., 8:16, 8:16] = 1.0
    assert gaussian_blur(blob, 1.0)[0, 0, 12, 12] > 0.95


def test_blurred_classifier_view_and_smooth_change_train_finite_steps(tmp_path):
    trainer = _trainer(tmp_path, steps=2, expr_blur=1.0, w_smooth=2.0)
    trainer.fit()
    last = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 2 and last["g_smooth"] > 0
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())


def test_confident_cross_entropy_takes_a_confidence_per_face():
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.5, 0.5]]))
    target = torch.tensor([0, 0, 1])
    confidence = torch.tensor([0.8, 0.6, 0.0])
    # face 1: 0.9 >= 0.8, free; face 2: log(0.6) - log(0.5); face 3: confidence 0 is plain CE, -log(0.5)
    expected = (torch.log(torch.tensor(0.6)) - 2 * torch.log(torch.tensor(0.5))) / 3
    assert torch.isclose(confident_cross_entropy(logits, target, confidence), expected)
    same = torch.full((3,), 0.8)
    assert torch.isclose(confident_cross_entropy(logits, target, same), confident_cross_entropy(logits, target, 0.8))


class FixedProbabilities(nn.Module):
    """Logits whose softmax is a given row per face (faces carry their row index in pixel 0)."""

    def __init__(self, probs):
        super().__init__()
        self.logits = torch.log(probs)

    def forward(self, x):
        return self.logits[x[:, 0, 0, 0].long()]


def test_typical_real_confidence_is_the_median_own_label_probability():
    probs = torch.tensor([[0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.5, 0.5]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    faces = torch.arange(5, dtype=torch.float32).view(5, 1, 1, 1)
    got = typical_real_confidence(FixedProbabilities(probs), faces, labels, num_emotions=3, batch_size=2)
    # emotion 0: own probabilities 0.7, 0.2, 0.4 -> median 0.4; emotion 1: 0.1, 0.5 -> lower median 0.1;
    # emotion 2 has no faces -> 0
    assert torch.allclose(got, torch.tensor([0.4, 0.1, 0.0]))
    # the classifier's view of each face is applied first: face i is seen as row 4 - i, so
    # emotion 0 gets 0.5, 0.9, 0.4 -> 0.5 and emotion 1 gets 0.8, 0.3 -> 0.3
    flipped = typical_real_confidence(FixedProbabilities(probs), faces, labels, 3, view=lambda x: 4 - x)
    assert torch.allclose(flipped, torch.tensor([0.5, 0.3, 0.0]))


def test_real_confidence_is_measured_per_emotion_and_used_in_training(tmp_path):
    trainer = _trainer(tmp_path, steps=2, expr_confidence=REAL_CONFIDENCE)
    data = toy_faces().split("train")
    expected = typical_real_confidence(trainer.classifier, data.images, data.labels, len(EMOTIONS),
                                       view=lambda x: x.float() / 127.5 - 1)
    assert torch.allclose(trainer.expr_confidence, expected)
    by_emotion = trainer.expression_confidence_by_emotion()
    assert set(by_emotion) == set(EMOTIONS) - {"neutral"}
    assert by_emotion["happy"] == pytest.approx(float(expected[EMOTIONS.index("happy")]))
    trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())


def test_real_confidence_prefers_held_out_faces_when_every_target_has_some(tmp_path):
    faces = toy_faces(n_per_class=30)
    held_out = faces.split("val")
    assert set(held_out.labels.tolist()) == set(range(len(EMOTIONS)))
    trainer = GANTrainer(GANConfig(**{**FAST, "expr_confidence": REAL_CONFIDENCE}), faces.split("train"),
                         FrozenExpressionClassifier(TinyClassifier()), tmp_path / "run", progress=False,
                         held_out=held_out)
    expected = typical_real_confidence(trainer.classifier, held_out.images, held_out.labels, len(EMOTIONS),
                                       view=lambda x: x.float() / 127.5 - 1)
    assert torch.allclose(trainer.expr_confidence, expected)
    # a held-out set lacking a target emotion is not used: the training faces stand in
    no_disgust = held_out.subset(held_out.labels != EMOTIONS.index("disgust"))
    fallback = trainer._expression_confidence(no_disgust)
    train = faces.split("train")
    assert torch.allclose(fallback, typical_real_confidence(trainer.classifier, train.images, train.labels,
                                                            len(EMOTIONS), view=lambda x: x.float() / 127.5 - 1))


@pytest.mark.parametrize("bad", ["often", 1.0, -0.1])
def test_expr_confidence_must_be_a_probability_or_real(bad):
    with pytest.raises(ValueError, match="expr_confidence must be a probability"):
        GANConfig(expr_confidence=bad)


def test_icnr_start_makes_pixel_shuffle_a_nearest_upsampling():
    torch.manual_seed(0)
    conv = icnr_(nn.Conv2d(6, 12, 3, padding=1))
    x = torch.randn(2, 6, 5, 5)
    shuffled = nn.PixelShuffle(2)(conv(x))  # [2, 3, 10, 10]
    low = shuffled[:, :, ::2, ::2]
    assert torch.allclose(shuffled, F.interpolate(low, scale_factor=2, mode="nearest"), atol=1e-6)


@pytest.mark.parametrize("w_cycle, w_id, passes", [(10.0, 5.0, 3), (0.0, 5.0, 2), (10.0, 0.0, 2), (0.0, 0.0, 1)])
def test_cycle_and_identity_passes_run_only_when_their_terms_count(tmp_path, w_cycle, w_id, passes):
    trainer = _trainer(tmp_path, steps=1, w_cycle=w_cycle, w_id=w_id)
    calls = []
    trainer.generator.register_forward_hook(lambda *_: calls.append(1))
    stats = trainer.train_step(trainer._batch())
    assert len(calls) == passes
    assert (stats["g_cycle"] > 0) == (w_cycle > 0) and (stats["g_id"] > 0) == (w_id > 0)


def test_mismatched_faces_are_real_faces_of_every_other_emotion_alike():
    pools = FacePools(toy_faces().split("train"), ("neutral",), torch.device("cpu"))
    disgust = EMOTIONS.index("disgust")
    picks = pools.sample_mismatched(torch.full((6000,), disgust), torch.Generator().manual_seed(0))
    shares = pools.labels[picks].bincount(minlength=len(EMOTIONS)).float() / len(picks)
    assert shares[disgust] == 0
    others = torch.cat([shares[:disgust], shares[disgust + 1:]])
    assert torch.all((others - 1 / 6).abs() < 0.03), shares


def test_mismatch_term_shows_the_discriminator_other_emotions_faces_at_the_target_map(tmp_path):
    trainer = _trainer(tmp_path, steps=1, w_mismatch=1.0)
    batch = trainer._batch()
    seen = []
    trainer.discriminator.register_forward_hook(lambda _m, args, _out: seen.append(args))
    stats = trainer.train_step(batch)
    mismatch_calls = [emotion for faces, emotion in seen if torch.equal(faces, batch["mismatch"])]
    assert len(mismatch_calls) == 1 and torch.equal(mismatch_calls[0], batch["target"])
    assert 0 <= stats["d_acc_mismatch"] <= 1


def test_without_the_mismatch_term_no_extra_faces_are_drawn(tmp_path):
    plain = _trainer(tmp_path, "plain", steps=1)
    assert "mismatch" not in plain._batch()
    assert "d_acc_mismatch" not in plain.train_step(plain._batch())


@pytest.mark.parametrize("sources", [("neutral",), ("angry", "fear", "happy", "sad", "surprise", "neutral")])
def test_sample_grid_shows_each_source_then_its_edits_to_the_targets_only(tmp_path, sources):
    trainer = _trainer(tmp_path, source_emotions=sources)
    grid = trainer.sample_grid()
    row_labels, col_labels = trainer.sample_grid_labels()
    shown = trainer.pools.faces(trainer.fixed_sources)
    assert col_labels == ["source", *trainer.config.target_emotions]
    assert grid.shape == (len(shown), len(col_labels), 48, 48)
    assert torch.equal(grid[:, 0], ((shown[:, 0].float() + 1) * 127.5).round().to(torch.uint8))
    emotions = [EMOTIONS[int(k)] for k in trainer.pools.labels[trainer.fixed_sources]]
    assert all(e in sources for e in emotions)
    assert row_labels == [f"{i + 1}: {e}" for i, e in enumerate(emotions)]


def test_the_sample_sheet_takes_its_sources_from_every_source_emotion_in_turn():
    train = toy_faces().split("train")
    sources = ("happy", "sad", "neutral")
    pools = FacePools(train, sources, torch.device("cpu"))
    picked = pools.first_sources(6)
    assert sorted(EMOTIONS[int(k)] for k in pools.labels[picked]) == sorted(2 * sources)
    assert torch.equal(FacePools(train, ("neutral",), torch.device("cpu")).first_sources(8),
                       (train.labels == EMOTIONS.index("neutral")).nonzero().flatten()[:8])
