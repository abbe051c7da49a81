"""The per-class augmentation study (layer 2): `fergan study`.

Trains one classifier recipe under several conditions - ``baseline``, ``class-weights``,
``oversample``, ``synthetic`` (GAN faces of the chosen emotions added to the training split,
at one or more amounts) and ``synthetic+class-weights``, and when named ``logit-adjust``
(logit-adjusted cross-entropy, tau 1), ``synthetic+oversample`` (the class-balanced sampler
over real and synthetic faces, synthetic faces held to a share of each emotion's draws) and
``synthetic+logit-adjust`` - with the same seeds, and compares them on the same test split and its leak-free view:
per-class recall/precision/F1, macro-F1 and accuracy with intervals over seeds and over test
items, and paired deltas against the baseline and against the best rebalancing condition
(class-weights, oversample or logit-adjust), each with a verdict.

Modules, one job each: ``conditions`` (names, amounts, cells), ``config`` (StudyConfig),
``sources`` (the synthetic folder and the train-split-only rule), ``plan`` (checks inputs and
writes study.json, or adds seeds to it), ``shift`` (each condition's twin with the chosen
emotions' boundaries tuned on the validation split), ``runner`` (trains and resumes cells, optionally in
parallel processes), ``reuse`` (copies another study's finished cells of the same experiment), ``aggregate`` (the numbers), ``report`` (results.json, report.md, terminal summary) and
``plots`` (PNGs).

Study folder::

    STUDY/study.json            resolved config, cells, data and synthetic facts, machine
    STUDY/cells/<condition>/seed<k>/   a fer-classify run folder + log_probs.npz + cell.json (finished marker)
    STUDY/results.json, report.md, recall_deltas.png, confusion_<condition>.png
    STUDY/invocations.jsonl, reused.jsonl   each run of the command; each cell copied from another study
"""

from ferganaug.study.aggregate import aggregate, seed_scores
from ferganaug.study.conditions import (
    CLASS_WEIGHT_MODE,
    CONDITIONS,
    Amount,
    Cell,
    StudyError,
    condition_names,
    faces_per_class,
    median_count,
    parse_amount,
    parse_amounts,
    parse_conditions,
    plan_cells,
)
from ferganaug.study.config import StudyConfig
from ferganaug.study.plan import add_seeds, create_study, data_options, load_study
from ferganaug.study.report import format_markdown, format_summary, load_cells, write_report
from ferganaug.study.runner import run_cell, run_study
from ferganaug.study.sources import check_manifest_sources, check_synthetic_folder

__all__ = [
    "CLASS_WEIGHT_MODE", "CONDITIONS", "Amount", "Cell", "StudyConfig", "StudyError", "add_seeds", "aggregate",
    "check_manifest_sources", "check_synthetic_folder", "condition_names", "create_study", "data_options",
    "faces_per_class", "format_markdown", "format_summary", "load_cells", "load_study", "median_count",
    "parse_amount", "parse_amounts", "parse_conditions", "plan_cells", "run_cell", "run_study", "seed_scores",
    "write_report",
]
