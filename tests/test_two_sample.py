"""ferganaug.measure.two_sample: the critic finds an obvious mark, finds nothing between two
halves of the same real faces, and gives the same answer for the same seed; fergan evaluate
reports it per target emotion against real training faces."""

import json

import pytest
import torch

import ferganaug.evaluate.measure as measure
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX
from ferganaug.evaluate import evaluate_generator, evaluate_synthetic, format_generator_report, read_synthetic_folder
from ferganaug.measure.two_sample import two_sample_accuracy, wilson_interval
from test_evaluate import TINY, _identity, _write_synthetic, evaluator  # noqa: F401 - evaluator is a fixture

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def halves():
    """Two disjoint random halves of 600 built-in faces."""
    faces = load_dataset("builtin:train=600,val=0,test=0,seed=3").images
    order = torch.randperm(len(faces), generator=torch.Generator().manual_seed(0))
    return faces[order[:300]], faces[order[300:]]


def test_two_halves_of_the_same_faces_are_indistinguishable(halves):
    result = two_sample_accuracy(*halves, seed=0)
    assert 0.35 <= result.accuracy <= 0.65
    assert result.low <= 0.5 <= result.high
    assert (result.n_per_side, result.n_held_out) == (300, 300)  # half of each side is held out


def test_a_corner_mark_gives_every_marked_face_away(halves):
    real, other = halves
    marked = other.clone()
    # a checkerboard, not a white square: some built-in faces already have a white corner
    marked[:, :, :6, :6] = (torch.arange(6).view(6, 1) + torch.arange(6)).remainder(2).to(torch.uint8) * 255
    assert two_sample_accuracy(real, marked, seed=0).accuracy >= 0.95


def test_same_seed_same_result_and_the_callers_random_state_is_left_alone(halves):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = two_sample_accuracy(*halves, seed=5, max_per_side=100)
    assert torch.equal(torch.get_rng_state(), before)
    assert two_sample_accuracy(*halves, seed=5, max_per_side=100) == first
    assert (first.n_per_side, first.n_held_out) == (100, 100)  # the cap per side


def test_wilson_interval_by_hand():
    # 0 of 10: the upper end is z^2 / (n + z^2); 5 of 10: 0.5 +- z sqrt(0.025 + z^2/400) / (1 + z^2/10)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one trial"):
        wilson_interval(0, 0)


@pytest.mark.parametrize("real, synthetic, message", [
    (torch.zeros(1, 1, 48, 48, dtype=torch.uint8), torch.zeros(5, 1, 48, 48, dtype=torch.uint8), "at least 2 faces"),
    (torch.zeros(5, 1, 48, 48, dtype=torch.uint8), torch.zeros(5, 1, 32, 32, dtype=torch.uint8), "of the same size"),
])
def test_bad_input_is_a_clear_error(real, synthetic, message):
    with pytest.raises(ValueError, match=message):
        two_sample_accuracy(real, synthetic)


def test_evaluate_reports_it_beside_kid_against_real_training_faces(evaluator, monkeypatch):  # noqa: F811
    data = load_dataset(TINY)
    train = data.split("train")
    seen = []

    def spy(real, synthetic, seed):
        seen.append(real)
        return two_sample_accuracy(real, synthetic, seed, max_per_side=20)

    monkeypatch.setattr(measure, "two_sample_accuracy", spy)
    report = evaluate_generator(_identity, ("neutral",), data, evaluator, n_per_emotion=20)  # edits of test faces
    assert len(seen) == len(report["per_emotion"]) == 6
    for real, (emotion, row) in zip(seen, report["per_emotion"].items()):
        assert torch.equal(real, train.images[train.labels == EMOTION_INDEX[emotion]])  # training faces, never test
        assert row["two_sample"]["n_per_side"] == min(20, len(real)) and 0 <= row["two_sample"]["accuracy"] <= 1
    assert report["summary"]["n_emotions_with_two_sample"] == 6
    json.dumps(report, allow_nan=False)
    table = format_generator_report(report)
    assert table.splitlines()[0].index("FID floor") < table.splitlines()[0].index("2-sample (95% CI)")
    assert "mean two-sample accuracy" in table
    skipped = evaluate_generator(_identity, ("neutral",), data, evaluator, n_per_emotion=20, two_sample=False)
    assert all("two_sample" not in row for row in skipped["per_emotion"].values())
    assert "2-sample" not in format_generator_report(skipped)


def test_one_synthetic_face_gets_a_reason_not_a_number(evaluator, tmp_path):  # noqa: F811
    folder = _write_synthetic(tmp_path / "s", [("fear", None, torch.full((1, 48, 48), 128, dtype=torch.uint8))])
    report = evaluate_synthetic(read_synthetic_folder(folder), load_dataset(TINY), evaluator)
    assert report["per_emotion"]["fear"]["two_sample"]["accuracy"] is None
    assert "- two-sample test (fewer than 2 faces in a set): fear" in format_generator_report(report)
