import pytest
import torch

from ferganaug.data.augment import PRESETS, AugmentConfig, augment_batch, preset, to_model_input
from ferganaug.utils.seeding import make_generator


def _batch(n=8):
    return torch.rand(n, 1, 48, 48, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_keep_shape_and_range(name):
    out = augment_batch(_batch(), preset(name), make_generator(0))
    assert out.shape == (8, 1, 48, 48)
    assert out.min() >= 0 and out.max() <= 1


def test_same_generator_state_replays_exactly():
    x = _batch()
    g = make_generator(5)
    state = g.get_state()
    first = augment_batch(x, preset("strong"), g)
    g.set_state(state)
    again = augment_batch(x, preset("strong"), g)
    other = augment_batch(x, preset("strong"), make_generator(6))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_global_rng_is_not_used():
    x = _batch()
    torch.manual_seed(0)
    a = augment_batch(x, preset("strong"), make_generator(1))
    torch.manual_seed(123)
    b = augment_batch(x, preset("strong"), make_generator(1))
    assert torch.equal(a, b)


def test_flip_only_mirrors_some_images_exactly():
    x = _batch(32)
    out = augment_batch(x, AugmentConfig(flip=True), make_generator(0))
    mirrored = [torch.allclose(o, i.flip(-1), atol=1e-5) for o, i in zip(out, x)]
    unchanged = [torch.allclose(o, i, atol=1e-5) for o, i in zip(out, x)]
    assert all(m or u for m, u in zip(mirrored, unchanged))
    assert 4 < sum(mirrored) < 28


def test_erasing_paints_grey_rectangles():
    x = torch.zeros(16, 1, 48, 48)
    out = augment_batch(x, AugmentConfig(erase_p=1.0), make_generator(0))
    erased = (out == 0.5).flatten(1).sum(1)
    assert (erased > 0).all()
    assert (erased < 48 * 48 * 0.5).all()


def test_none_preset_is_identity_and_unknown_preset_is_named():
    x = _batch()
    assert augment_batch(x, preset("none"), make_generator(0)) is x
    with pytest.raises(ValueError, match="unknown augmentation preset 'wild'"):
        preset("wild")


def test_to_model_input_range():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2)
    assert to_model_input(x).flatten().tolist() == [-1.0, 1.0]
