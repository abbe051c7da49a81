import math

import pytest
import torch

from ferganaug.data.imbalance import BatchSampler, class_weights, logit_adjustment, parse_class_weights
from ferganaug.utils.seeding import make_generator


def test_inverse_weights_by_hand():
    w = class_weights([10, 30], "inverse")
    # raw 1/10, 1/30; normalised so that sum(w_c * n_c) = N = 40 -> w = [2, 2/3]
    assert torch.allclose(w, torch.tensor([2.0, 2.0 / 3.0]))


def test_effective_number_weights_by_hand():
    beta = 0.9
    w = class_weights([1, 2], "effective", beta=beta)
    raw = torch.tensor([(1 - beta) / (1 - beta), (1 - beta) / (1 - beta**2)], dtype=torch.float64)
    expected = raw * 3 / (raw * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum()
    assert torch.allclose(w.double(), expected)
    assert w[0] > w[1]


def test_explicit_weights_used_as_given_and_checked():
    printed = (0.1, 0.3, 0.3, 1.0, 0.3, 0.3, 0.1)
    assert class_weights([5] * 7, printed).tolist() == pytest.approx(list(printed))
    with pytest.raises(ValueError, match="expected 7 class weights, got 2"):
        class_weights([5] * 7, (1.0, 2.0))


def test_empty_class_is_reported():
    with pytest.raises(ValueError, match=r"no training examples \(class indices \[1\]\)"):
        class_weights([3, 0, 2], "inverse")


def test_parse_class_weights():
    assert parse_class_weights("none") is None
    assert parse_class_weights("effective") == "effective"
    assert parse_class_weights("1,2.5") == (1.0, 2.5)
    with pytest.raises(ValueError, match="invalid class weights"):
        parse_class_weights("heavy")


def test_shuffled_sampler_covers_every_row_once():
    labels = torch.tensor([0] * 10 + [1] * 3)
    batches = list(BatchSampler(labels, 4, make_generator(0)))
    assert [len(b) for b in batches] == [4, 4, 4, 1]
    assert sorted(torch.cat(batches).tolist()) == list(range(13))


def test_balanced_sampler_balances_classes_and_is_seeded():
    labels = torch.tensor([0] * 900 + [1] * 100)
    drawn = torch.cat(list(BatchSampler(labels, 100, make_generator(0), balanced=True)))
    share = (labels[drawn] == 1).double().mean().item()
    assert 0.44 < share < 0.56
    again = torch.cat(list(BatchSampler(labels, 100, make_generator(0), balanced=True)))
    assert torch.equal(drawn, again)


def test_logit_adjustment_by_hand():
    # prior = n_c / N = [3/4, 1/4]; tau * log(prior)
    assert logit_adjustment([3, 1], 1.0).tolist() == pytest.approx([math.log(0.75), math.log(0.25)])
    assert logit_adjustment([3, 1], 2.0).tolist() == pytest.approx([2 * math.log(0.75), 2 * math.log(0.25)])
    assert logit_adjustment([3, 1], 0.0).tolist() == [0.0, 0.0]
    # A class without examples gets half an example (0.5 / 4): finite and below every present class.
    assert logit_adjustment([3, 0, 1], 1.0).tolist() == pytest.approx(
        [math.log(3 / 4), math.log(0.5 / 4), math.log(1 / 4)])
    for tau in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tau must be a finite number >= 0"):
            logit_adjustment([3, 1], tau)


def _real_and_synthetic():
    """Class 0: 600 real; class 1: 40 real + 160 synthetic; class 2: 20 real + 20 synthetic;
    class 3: 30 synthetic only."""
    labels = torch.tensor([0] * 600 + [1] * 200 + [2] * 40 + [3] * 30)
    synthetic = torch.tensor([False] * 600 + [False] * 40 + [True] * 160 + [False] * 20 + [True] * 20 + [True] * 30)
    return labels, synthetic


def test_synthetic_share_holds_within_each_emotion_and_emotions_stay_uniform():
    labels, synthetic = _real_and_synthetic()
    share = 0.3
    sampler = BatchSampler(labels, 87, make_generator(0), balanced=True, synthetic=synthetic, synthetic_share=share)
    drawn = torch.cat([torch.cat(list(sampler)) for _ in range(20)])  # 20 epochs of 870 draws
    n = len(drawn)
    per_class = torch.bincount(labels[drawn], minlength=4).double() / n
    tolerance = 5 * (0.25 * 0.75 / n) ** 0.5  # five binomial standard deviations
    assert (per_class - 0.25).abs().max().item() < tolerance, per_class
    for c in (1, 2):  # classes with both kinds: the synthetic share of their draws is `share`
        rows = drawn[labels[drawn] == c]
        got = synthetic[rows].double().mean().item()
        assert abs(got - share) < 5 * (share * (1 - share) / len(rows)) ** 0.5, (c, got)
    assert not synthetic[drawn[labels[drawn] == 0]].any()  # no synthetic faces: all real
    assert synthetic[drawn[labels[drawn] == 3]].all()  # only synthetic faces: all synthetic
    # Within a kind every face is equally likely: the weights say so exactly.
    w = sampler.weights
    assert torch.allclose(w[(labels == 1) & synthetic], torch.tensor(share / 160, dtype=torch.float64))
    assert torch.allclose(w[(labels == 1) & ~synthetic], torch.tensor((1 - share) / 40, dtype=torch.float64))


def test_synthetic_share_is_seeded_and_resumes_from_the_generator_state():
    labels, synthetic = _real_and_synthetic()

    def sampler(generator):
        return BatchSampler(labels, 50, generator, balanced=True, synthetic=synthetic, synthetic_share=0.5)

    g = make_generator(3)
    first = torch.cat(list(sampler(g)))
    state = g.get_state()
    second = torch.cat(list(sampler(g)))
    assert torch.equal(first, torch.cat(list(sampler(make_generator(3)))))
    restored = make_generator(99)
    restored.set_state(state)
    assert torch.equal(second, torch.cat(list(sampler(restored))))


def test_no_synthetic_share_keeps_the_plain_balanced_draws():
    labels, synthetic = _real_and_synthetic()
    plain = torch.cat(list(BatchSampler(labels, 64, make_generator(1), balanced=True)))
    with_mask = torch.cat(list(BatchSampler(labels, 64, make_generator(1), balanced=True, synthetic=synthetic)))
    assert torch.equal(plain, with_mask)  # the mask alone changes nothing: every face of an emotion equally likely


@pytest.mark.parametrize("kwargs, message", [
    (dict(balanced=True, synthetic_share=1.5), r"synthetic_share must be in \[0, 1\], got 1.5"),
    (dict(balanced=True, synthetic_share=float("nan")), r"synthetic_share must be in \[0, 1\]"),
    (dict(balanced=False, synthetic_share=0.5), "class-balanced sampler only"),
    (dict(balanced=True, synthetic_share=0.5, synthetic=None), "needs a synthetic mask"),
])
def test_bad_synthetic_share(kwargs, message):
    labels, synthetic = _real_and_synthetic()
    kwargs = {"synthetic": synthetic, **kwargs}
    with pytest.raises(ValueError, match=message):
        BatchSampler(labels, 8, make_generator(0), **kwargs)
