"""What a study runs, as plain values: condition names, synthetic amounts, and the cells
(condition x seed) they expand into. Parsing and arithmetic only; nothing here trains.

A synthetic condition runs once per amount and is named ``<condition>@<amount>``
(``synthetic@median``, ``synthetic+class-weights@x2``). Amounts, per chosen emotion with
``n_real`` real training faces:

- ``median``: top the class up to the median real training class count, max(0, median - n_real);
- ``xK``: grow the class to K times its real size, (K - 1) x n_real (K >= 1, may be fractional);
- a whole number: add that many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ferganaug.data.errors import DataError

# "all": the standard conditions. The others run only when named, so that a default study
# keeps its size.
CONDITIONS: tuple[str, ...] = ("baseline", "class-weights", "oversample", "synthetic", "synthetic+class-weights")
OPT_IN_CONDITIONS: tuple[str, ...] = ("logit-adjust", "synthetic+oversample", "synthetic+logit-adjust")
# Tables and cells list conditions in this order: the real-data fixes, then the synthetic ones.
ORDER: tuple[str, ...] = ("baseline", "class-weights", "oversample", "logit-adjust", "synthetic",
                          "synthetic+class-weights", "synthetic+oversample", "synthetic+logit-adjust")
SYNTHETIC_CONDITIONS: tuple[str, ...] = ("synthetic", "synthetic+class-weights", "synthetic+oversample",
                                         "synthetic+logit-adjust")
REBALANCING: tuple[str, ...] = ("class-weights", "oversample", "logit-adjust")  # the fixes synthetic must beat
OVERSAMPLING: tuple[str, ...] = ("oversample", "synthetic+oversample")  # the class-balanced sampler
# The logit-adjusted loss; with synthetic faces its prior counts them too (they are what the loss sees).
LOGIT_ADJUSTED: tuple[str, ...] = ("logit-adjust", "synthetic+logit-adjust")
CLASS_WEIGHT_MODE = "inverse"  # ferganaug.data.imbalance.class_weights: weight 1 / n_c, normalised
LOGIT_ADJUST_TAU = 1.0  # Menon et al. 2021's default: train on logits + log(prior)
BASELINE = "baseline"


class StudyError(DataError):
    """A study setting that cannot work. A DataError, so the command line prints one clean line."""


def parse_conditions(text: str | Sequence[str]) -> tuple[str, ...]:
    """'baseline,synthetic' or a list of names, or 'all' (the standard conditions, without the
    opt-in ones) -> names in canonical order."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [p.strip().lower() for p in parts if p.strip()]
    if names == ["all"]:
        return CONDITIONS
    unknown = [n for n in names if n not in ORDER]
    if unknown or not names:
        what = f"unknown condition '{unknown[0]}'" if unknown else "no condition given"
        raise StudyError(f"{what}; expected some of {', '.join(CONDITIONS + OPT_IN_CONDITIONS)} (comma-separated) "
                         f"or all (all but {', '.join(OPT_IN_CONDITIONS)})")
    # Canonical order puts baseline first, so tables and cells always read the same way.
    return tuple(c for c in ORDER if c in names)


@dataclass(frozen=True)
class Amount:
    """How many synthetic faces one chosen emotion gets (see the module docstring)."""

    kind: str  # "median", "times" or "count"
    value: float = 0.0

    @property
    def label(self) -> str:
        if self.kind == "median":
            return "median"
        if self.kind == "times":
            return f"x{self.value:g}"
        return str(int(self.value))

    def faces_to_add(self, n_real: int, median: int) -> int:
        if self.kind == "median":
            return max(0, int(median) - int(n_real))
        if self.kind == "times":
            return round((self.value - 1.0) * n_real)
        return int(self.value)


def parse_amount(text: str) -> Amount:
    """'median', 'x2' / 'x1.5' or '500' -> Amount; anything else is a StudyError."""
    raw = text.strip().lower()
    expected = "expected median, xK (grow the class to K times its real size, e.g. x2) or a whole number (e.g. 500)"
    if raw == "median":
        return Amount("median")
    if raw.startswith("x"):
        try:
            k = float(raw[1:])
        except ValueError:
            raise StudyError(f"cannot parse amount '{text}'; {expected}") from None
        if not np.isfinite(k) or k < 1:
            raise StudyError(f"amount '{text}': K must be at least 1 (x1 adds nothing); {expected}")
        return Amount("times", k)
    if raw.isdigit():
        return Amount("count", int(raw))
    raise StudyError(f"cannot parse amount '{text}'; {expected}")


def parse_amounts(text: str | Sequence[str]) -> tuple[Amount, ...]:
    """Comma-separated amounts (or a list), duplicates dropped, order kept."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    amounts: list[Amount] = []
    for part in parts:
        if part.strip():
            amount = parse_amount(part)
            if amount.label not in [a.label for a in amounts]:
                amounts.append(amount)
    if not amounts:
        raise StudyError("no amount given; expected median, xK or a whole number")
    return tuple(amounts)


def median_count(counts: Sequence[int]) -> int:
    """The median real training class count (rounded down when it falls between two)."""
    return int(np.floor(np.median(np.asarray(counts, dtype=np.float64))))


def faces_per_class(amount: Amount, emotions: Sequence[str], class_names: Sequence[str],
                    real_counts: Sequence[int]) -> tuple[int, ...]:
    """Synthetic faces wanted per class (class order): the amount for chosen emotions, 0 elsewhere."""
    median = median_count(real_counts)
    return tuple(amount.faces_to_add(real_counts[c], median) if name in emotions else 0
                 for c, name in enumerate(class_names))


def condition_names(conditions: Sequence[str], amounts: Sequence[Amount]) -> tuple[str, ...]:
    """The study's condition groups: synthetic conditions once per amount."""
    names: list[str] = []
    for base in conditions:
        if base in SYNTHETIC_CONDITIONS:
            names.extend(f"{base}@{a.label}" for a in amounts)
        else:
            names.append(base)
    return tuple(names)


def split_condition(name: str) -> tuple[str, str | None]:
    """'synthetic@x2' -> ('synthetic', 'x2'); 'baseline' -> ('baseline', None)."""
    base, _, amount = name.partition("@")
    return base, amount or None


@dataclass(frozen=True)
class Cell:
    """One training run of the study: a condition group at one seed."""

    condition: str
    seed: int

    @property
    def base(self) -> str:
        return split_condition(self.condition)[0]

    @property
    def amount(self) -> str | None:
        return split_condition(self.condition)[1]

    @property
    def path(self) -> str:
        """Folder relative to the study dir; the fer-classify run folder of this cell."""
        return f"cells/{self.condition}/seed{self.seed}"

    @property
    def class_weights(self) -> str | None:
        return CLASS_WEIGHT_MODE if self.base in ("class-weights", "synthetic+class-weights") else None

    @property
    def balanced_sampler(self) -> bool:
        return self.base in OVERSAMPLING

    @property
    def logit_adjust_tau(self) -> float:
        return LOGIT_ADJUST_TAU if self.base in LOGIT_ADJUSTED else 0.0

    @property
    def synthetic(self) -> bool:
        return self.base in SYNTHETIC_CONDITIONS


def plan_cells(names: Sequence[str], seeds: Sequence[int]) -> list[Cell]:
    """Seed-major order: after any prefix of finished cells, early seeds have every condition,
    so a partial study already gives paired comparisons."""
    return [Cell(name, int(seed)) for seed in seeds for name in names]
