#!/usr/bin/env python
"""How much does one emotion's F1 move with its number of real training faces?

    python scripts/real_data_curve.py --data ../shared/data/fer2013/fer2013.csv.gz --emotion disgust \
        --fractions 0.25,0.5,1 --seeds 3 --out runs/real-curve
    python scripts/real_data_curve.py ... --full runs/fer2013-augmentation/study/00000-deep-cnn-fer2013

Synthetic faces can only add faces of an emotion; this measures what *real* ones are worth. For
each fraction it keeps that share of the emotion's training faces (a seeded choice, nested: the
faces of 0.25 are among those of 0.5), writes the rest of the data unchanged to OUT/data/, and
trains `fergan study`'s oversample condition (the class-balanced sampler, the best plain
rebalancing on FER2013) with the same seeds. Paired seed by seed with the full data, the drop
from halving the real faces bounds what doubling them could buy, and so what synthetic faces of
that emotion, worth at most as much as real ones, can be expected to buy at a study's scale.

``--full STUDY`` reuses a finished study's oversample cells for fraction 1 when its recipe is
the same (model, epochs, batch size, augmentation, scheduler, data), so the chain's study
serves. Every fraction is a `fergan study` folder under OUT/, resumed when the script runs
again. Each fraction is scored as trained and with its boundary shifted (the study's
``oversample+shift`` view: a bias on the emotion's log-probability chosen on the validation
split), the stronger rebalancing a synthetic condition must beat. Writes OUT/curve.md and
OUT/curve.png (F1 against real faces, one point per fraction and view).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from ferganaug.data.dataset import FaceDataset
from ferganaug.data.fer2013 import write_fer2013_csv
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.measure import mean_ci_over_seeds, paired_delta
from ferganaug.study import StudyConfig, create_study, load_study, run_study, write_report
from ferganaug.study.shift import shifted_name

CONDITION = "oversample"
VIEWS = (CONDITION, shifted_name(CONDITION))
RECIPE_KEYS = ("model", "epochs", "batch_size", "augment", "scheduler", "data")


def parse_fractions(text: str) -> tuple[float, ...]:
    try:
        fractions = sorted({float(f) for f in text.split(",") if f.strip()})
    except ValueError:
        raise SystemExit(f"--fractions '{text}': expected numbers in (0, 1] separated by commas, like 0.25,0.5,1")
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise SystemExit(f"--fractions '{text}': every fraction must be in (0, 1], like 0.25,0.5,1")
    return tuple(fractions) if fractions[-1] == 1 else (*fractions, 1.0)


def kept_rows(labels: torch.Tensor, splits: torch.Tensor, emotion: int, fraction: float, seed: int = 0) -> torch.Tensor:
    """A boolean mask over all rows: every row but the training faces of ``emotion`` beyond the
    first round(fraction * n) of one seeded order (so smaller fractions nest in larger ones)."""
    rows = ((labels == emotion) & (splits == 0)).nonzero().flatten()
    order = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))]
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[order[round(fraction * len(rows)):]] = False
    return keep


def fraction_spec(data: str, full: FaceDataset, emotion: str, fraction: float, out: Path) -> tuple[str, int]:
    """The data spec of one fraction (``data`` itself at 1, else a csv written under OUT/data/) and
    its count of real training faces of the emotion; ``full`` is ``data`` loaded."""
    index = EMOTION_INDEX[emotion]
    keep = kept_rows(full.labels, full.splits, index, fraction)
    n = int(((full.labels == index) & (full.splits == 0) & keep).sum())
    if fraction == 1:
        return data, n
    path = out / "data" / f"{Path(data).name.split('.')[0]}-{emotion}-{fraction:g}.csv.gz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_fer2013_csv(full.subset(keep), path)
    return str(path), n


def study_for(spec: str, folder: Path, args: argparse.Namespace) -> dict:
    """The results of the oversample study of one data spec in ``folder``: resumed when it exists,
    else planned."""
    existing = sorted(p.parent for p in folder.glob("*/study.json"))
    if existing:
        study_dir = existing[-1]
        check_same_recipe(study_dir, spec, args)
    else:
        config = StudyConfig(data=spec, conditions=(CONDITION,), emotions=(args.emotion,),
                             seeds=tuple(range(args.seeds)), model=args.model, epochs=args.epochs,
                             precision=args.precision, cache_dir=args.cache_dir)
        study_dir = create_study(config, folder, argv=["python", "scripts/real_data_curve.py", *sys.argv[1:]])
    results = run_study(study_dir, progress=not args.quiet)
    if results is None:
        raise SystemExit(f"{study_dir}: cells are missing (claimed by another worker?); run this again later")
    return results | {"study_dir": study_dir}


def check_same_recipe(study_dir: Path, spec: str, args: argparse.Namespace) -> None:
    """Refuse a study (to resume, or to serve as fraction 1) trained with another recipe."""
    config = load_study(study_dir)["config"]
    wanted = {"model": args.model, "epochs": args.epochs, "batch_size": 64, "augment": "standard",
              "scheduler": "cosine", "data": spec}
    if Path(config["data"]).is_file() and Path(spec).is_file() and Path(config["data"]).samefile(spec):
        wanted["data"] = config["data"]  # the same file, named from another folder
    differ = [f"{k} {config[k]!r} (here {wanted[k]!r})" for k in RECIPE_KEYS if config[k] != wanted[k]]
    if differ:
        raise SystemExit(f"{study_dir}: its recipe differs: {', '.join(differ)}")
    if CONDITION not in config["conditions"]:
        raise SystemExit(f"{study_dir}: has no {CONDITION} cells")
    if [args.emotion] != config["emotions"]:
        raise SystemExit(f"{study_dir}: shifts the boundary of {', '.join(config['emotions'])}, not {args.emotion}")


def per_seed(results: dict, emotion: str) -> dict[str, dict[int, dict[str, float]]]:
    """View (oversample, oversample+shift) -> seed -> the emotion's F1 and recall and macro-F1."""
    out = {}
    for view in VIEWS:
        test = results["conditions"][view]["views"]["test"]
        scores = {"f1": test["per_class"][emotion]["f1"]["values"],
                  "recall": test["per_class"][emotion]["recall"]["values"], "macro_f1": test["macro_f1"]["values"]}
        out[view] = {seed: {k: v[i] for k, v in scores.items()}
                     for i, seed in enumerate(results["conditions"][view]["seeds"])}
    return out


def curve_table(points: list[dict], emotion: str) -> list[str]:
    """Markdown rows: each fraction's scores per view, and its paired change against the full
    data in the same view."""
    full = points[-1]
    lines = [f"| fraction | real {emotion} faces | view | {emotion} F1 | {emotion} recall | macro-F1 | "
             f"{emotion} F1 vs all (paired) | macro-F1 vs all (paired) |", "|---|---|---|---|---|---|---|---|"]
    for p in points:
        for view in VIEWS:
            seeds, all_seeds = p["seeds"][view], full["seeds"][view]
            cells = [f"{p['fraction']:g}", str(p["faces"]), view]
            for key in ("f1", "recall", "macro_f1"):
                mean, std, _, _ = mean_ci_over_seeds([v[key] for v in seeds.values()])
                cells.append(f"{mean * 100:.1f} ± {std * 100:.1f}")
            for key in ("f1", "macro_f1"):
                shared = [s for s in seeds if s in all_seeds]
                if p is full or len(shared) < 2:
                    cells.append("-")
                    continue
                d = paired_delta([seeds[s][key] for s in shared], [all_seeds[s][key] for s in shared])
                cells.append(f"{d['mean_delta'] * 100:+.1f} [{d['ci_low'] * 100:+.1f}, {d['ci_high'] * 100:+.1f}]")
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_curve(points: list[dict], emotion: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for view in VIEWS:
        for key, label in (("f1", f"{emotion} F1"), ("macro_f1", "macro-F1")):
            values = [[v[key] * 100 for v in p["seeds"][view].values()] for p in points]
            stds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in values]
            ax.errorbar([p["faces"] for p in points], [np.mean(v) for v in values], yerr=stds, capsize=3,
                        marker="o" if view == CONDITION else "s", linestyle="-" if view == CONDITION else "--",
                        label=f"{label}, {view}")
    ax.set_xscale("log", base=2)
    ax.set_xticks([p["faces"] for p in points], [str(p["faces"]) for p in points])
    ax.minorticks_off()
    ax.set_xlabel(f"real {emotion} training faces (log scale)")
    ax.set_ylabel("PrivateTest score, % (mean ± std over seeds)")
    ax.set_title(f"{CONDITION}: what real {emotion} faces buy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="A FER2013 csv (or any spec with the seven FER2013 emotions).")
    parser.add_argument("--emotion", default="disgust", choices=EMOTIONS)
    parser.add_argument("--fractions", default="0.5,1", type=parse_fractions, help="Shares of the emotion's real training faces to keep; 1 is always added.")
    parser.add_argument("--seeds", type=int, default=3, help="Seeds 0..N-1 for every fraction (paired).")
    parser.add_argument("--model", default="deep-cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--full", type=Path, default=None, help="A finished study whose oversample cells serve as fraction 1.")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/real-curve"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2: a paired interval needs two seeds")
    if not args.quiet:  # the studies say which cell and epoch they are at
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    full = load_dataset(args.data, cache_dir=args.cache_dir)
    if tuple(full.class_names) != EMOTIONS:
        parser.error(f"--data {args.data}: expected the seven FER2013 emotions, got {', '.join(full.class_names)}")
    points = []
    for fraction in args.fractions:
        spec, faces = fraction_spec(args.data, full, args.emotion, fraction, args.out)
        if fraction == 1 and args.full is not None:
            check_same_recipe(args.full, spec, args)
            results = write_report(args.full) | {"study_dir": args.full}  # rebuilt: it may predate shifted views
        else:
            results = study_for(spec, args.out / f"fraction-{fraction:g}", args)
        if any(view not in results["conditions"] for view in VIEWS):
            raise SystemExit(f"{results['study_dir']}: no {VIEWS[1]} view (a study planned with --shift none)")
        points.append({"fraction": fraction, "faces": faces, "study": results["study_dir"],
                       "seeds": per_seed(results, args.emotion)})
    lines = [f"# Real {args.emotion} faces against {args.emotion} F1 ({args.model}, {args.epochs} epochs, {CONDITION})",
             "", f"Data: `{args.data}`; seeds {', '.join(map(str, range(args.seeds)))}; scores on the test split, %;",
             "paired deltas: mean [95% t-interval] over the seeds both have.", ""]
    lines += curve_table(points, args.emotion)
    lines += ["", "Studies: " + ", ".join(f"{p['fraction']:g}: `{p['study']}`" for p in points), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.md").write_text("\n".join(lines))
    plot_curve(points, args.emotion, args.out / "curve.png")
    print("\n".join(lines))
    return args.out


if __name__ == "__main__":
    main()
