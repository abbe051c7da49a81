"""Moving one class's boundary: the bias search picks the score's best shift, nearest zero among
equals, and the threshold script reproduces a study's cells before shifting them."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from ferganaug.measure.threshold import class_f1, log_softmax, macro_f1, shifted_predictions, tune_bias

# Three class-1 faces the model scores 0.5 below class 0, three class-0 faces 2 below: any bias
# in (0.5, 2) makes every prediction right; at exactly 0.5 the tie goes to class 0.
LOG_PROBS = np.array([[0.0, -0.5]] * 3 + [[0.0, -2.0]] * 3)
TARGETS = np.array([1, 1, 1, 0, 0, 0])


def test_the_smallest_bias_that_reaches_the_best_f1_is_chosen():
    assert class_f1(TARGETS, shifted_predictions(LOG_PROBS, 1, 0.0), 1) == 0.0
    assert tune_bias(LOG_PROBS, TARGETS, 1) == pytest.approx(0.55)
    assert tune_bias(LOG_PROBS, TARGETS, 1, objective="macro_f1") == pytest.approx(0.55)
    assert (shifted_predictions(LOG_PROBS, 1, 0.55) == TARGETS).all()


def test_a_class_predicted_too_often_gets_a_negative_bias():
    # Class 1 wins every face; its own faces by 1, class 0's by 0.5 (a tie at -0.5 goes to class 0).
    log_probs = np.array([[-1.0, 0.0]] * 3 + [[-0.5, 0.0]] * 3)
    assert tune_bias(log_probs, TARGETS, 1) == pytest.approx(-0.5)


def test_a_flat_score_keeps_the_boundary_where_training_left_it():
    right = np.array([[0.0, -9.0], [-9.0, 0.0]])  # confident and right: every bias in the grid keeps both
    assert tune_bias(right, np.array([0, 1]), 1) == 0.0


def test_f1_arithmetic_and_log_softmax():
    targets, predictions = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    assert class_f1(targets, predictions, 1) == pytest.approx(2 * 2 / (3 + 2))
    assert macro_f1(targets, predictions, 4) == pytest.approx((0.5 + 0.8 + 0.0) / 3)  # class 3 absent: left out
    assert np.exp(log_softmax(np.array([[1.0, 2.0, 3.0]]))).sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"class_index": 2}, "class_index 2 is outside the 2 classes"),
    ({"class_index": 1, "objective": "accuracy"}, "objective 'accuracy': expected 'f1' or 'macro_f1'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tune_bias(LOG_PROBS, TARGETS, **kwargs)


def _script():
    path = Path(__file__).resolve().parent.parent / "scripts" / "threshold_baseline.py"
    spec = importlib.util.spec_from_file_location("threshold_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_script_reproduces_the_cells_and_bounds_them(tmp_path, capsys):
    from ferganaug.study import StudyConfig, create_study, load_cells, load_study, run_study, seed_scores

    config = StudyConfig(data="builtin:train=280,val=40,test=140,seed=3", conditions=("oversample",),
                         seeds=(0, 1), model="basic-cnn", epochs=1, precision="fp32")
    study_dir = create_study(config, tmp_path)
    run_study(study_dir, progress=False)
    report = _script().main([str(study_dir), "--emotion", "disgust", "--reference", "oversample"])
    result = json.loads((study_dir / "threshold.json").read_text())
    assert result["min_agreement_with_cells"] == 1.0  # the reloaded models predict what the cells did
    study = load_study(study_dir)
    for cell in load_cells(study_dir, study):
        views = result["conditions"][cell["condition"]][str(cell["seed"])]
        own = seed_scores(np.array(cell["items"]["targets"]), np.array(cell["items"]["predictions"]),
                          tuple(study["data"]["class_names"]))
        assert views["as trained"]["f1"] == pytest.approx(own["per_class"]["disgust"]["f1"])
        assert views["as trained"]["bias"] == 0.0
        # The test-tuned bias is a maximum over a grid that holds 0: never below the cell's own F1.
        assert views["shifted (test)"]["f1"] >= views["as trained"]["f1"]
    text = report.read_text()
    assert "| oversample | shifted (val) |" in text and "| oversample | as trained | shifted (val) | 2 |" in text
    # Its bound against its own validation-tuned boundary: the test-tuned bias is the best on the test split.
    bound_row = next(line for line in text.splitlines()
                     if line.startswith("| oversample | shifted (test), a bound | shifted (val) | 2 |"))
    assert bound_row.split(" | ")[5].startswith("+")  # the disgust F1 delta
    assert "| oversample | shifted (test), a bound | shifted (test) |" not in text  # never against itself
    macro = _script().main([str(study_dir), "--objective", "macro_f1"])
    assert macro.name == "threshold-macro_f1.md" and report.read_text() == text  # one file per objective
    with pytest.raises(SystemExit):
        _script().main([str(study_dir), "--reference", "baseline"])
    assert "--reference baseline: the study's finished cells are of oversample" in capsys.readouterr().err
