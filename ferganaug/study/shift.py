"""Shifted decision boundaries: every condition scored a second time, with each chosen emotion's
boundary moved by a bias chosen on the validation split.

Oversampling and synthetic faces both move where a recogniser draws a minority class's boundary
(recall bought with precision, or the reverse). Adding a constant to the class's log-probability
after training moves it too, for free; a synthetic condition beats plain rebalancing only if it
also beats rebalancing with a tuned boundary. So each finished cell keeps its model's
log-probabilities on its validation split (the one it chose its epoch by) and on the test split
(``log_probs.npz``), and the study derives a ``<condition>+shift`` view from them: per seed and
chosen emotion in order, the bias of a fixed grid that maximises the emotion's F1 (or macro-F1) on
the validation split, applied to the test split unchanged. The test split never chooses anything.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from classifiers.checkpoint import load_classifier
from classifiers.inference import predict_logits
from classifiers.train import split_train_val
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.spec import load_dataset
from ferganaug.measure.threshold import log_softmax, shifted_predictions, tune_bias
from ferganaug.study.conditions import StudyError
from ferganaug.utils.files import atomic_write_bytes
from ferganaug.utils.precision import NumericPath

LOG_PROBS_NPZ = "log_probs.npz"
SUFFIX = "+shift"
OBJECTIVES = ("f1", "macro_f1", "none")  # what the validation bias maximises; none: no shifted views
ARRAYS = ("val", "val_targets", "test", "test_targets")


def shifted_name(condition: str) -> str:
    return condition + SUFFIX


def unshifted_name(condition: str) -> str:
    """'synthetic+oversample@median+shift' -> 'synthetic+oversample@median'."""
    return condition.removesuffix(SUFFIX)


def predict_log_probs(run_dir: str | Path, cell: dict, data: FaceDataset,
                      device: torch.device = torch.device("cpu")) -> dict[str, np.ndarray]:
    """A finished cell's model.pt scored on its validation split and on the test split with the
    cell's own numeric path and test-time augmentation: log-probabilities [N, C] and targets."""
    train = cell["train"]
    model, _ = load_classifier(Path(run_dir) / "model.pt", data.class_names)
    path = NumericPath(cell["numeric_path"]["precision"], cell["numeric_path"]["channels_last"])
    model = path.prepare_model(model.to(device))
    out = {}
    for split, faces in (("val", split_train_val(data, train["seed"]).val), ("test", data.split("test"))):
        logits = predict_logits(model, faces.images, path, device, train.get("eval_batch_size", 128),
                                train.get("test_tta", "none"))
        out[split] = log_softmax(logits.numpy()).astype(np.float32)
        out[f"{split}_targets"] = faces.labels.numpy().astype(np.int64)
    return out


def write_log_probs(run_dir: str | Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: arrays[k] for k in ARRAYS})
    atomic_write_bytes(Path(run_dir) / LOG_PROBS_NPZ, buffer.getvalue())


def read_log_probs(run_dir: str | Path) -> dict[str, np.ndarray] | None:
    """The cell's log_probs.npz, or None when it has none (a cell finished before they were kept)."""
    path = Path(run_dir) / LOG_PROBS_NPZ
    if not path.is_file():
        return None
    with np.load(path) as npz:
        missing = [k for k in ARRAYS if k not in npz.files]
        if missing:
            raise StudyError(f"{path}: missing array(s) {', '.join(missing)}; delete it and rebuild the report "
                             "(fergan study --report-only) to predict it again")
        return {k: npz[k] for k in ARRAYS}


def tune_biases(log_probs: np.ndarray, targets: np.ndarray, classes: list[int], objective: str) -> list[float]:
    """One bias per class, tuned in order, each with the earlier ones applied."""
    shifted = np.array(log_probs, dtype=np.float64, copy=True)
    biases = []
    for c in classes:
        bias = tune_bias(shifted, targets, c, objective)
        shifted[:, c] += bias
        biases.append(bias)
    return biases


def shifted_cell(cell: dict, class_names: tuple[str, ...], emotions: list[str], objective: str) -> dict:
    """The ``+shift`` view of a finished cell carrying ``log_probs``: the same cell with its test
    predictions re-drawn after the validation-chosen biases, and ``shift`` recording them."""
    arrays = cell["log_probs"]
    if arrays["test_targets"].tolist() != cell["items"]["targets"]:
        raise StudyError(f"{cell['path']}/{LOG_PROBS_NPZ} was scored on other test faces than its cell.json; "
                         "delete it and rebuild the report (fergan study --report-only)")
    classes = [class_names.index(e) for e in emotions]
    biases = tune_biases(arrays["val"], arrays["val_targets"], classes, objective)
    test = np.array(arrays["test"], dtype=np.float64, copy=True)
    for c, bias in zip(classes[:-1], biases[:-1]):
        test[:, c] += bias
    predictions = shifted_predictions(test, classes[-1], biases[-1])
    view = {k: v for k, v in cell.items() if k != "log_probs"}
    return view | {"condition": shifted_name(cell["condition"]), "shift": dict(zip(emotions, biases)),
                   "items": cell["items"] | {"predictions": predictions.tolist()}}


def attach_log_probs(study_dir: str | Path, study: dict, cells: list[dict]) -> int:
    """Give every finished cell its ``log_probs``: read from its log_probs.npz or, for a cell that
    finished without one, predicted from its model.pt and written beside it. A cell without
    model.pt is left without (and so without a shifted view). Returns how many were predicted."""
    data, predicted = None, 0
    for cell in cells:
        run_dir = Path(study_dir) / cell["path"]
        arrays = read_log_probs(run_dir)
        if arrays is None and (run_dir / "model.pt").is_file():
            if data is None:
                data = load_dataset(study["config"]["data"], cache_dir=study["config"].get("cache_dir"))
            arrays = predict_log_probs(run_dir, cell, data)
            write_log_probs(run_dir, arrays)
            predicted += 1
        if arrays is not None:
            cell["log_probs"] = arrays
    return predicted
