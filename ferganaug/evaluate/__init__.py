"""Measuring a generator or a synthetic folder (layer 2): `fergan evaluate`.

Per target emotion, beside each other:

- **hit rate**: the share of edited faces an *independent* evaluator classifier assigns to the
  target, next to that evaluator's recall on real test faces of the same emotion (the ceiling
  a real face reaches). The evaluator must not be the GAN's loss classifier: a generator can
  learn to fool the classifier it was trained against, so only another design and seed is
  evidence.
- **KID and FID** in the evaluator's penultimate feature space (no downloaded network),
  synthetic vs real test faces of that emotion, with real *train* vs real test of the same
  emotion as the floor (what two samples of real faces score).
- **two-sample test**: the held-out accuracy (with a 95% interval) of a small CNN trained to
  tell the synthetic faces from real *training* faces of that emotion: 50% means it finds no
  difference a recogniser could learn (``ferganaug.measure.two_sample``).
- **identity**: the mean grey-level change from the source face, the attention-mask area
  (generators only) and, on the built-in faces, the error against the true render of that
  person with that expression beside the error of returning the source unchanged, with the
  part of it that falls where the true change leaves the face alone and the cosine between
  the change drawn and the true change (why an edit misses, not only by how much).

Modules: ``inputs`` (what the argument is, synthetic folders with their sources),
``evaluator`` (the independent classifier), ``measure`` (the numbers), ``report`` (table,
metrics.json, metrics.png and on built-in data changes.png via ``plots``), ``run`` (the command's library call).
"""

from ferganaug.evaluate.evaluator import resolve_evaluator, train_evaluator
from ferganaug.evaluate.inputs import SyntheticFolder, evaluation_kind, load_real_data, read_synthetic_folder
from ferganaug.evaluate.measure import (
    SampleGrid,
    compare_with_truth,
    edit_faces,
    evaluate_generator,
    evaluate_synthetic,
    hit_rate,
    measure_generator,
    measure_synthetic,
    set_distances,
)
from ferganaug.evaluate.report import CHANGES_PNG, METRICS_JSON, METRICS_PNG, format_generator_report, write_metrics
from ferganaug.evaluate.run import evaluate_path

__all__ = [
    "CHANGES_PNG", "METRICS_JSON", "METRICS_PNG", "SampleGrid", "SyntheticFolder", "compare_with_truth", "edit_faces",
    "evaluate_generator", "evaluate_path", "evaluate_synthetic", "evaluation_kind", "format_generator_report",
    "hit_rate", "load_real_data", "measure_generator", "measure_synthetic", "read_synthetic_folder",
    "resolve_evaluator", "set_distances", "train_evaluator", "write_metrics",
]
