"""How each condition's models rank the chosen emotions' test faces, whatever the boundary.

A shifted view moves a boundary along the ranking its model already has; ROC AUC, average
precision and R-precision (:mod:`ferganaug.measure.ranking`) score that ranking itself, so they say whether
synthetic faces taught a recogniser something about an emotion or only moved where it draws the
line. Scored per seed from each cell's test-split log-probabilities (a ``+shift`` view shares its
models' ranking and gets no row of its own) and paired, seed by seed, against the models of the
best rebalancing condition.
"""

from __future__ import annotations

from ferganaug.measure import paired_delta, summarise_seeds
from ferganaug.measure.ranking import average_precision, r_precision, roc_auc
from ferganaug.study.shift import unshifted_name

SCORES = {"auc": roc_auc, "average_precision": average_precision, "r_precision": r_precision}
SCORE_LABELS = {"auc": "AUC", "average_precision": "average precision", "r_precision": "R-precision"}


def cell_ranking(cell: dict, class_names: tuple[str, ...], emotions: list[str]) -> dict[str, dict[str, float | None]]:
    """One cell's ranking scores per chosen emotion, from its test log-probabilities."""
    arrays = cell["log_probs"]
    targets = arrays["test_targets"]
    out = {}
    for emotion in emotions:
        c = class_names.index(emotion)
        out[emotion] = {name: score(arrays["test"][:, c], targets == c) for name, score in SCORES.items()}
    return out


def ranking_section(cells: list[dict], order: list[str], class_names: tuple[str, ...], emotions: list[str],
                    best_condition: str | None) -> dict:
    """results.json's ``ranking``: per trained condition whose every cell kept its log-probabilities,
    each chosen emotion's ranking scores (:data:`SCORES`) over seeds, and the paired deltas against the
    models of the best rebalancing condition (its unshifted name)."""
    by_condition: dict[str, list[dict]] = {}
    for cell in cells:
        by_condition.setdefault(cell["condition"], []).append(cell)
    per_seed: dict[str, tuple[list[int], dict]] = {}
    for name in order:
        group = sorted(by_condition.get(name, []), key=lambda c: c["seed"])
        if not group or any("log_probs" not in c for c in group):
            continue
        rankings = [cell_ranking(c, class_names, emotions) for c in group]
        per_seed[name] = ([c["seed"] for c in group], {
            e: {s: [r[e][s] for r in rankings] for s in SCORES} for e in emotions})
    scores = {name: {e: {s: summarise_seeds(v) if None not in v else None for s, v in by_score.items()}
                     for e, by_score in by_emotion.items()}
              for name, (_, by_emotion) in per_seed.items()}
    reference = None if best_condition is None else unshifted_name(best_condition)
    deltas = {}
    if reference in per_seed:
        ref_seeds, ref_values = per_seed[reference]
        for name, (seeds, values) in per_seed.items():
            shared = [s for s in seeds if s in ref_seeds]
            if name == reference or len(shared) < 1:
                continue
            deltas[name] = {e: {s: _paired(values[e][s], seeds, ref_values[e][s], ref_seeds, shared) for s in SCORES}
                            for e in emotions}
    return {"scores": scores, "vs_best_rebalancing": {"reference": reference if deltas else None,
                                                      "conditions": deltas}}


def _paired(values: list, seeds: list[int], ref_values: list, ref_seeds: list[int], shared: list[int]) -> dict | None:
    a = [values[seeds.index(s)] for s in shared]
    b = [ref_values[ref_seeds.index(s)] for s in shared]
    if None in a or None in b:
        return None
    return paired_delta(a, b) | {"seeds": shared}
