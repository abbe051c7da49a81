"""Shifted boundaries in fergan study: each condition's `+shift` twin re-draws its test predictions
after a bias chosen on the validation split alone, competes as a rebalancer, and faces the
synthetic conditions; a study with --shift none has no twins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ferganaug.measure.threshold import shifted_predictions, tune_bias
from ferganaug.study import StudyError, seed_scores, write_report
from ferganaug.study.shift import LOG_PROBS_NPZ, read_log_probs, tune_biases, write_log_probs

NAMES = ("angry", "disgust", "fear")
DISGUST = 1
TARGETS = np.repeat(np.arange(3), 10)
CONDITIONS = ("baseline", "oversample", "synthetic+oversample@median")


def _log_probs(predictions: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Test log-probabilities whose argmax is the cell's predictions, and validation ones that
    under-score disgust (so a positive bias pays there)."""
    test = 3.0 * np.eye(3)[predictions] + rng.normal(0, 0.3, (len(predictions), 3))
    val = 2.0 * np.eye(3)[TARGETS] + rng.normal(0, 1.0, (len(TARGETS), 3))
    val[:, DISGUST] -= 1.5
    return {"val": val, "val_targets": TARGETS, "test": test, "test_targets": TARGETS}


def _study(root: Path, shift: str = "f1") -> Path:
    """A finished three-class study written by hand, two seeds per condition, each cell with a
    log_probs.npz (no model.pt: nothing is ever re-predicted)."""
    rng = np.random.default_rng(0)
    cells = []
    for k, condition in enumerate(CONDITIONS):
        for seed in (0, 1):
            predictions = TARGETS.copy()
            predictions[rng.choice(30, 6 + k, replace=False)] = 0  # mistakes lean to angry
            synthetic = condition.startswith("synthetic")
            cell = {"condition": condition, "seed": seed, "path": f"cells/{condition}/seed{seed}",
                    "train": {"synthetic_share": 0.5 if synthetic else None},
                    "items": {"targets": TARGETS.tolist(), "predictions": predictions.tolist(), "leak_free": None},
                    "synthetic_added": {"disgust": 5} if synthetic else {}, "train_seconds": 1.0,
                    "wall_seconds": 1.0}
            (root / cell["path"]).mkdir(parents=True)
            (root / cell["path"] / "cell.json").write_text(json.dumps(cell))
            write_log_probs(root / cell["path"], _log_probs(predictions, rng))
            cells.append(cell)
    study = {
        "command": ["fergan", "study"], "created": "today", "machine": "a test",
        "config": {"emotions": ["disgust"], "model": "basic-cnn", "epochs": 1, "seeds": [0, 1], "n_boot": 100,
                   "shift": shift},
        "data": {"class_names": list(NAMES), "spec": "by hand"}, "condition_names": list(CONDITIONS),
        "cells": [{k: c[k] for k in ("condition", "seed", "path", "train")} for c in cells],
        "synthetic": {"path": "syn/"}, "synthetic_plan": {"median": {"wanted": {"disgust": 5}, "planned": {"disgust": 5}}},
    }
    (root / "study.json").write_text(json.dumps(study))
    return root


def test_biases_are_tuned_in_order_each_with_the_earlier_applied():
    # Class 1 faces lose to class 0 by 0.5, class 2 faces to class 1 by 0.5: alone each needs 0.55, but
    # with class 1 lifted by 0.55 first, class 2 must beat 0.5 + 0.55 (a tie goes to class 1): 1.1.
    log_probs = np.array([[0.0, -0.5, -9.0]] * 2 + [[0.0, -9.0, -9.0]] * 2 + [[-9.0, 0.0, -0.5]] * 2)
    targets = np.array([1, 1, 0, 0, 2, 2])
    biases = tune_biases(log_probs, targets, [1, 2], "f1")
    assert biases[0] == pytest.approx(0.55)
    assert biases[1] == pytest.approx(1.1)
    assert tune_bias(log_probs, targets, 2) == pytest.approx(0.55)
    assert biases == [tune_bias(log_probs, targets, 1), tune_bias(log_probs + [0, 0.55, 0], targets, 2)]


def test_every_condition_gets_a_twin_shifted_by_its_validation_bias(tmp_path):
    study_dir = _study(tmp_path / "study")
    results = write_report(study_dir)
    assert list(results["conditions"]) == [n for c in CONDITIONS for n in (c, c + "+shift")]
    assert results["study"]["shift"] == "f1"
    for condition in CONDITIONS:
        summary = results["conditions"][condition + "+shift"]
        assert results["conditions"][condition]["shift"] is None
        for i, seed in enumerate((0, 1)):
            arrays = read_log_probs(study_dir / f"cells/{condition}/seed{seed}")
            bias = tune_bias(arrays["val"], arrays["val_targets"], DISGUST)  # validation faces alone choose it
            assert summary["shift"]["disgust"][i] == bias and bias > 0
            expected = seed_scores(TARGETS, shifted_predictions(arrays["test"], DISGUST, bias), NAMES)
            assert summary["views"]["test"]["macro_f1"]["values"][i] == pytest.approx(expected["macro_f1"])
            f1 = summary["views"]["test"]["per_class"]["disgust"]["f1"]["values"][i]
            assert f1 == pytest.approx(expected["per_class"]["disgust"]["f1"])
    assert results["cells"] == {"planned": 6, "finished": 6, "missing": [], "reused_from": {}}  # twins are views, not cells
    assert results["time"]["train_seconds"] == 6.0


def test_shifted_rebalancers_compete_and_synthetic_twins_face_them(tmp_path):
    results = write_report(_study(tmp_path / "study"))
    best = results["best_rebalancing"]
    assert set(best["macro_f1_means"]) == {"oversample", "baseline+shift", "oversample+shift"}
    means = {c: results["conditions"][c]["views"]["test"]["macro_f1"]["mean"] for c in best["macro_f1_means"]}
    assert best["condition"] == max(means, key=means.get)
    per_metric = results["deltas"]["vs_best_per_metric"]
    assert set(per_metric["conditions"]) == {"synthetic+oversample@median", "synthetic+oversample@median+shift"}
    assert set(per_metric["references"].values()) <= set(means)
    on_trial = {v["condition"] for v in results["verdicts"] if v["reference"] == best["condition"]}
    assert on_trial == {"synthetic+oversample@median", "synthetic+oversample@median+shift"}
    report = (tmp_path / "study" / "report.md").read_text()
    assert "## Shifted boundaries" in report and "| synthetic+oversample@median+shift | disgust |" in report
    assert "`<condition>+shift`" in report
    assert report.count("| synthetic+oversample@median | disgust | 5 | 5 |") == 1  # twins add no synthetic rows


def test_a_study_without_shift_has_no_twins(tmp_path):
    results = write_report(_study(tmp_path / "study", shift="none"))
    assert list(results["conditions"]) == list(CONDITIONS)
    assert results["best_rebalancing"]["condition"] == "oversample"
    assert "## Shifted boundaries" not in (tmp_path / "study" / "report.md").read_text()


def test_log_probs_of_other_test_faces_are_refused(tmp_path):
    study_dir = _study(tmp_path / "study")
    cell = study_dir / "cells/oversample/seed1"
    arrays = read_log_probs(cell)
    write_log_probs(cell, arrays | {"test_targets": arrays["test_targets"][::-1].copy()})
    with pytest.raises(StudyError, match=f"cells/oversample/seed1/{LOG_PROBS_NPZ} was scored on other test faces"):
        write_report(study_dir)


def test_a_log_probs_file_missing_an_array_is_named(tmp_path):
    cell = tmp_path / "cell"
    cell.mkdir()
    np.savez(cell / LOG_PROBS_NPZ, val=np.zeros((2, 3)))
    with pytest.raises(StudyError, match="missing array\\(s\\) val_targets, test, test_targets"):
        read_log_probs(cell)
