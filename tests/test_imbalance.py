import pytest
import torch

from ferganaug.data.imbalance import BatchSampler, class_weights, parse_class_weights
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
