"""`fergan`: train the conditional expression GAN, synthesize minority-class faces, transfer
expressions onto a user's own photos. A thin click shell over ferganaug.pipeline/synth."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from ferganaug.data.errors import DataError
from ferganaug.emotions import EMOTIONS, UnknownEmotionError, parse_emotions
from ferganaug.gan.expression import ClassOrderError
from ferganaug.engine import CheckpointError, DivergenceError, RunFolderError
from ferganaug.engine.config import ConfigError
from ferganaug.utils.cli import detector_option, friendly_errors
from ferganaug.utils.files import json_text

USER_ERRORS = (DataError, CheckpointError, UnknownEmotionError, ClassOrderError, DivergenceError, RunFolderError,
               ConfigError)


user_errors = friendly_errors(USER_ERRORS, "nothing written is half-finished: re-run (or --resume RUN_DIR) to continue")


def _emotions(ctx, param, value):
    try:
        return parse_emotions(value)
    except UnknownEmotionError as err:
        raise click.BadParameter(str(err)) from None


def _emotion(ctx, param, value):
    if value is None:
        return None
    names = _emotions(ctx, param, value)
    if len(names) != 1:
        raise click.BadParameter("give one emotion (or leave it out for a grid of all)")
    return names[0]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("-v", "--verbose", is_flag=True)
def main(verbose: bool) -> None:
    """Conditional expression GAN: neutral faces in, chosen expressions out, identity kept."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", stream=sys.stderr)


@main.command("train")
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec (its training split is used).")
@click.option("--preset", default=None, metavar="NAME", help="Committed recipe (see `fergan presets`) [default: builtin].")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None, metavar="FILE", help="TOML file with [gan] and [classifier] tables, applied on top of the preset.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override one key, e.g. --set gan.w_expr=10 --set classifier.epochs=20 (a bare key works when one table has it); applied last.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="GAN steps [default: the preset's]. With --resume: train the run to N steps in all, e.g. longer than it was set to.")
@click.option("--expr-classifier", "expr_classifiers", type=click.Path(exists=True), multiple=True, metavar="CKPT", help="fer-classify checkpoint for the expression loss (twice or more: an ensemble, their log-probabilities averaged); without it the preset's [classifier] and [ensemble] are trained first.")
@click.option("--seed", type=int, default=None, help="Seed of the GAN and its loss classifier [default: the preset's, 0].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default=None, help="auto measures the candidates and keeps the fastest [default: auto].")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1 ... [default: auto].")
@click.option("--out", "runs_root", type=click.Path(file_okay=False), default="runs/fergan", help="Folder of run folders.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None, metavar="RUN_DIR", help="Continue an interrupted run (everything but --steps comes from its config.json).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
@user_errors
def train_command(ctx: click.Context, **o) -> None:
    """Train the GAN (and, first, its frozen expression classifier if none is given)."""
    from ferganaug.engine.distributed import is_main_process
    from ferganaug.pipeline import resume_gan, train_gan
    from ferganaug.presets import DEFAULT_PRESET, resolve_run_config

    if o["resume"]:
        flags = {param.name: param.opts[0] for param in ctx.command.params}
        given = [flags[name] for name in ("data", "preset", "config_file", "assignments", "expr_classifiers",
                                          "seed", "precision", "device")
                 if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--resume takes everything but --steps from the run's config.json; "
                                   f"drop {', '.join(given)}")
        run_dir = resume_gan(o["resume"], progress=not o["quiet"], steps=o["steps"])
    else:
        choices = {k: o[k] for k in ("steps", "seed", "precision", "device") if o[k] is not None}
        run_config = resolve_run_config(o["preset"] or DEFAULT_PRESET, o["config_file"], choices, o["assignments"])
        try:
            run_dir = train_gan(run_config, o["data"], o["runs_root"], o["expr_classifiers"], progress=not o["quiet"],
                                argv=["fergan", *sys.argv[1:]])
        except ValueError as err:  # the data cannot feed the GAN (no source faces, a missing emotion)
            if isinstance(err, USER_ERRORS):
                raise
            raise click.ClickException(str(err)) from None
    if is_main_process():  # under torchrun, rank 0 alone reports
        click.echo(str(run_dir))


@main.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: name -> resolved config.")
def presets_command(as_json: bool) -> None:
    """List the committed `fergan train` presets, one line each."""
    from ferganaug.presets import list_presets, resolve_run_config

    presets = list_presets()
    if as_json:
        click.echo(json_text({name: resolve_run_config(name).to_dict() for name in presets}))
        return
    width = max(len(name) for name in presets)
    for name, description in presets.items():
        click.echo(f"{name:<{width}}  {description}")


@main.command("synthesize")
@click.option("--emotion", "emotions", default="disgust", callback=_emotions, metavar="LIST", help=f"One or more of {', '.join(EMOTIONS)} (comma-separated), or all.")
@click.option("--n", type=click.IntRange(min=1), default=1000, help="Faces per emotion.")
@click.option("--generator", type=click.Path(exists=True), default=None, help="fergan train run folder or generator.pt (required unless --check or --repair).")
@click.option("--sources", default=None, metavar="SPEC", help="Source faces [default: the generator's training data].")
@click.option("--out", type=click.Path(file_okay=False), default="synthetic")
@click.option("--seed", type=int, default=0)
@click.option("--filter", "filter_classifier", type=click.Path(exists=True), default=None, metavar="CKPT", help="fer-classify checkpoint trained on the training split (not the study's evaluator): keep a face only when it gives the target at least its median probability for real training faces of that emotion; at most 20 candidates per face.")
@click.option("--check", is_flag=True, help="Only verify OUT: every row's image exists and decodes, no duplicate rows, no image without a row.")
@click.option("--repair", is_flag=True, help="Make OUT consistent, deleting no image: unusable rows and unlisted images are moved aside.")
@click.option("--quiet", is_flag=True)
@user_errors
def synthesize_command(emotions, n, generator, sources, out, seed, filter_classifier, check, repair, quiet) -> None:
    """Write OUT/<emotion>/<NNNNNN>.png and OUT/manifest.jsonl; a re-run continues."""
    if check or repair:
        from ferganaug.data.synthetic_folder import check_folder, repair_folder

        report = repair_folder(out) if repair else check_folder(out)
        click.echo(report.summary(), err=True)
        if not report.ok:
            raise click.ClickException(f"{out} is not consistent; `fergan synthesize --repair --out {out}` sets "
                                       "the problems aside without deleting an image")
        click.echo(out)
        return
    if generator is None:
        raise click.UsageError("--generator is required (a fergan train run folder or its generator.pt)")
    from ferganaug.synth import synthesize

    summary = synthesize(generator, emotions, n, out, sources, seed, progress=not quiet,
                         filter_classifier=filter_classifier)
    for emotion, count in summary["written"].items():
        kept = _acceptance(summary["filter"]["per_emotion"][emotion]) if "filter" in summary else ""
        click.echo(f"{emotion}: {count} written, {summary['already_there'][emotion]} already there{kept}", err=True)
    click.echo(summary["out"])


def _acceptance(result: dict) -> str:
    """How many of this run's candidates the filter kept, for the synthesize report line."""
    rate = "-" if result["acceptance_rate"] is None else f"{result['acceptance_rate'] * 100:.1f}%"
    return (f"; the filter kept {result['accepted']} of {result['candidates']} candidates ({rate}, threshold "
            f"{result['threshold']:.3f})")


@main.command("transfer")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--generator", type=click.Path(exists=True), required=True)
@click.option("--emotion", default=None, callback=_emotion, help="Target emotion; omitted: a grid of all.")
@click.option("--grid", is_flag=True, help="A grid of each face beside its edit to every emotion, instead of the edited photo.")
@detector_option
@click.option("--no-detect", is_flag=True, help="Take each image as one pre-cropped face (converted to 48x48 grey).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None, help="Reference face (reference-conditioned generators).")
@click.option("--out", type=click.Path(file_okay=False), default="transfer")
@user_errors
def transfer_command(images, generator, emotion, grid, detector, no_detect, reference, out) -> None:
    """Change the expression of the faces in your photos: every face is detected, aligned,
    edited to --emotion and pasted back into the photo at its own resolution with a feathered
    blend (OUT/<name>_<emotion>.png, the whole photo). Without --emotion, or with --grid: a
    labelled grid of each face beside its edit to every emotion (OUT/<name>_all-emotions.png)."""
    from ferganaug.faces.detect import create_detector
    from ferganaug.transfer import transfer

    found = None if no_detect else create_detector(detector)
    result = transfer(generator, [Path(p) for p in images], out, emotion,
                      Path(reference) if reference else None, found, grid)
    for path in result.no_face:
        click.echo(f"no face found in {path}; nothing written for it", err=True)
    for path in result.written:
        click.echo(str(path))


@main.command("evaluate")
@click.argument("target", metavar="RUN_OR_SYNTHETIC_DIR", type=click.Path(exists=True))
@click.option("--data", default=None, metavar="SPEC", help="Real faces to compare with (needs a test split) [default: the generator's training data, or the synthetic folder's source data]")
@click.option("--evaluator", type=click.Path(exists=True), default=None, metavar="CKPT", help="Independent classifier; trained on the real training split when omitted.")
@click.option("--evaluator-model", default="resnet-baseline", help="Design of the automatic evaluator (not the loss classifier's).")
@click.option("--evaluator-preset", default=None, metavar="NAME", help="Classifier preset (see `fer-classify presets`) of the automatic evaluator: its design and recipe replace --evaluator-model's.")
@click.option("--evaluator-epochs", type=click.IntRange(min=1), default=None, help="Automatic evaluator's epochs [default: 12, or the preset's].")
@click.option("--evaluator-seed", type=int, default=1)
@click.option("--evaluator-sampler", type=click.Choice(["balanced", "natural"]), default="balanced", help="Automatic evaluator's batches: class-balanced, or the data's own class frequencies (evaluators before 2026-11-24).")
@click.option("--sources-split", type=click.Choice(["train", "val", "test"]), default="test", help="Split whose source faces a generator edits.")
@click.option("--n-per-emotion", type=click.IntRange(min=2), default=2000, help="Faces per emotion to edit or use (a seeded subsample when there are more).")
@click.option("--seed", type=int, default=0, help="Seed of the subsamples, KID subsets and two-sample tests.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", help="Numeric path of the automatic evaluator's training (auto measures the candidates).")
@click.option("--no-two-sample", is_flag=True, help="Skip the two-sample test (a small CNN trained per target emotion to tell synthetic from real training faces: seconds each on 2 CPU cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@user_errors
def evaluate_command(target, data, evaluator, evaluator_model, evaluator_preset, evaluator_epochs, evaluator_seed, evaluator_sampler, sources_split,
                     n_per_emotion, seed, precision, no_two_sample, as_json, quiet) -> None:
    """Measure a fergan train run (its generator edits real source faces) or a synthetic folder
    written by fergan synthesize, per target emotion: hit rate by an independent evaluator beside
    its recall on real faces, KID/FID against real test faces beside the real-train floor, the
    two-sample test against real training faces (50%: indistinguishable), and
    change from the source face (on the built-in faces: error against the true render).
    Writes metrics.json and metrics.png into the run or synthetic folder, and for a generator on
    the built-in faces changes.png (the change drawn beside the true change)."""
    from ferganaug.evaluate import CHANGES_PNG, evaluate_path, format_generator_report

    report, json_path, png_path = evaluate_path(
        target, data=data, evaluator=evaluator, evaluator_model=evaluator_model, evaluator_preset=evaluator_preset,
        evaluator_epochs=evaluator_epochs,
        evaluator_seed=evaluator_seed, evaluator_sampler=evaluator_sampler, evaluator_precision=precision,
        sources_split=sources_split, n_per_emotion=n_per_emotion, seed=seed, progress=not quiet, two_sample=not no_two_sample,
    )
    changes = png_path.parent / CHANGES_PNG
    if as_json:  # exactly one JSON document on stdout; the paths go to stderr
        click.echo(json_text(report))
        click.echo(f"metrics: {json_path}\nsheet: {png_path}", err=True)
        if changes.exists():
            click.echo(f"changes (drawn vs true): {changes}", err=True)
        return
    click.echo(format_generator_report(report))
    click.echo(f"sheet: {png_path}")
    if changes.exists():
        click.echo(f"changes (drawn vs true): {changes}")
    click.echo(str(json_path))


def _study_option(parse_name: str):
    """Callback running a ferganaug.study.conditions parser; imported on use so that
    `fergan --help` does not load the classifiers."""

    def callback(ctx, param, value):
        if value is None:
            return None
        from ferganaug.study import conditions

        try:
            return getattr(conditions, parse_name)(value)
        except ValueError as err:
            raise click.BadParameter(str(err)) from None

    return callback


def _seed_list(ctx, param, value):
    if value is None:
        return None
    try:
        seeds = tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of whole numbers like 3,5,7") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"'{value}': give distinct seeds >= 0, like 3,5,7")
    return seeds


def _shard(ctx, param, value):
    if value is None:
        return None
    k, sep, n = value.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit() and 1 <= int(k) <= int(n)):
        raise click.BadParameter(f"'{value}': expected K/N with 1 <= K <= N, such as 1/2")
    return int(k), int(n)


def _study_model(ctx, param, value):
    from classifiers.registry import list_models

    if value is not None and value not in list_models():
        raise click.BadParameter(f"unknown model '{value}'; expected one of {', '.join(list_models())}")
    return value


# Options that define a study; with --resume or --report-only they come from study.json instead
# (but --resume takes --seeds and --seed-list as seeds to add).
_STUDY_SETTINGS = ("data", "conditions", "synthetic", "emotions", "amounts", "seeds", "seed_list", "model", "preset", "epochs",
                   "batch_size", "augment", "scheduler", "precision", "device", "out", "cache_dir", "synthetic_share",
                   "real_finish_epochs", "synthetic_weight", "shift")


@main.command("study")
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec; every condition is scored on its test split.")
@click.option("--conditions", default="all", callback=_study_option("parse_conditions"), metavar="LIST", help="Comma-separated: baseline, class-weights, oversample, synthetic, synthetic+class-weights, logit-adjust (logit-adjusted loss, tau 1), synthetic+oversample (class-balanced sampler over real and synthetic faces), synthetic+logit-adjust (the logit-adjusted loss over real and synthetic faces, whose prior counts both), or all (the first five).")
@click.option("--synthetic", type=click.Path(exists=True, file_okay=False), default=None, metavar="DIR", help="Folder written by fergan synthesize from the training split of --data (needed by the synthetic conditions).")
@click.option("--emotions", default="disgust", callback=_emotions, metavar="LIST", help="Emotions whose synthetic faces are added.")
@click.option("--amounts", default="median", callback=_study_option("parse_amounts"), metavar="LIST", help="Synthetic faces per chosen emotion, one condition group each: median (top up to the median real class count), xK (grow the class K-fold, e.g. x2) or a number.")
@click.option("--synthetic-share", type=click.FloatRange(0, 1), default=0.5, metavar="S", help="synthetic+oversample: the chance that a draw of an emotion with synthetic faces is a synthetic face (emotions are drawn uniformly).")
@click.option("--real-finish-epochs", type=click.IntRange(min=0), default=0, metavar="N", help="synthetic+oversample: the last N epochs draw each emotion's real faces only, a finish on real data after the synthetic faces (N below --epochs).")
@click.option("--synthetic-weight", type=click.FloatRange(min=0), default=1.0, metavar="W", help="Synthetic conditions: each synthetic face's loss term weighs W, a real face's 1 (fer-classify --augment-weight).")
@click.option("--seeds", type=click.IntRange(min=1), default=None, metavar="N", show_default="3", help="Train every condition with seeds 0..N-1 (the same seeds for all: paired). With --resume: grow the study to N seeds.")
@click.option("--seed-list", default=None, callback=_seed_list, metavar="LIST", help="Explicit seeds instead of --seeds, e.g. 3,5,7. With --resume: seeds to add.")
@click.option("--model", default=None, callback=_study_model, show_default="deep-cnn, or the preset's", help="Registered classifier design (fer-classify models); its recipe gives optimiser and learning rate.")
@click.option("--preset", default=None, metavar="NAME", help="Classifier preset (fer-classify presets) whose design and recipe every cell trains, e.g. fer2013-cpu; the options --model to --scheduler given here go on top.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, show_default="10, or the preset's")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, show_default="64, or the preset's")
@click.option("--augment", type=click.Choice(["none", "light", "standard", "strong"]), default=None, show_default="standard, or the preset's", help="Augmentation preset.")
@click.option("--scheduler", type=click.Choice(["none", "plateau", "onecycle", "cosine"]), default=None, show_default="cosine, or the preset's")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto")
@click.option("--device", default="auto")
@click.option("--workers", "--jobs", "jobs", type=click.IntRange(min=1), default=1, help="Cells trained at once on this machine, in separate processes sharing the cores (cores / W threads each).")
@click.option("--shard", default=None, callback=_shard, metavar="K/N", help="Train only the K-th of N disjoint slices of the cells (workers on several machines sharing the study folder); cells another worker claimed are skipped.")
@click.option("--bootstrap", type=click.IntRange(min=100), default=None, metavar="N", show_default="1000", help="Bootstrap resamples over test items.")
@click.option("--shift", type=click.Choice(["f1", "macro_f1", "none"]), default="f1", help="Also score every condition as <condition>+shift: each chosen emotion's decision boundary moved by a bias chosen on the validation split to maximise that emotion's F1 (f1) or macro-F1; the shifted views of baseline and the rebalancing conditions compete for best rebalancing. none: as trained only.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/fergan-study", help="Folder of study folders.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None, metavar="STUDY_DIR", help="Run the unfinished cells of a study (its settings come from its study.json).")
@click.option("--report-only", type=click.Path(exists=True, file_okay=False), default=None, metavar="STUDY_DIR", help="Rebuild results.json, report.md and the figures from the finished cells; no training.")
@click.option("--reuse-cells", type=click.Path(exists=True, file_okay=False), multiple=True, metavar="STUDY_DIR", help="Copy, instead of training, each cell that this finished study ran as the same experiment (condition, seed, recipe, data and synthetic folder all equal); repeatable. With a new study or --resume.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help="Decoded-data cache folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
@user_errors
def study_command(ctx, **o) -> None:
    """Per-class augmentation study: train one recipe under each condition with the same
    seeds, compare on the same test split (and its leak-free view) with intervals over seeds
    and over test items, and say per chosen emotion whether synthetic faces helped, hurt or
    stayed within noise - against the baseline and against the best of class weights,
    oversampling and (when run) logit adjustment, as trained or with a decision boundary tuned
    on the validation split (--shift). Writes STUDY/study.json, cells/, results.json, report.md
    and PNGs."""
    from ferganaug.study import format_summary, load_study, run_study, write_report

    _check_study_options(ctx, o)
    if o["report_only"]:
        study_dir = Path(o["report_only"])
        results = write_report(study_dir, n_boot=o["bootstrap"])
    else:
        study_dir = _grow_study(o) if o["resume"] else _new_study(o)
        results = run_study(study_dir, jobs=o["jobs"], progress=not o["quiet"], n_boot=o["bootstrap"], shard=o["shard"],
                            argv=["fergan", *sys.argv[1:]], reuse_from=o["reuse_cells"])
    if results is None:
        from ferganaug.study.runner import missing_cells

        missing = missing_cells(study_dir, load_study(study_dir))
        click.echo(f"{len(missing)} cells are not finished yet (other shards, or claimed by another worker); when "
                   f"they are: fergan study --report-only {study_dir}", err=True)
    else:
        click.echo(format_summary(results))
    click.echo(str(study_dir))


def _check_study_options(ctx: click.Context, o: dict) -> None:
    """Refuse options that contradict each other, check the donor studies before any folder is
    made, and say which settings an existing study ignores."""
    from ferganaug.study import load_study

    if o["resume"] and o["report_only"]:
        raise click.UsageError("give --resume or --report-only, not both")
    if o["report_only"] and o["reuse_cells"]:
        raise click.UsageError("--reuse-cells copies cells to train fewer; --report-only trains none: give one")
    for donor in o["reuse_cells"]:
        load_study(donor)
    if o["seeds"] is not None and o["seed_list"] is not None:
        raise click.UsageError("give --seeds or --seed-list, not both")
    existing = o["resume"] or o["report_only"]
    if existing:
        seeds_to_add = ("seeds", "seed_list") if o["resume"] else ()
        given = [name for name in _STUDY_SETTINGS if name not in seeds_to_add
                 and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            click.echo(f"ignoring {', '.join('--' + n.replace('_', '-') for n in given)}: the study's settings come "
                       f"from {Path(existing) / 'study.json'}", err=True)


def _grow_study(o: dict) -> Path:
    """The study to resume, with the seeds --seeds or --seed-list add."""
    from ferganaug.study import add_seeds

    study_dir = Path(o["resume"])
    if o["seeds"] is not None or o["seed_list"] is not None:
        added = add_seeds(study_dir, o["seed_list"] or (), grow_to=o["seeds"])
        click.echo(f"seeds added: {', '.join(map(str, added))}" if added else
                   "every seed asked for is in the study already", err=True)
    return study_dir


def _new_study(o: dict) -> Path:
    """A new study folder planned from the options (budget: given, else the preset's, else defaults)."""
    from ferganaug.study import StudyConfig, create_study
    from ferganaug.study.config import BUDGET_FIELDS, study_budget

    config = StudyConfig(
        data=o["data"], conditions=o["conditions"], synthetic=o["synthetic"], emotions=tuple(o["emotions"]),
        amounts=tuple(a.label for a in o["amounts"]), seeds=o["seed_list"] or tuple(range(o["seeds"] or 3)),
        preset=o["preset"], **study_budget(o["preset"], {name: o[name] for name in BUDGET_FIELDS}),
        precision=o["precision"], device=o["device"], n_boot=o["bootstrap"] or 1000, cache_dir=o["cache_dir"],
        synthetic_share=o["synthetic_share"], real_finish_epochs=o["real_finish_epochs"],
        synthetic_weight=o["synthetic_weight"], shift=o["shift"],
    )
    study_dir = create_study(config, o["out"], argv=["fergan", *sys.argv[1:]])
    click.echo(f"study folder: {study_dir}", err=True)
    return study_dir


if __name__ == "__main__":
    main()
