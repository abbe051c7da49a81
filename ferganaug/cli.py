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
from ferganaug.gan.networks import DECODERS
from ferganaug.gan.train import REAL_CONFIDENCE, DivergenceError, GANConfig
from ferganaug.utils.checkpoints import CheckpointError
from ferganaug.utils.cli import friendly_errors

_DEFAULTS = GANConfig()
USER_ERRORS = (DataError, CheckpointError, UnknownEmotionError, ClassOrderError, DivergenceError)


user_errors = friendly_errors(USER_ERRORS, "nothing written is half-finished: re-run (or --resume RUN_DIR) to continue")


def _emotions(ctx, param, value):
    try:
        return parse_emotions(value)
    except UnknownEmotionError as err:
        raise click.BadParameter(str(err)) from None


def _confidence(ctx, param, value: str) -> float | str:
    if value.strip().lower() == REAL_CONFIDENCE:
        return REAL_CONFIDENCE
    try:
        p = float(value)
    except ValueError:
        p = -1.0
    if not 0 <= p < 1:
        raise click.BadParameter(f"expected a probability in [0, 1) or '{REAL_CONFIDENCE}', got '{value}'")
    return p


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
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec (training split is used).")
@click.option("--steps", type=click.IntRange(min=1), default=_DEFAULTS.steps)
@click.option("--batch-size", type=click.IntRange(min=2), default=_DEFAULTS.batch_size)
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), default=_DEFAULTS.lr_g)
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), default=_DEFAULTS.lr_d, help="Two time-scale: D learns faster.")
@click.option("--w-adv", type=click.FloatRange(min=0), default=_DEFAULTS.w_adv, help="LSGAN adversarial weight.")
@click.option("--w-fm", type=click.FloatRange(min=0), default=_DEFAULTS.w_fm, help="Discriminator feature-matching weight.")
@click.option("--w-expr", type=click.FloatRange(min=0), default=_DEFAULTS.w_expr, help="Frozen-classifier expression weight.")
@click.option("--w-cycle", type=click.FloatRange(min=0), default=_DEFAULTS.w_cycle, help="Cycle reconstruction weight.")
@click.option("--w-id", type=click.FloatRange(min=0), default=_DEFAULTS.w_id, help="Identity (target = source) weight.")
@click.option("--w-mask", type=click.FloatRange(min=0), default=_DEFAULTS.w_mask, help="Attention-mask regularisation weight.")
@click.option("--w-r1", type=click.FloatRange(min=0), default=_DEFAULTS.w_r1, help="R1 gradient penalty weight (0 = off).")
@click.option("--w-change", type=click.FloatRange(min=0), default=_DEFAULTS.w_change, help="L1 between edit and source: prefer the smallest edit.")
@click.option("--expr-confidence", callback=_confidence, default=str(_DEFAULTS.expr_confidence), metavar="P|real", help="Expression loss stops once the classifier gives the target this probability (0 = plain cross-entropy); 'real': per emotion, its median confidence in real training faces of that emotion.")
@click.option("--expr-blur", type=click.FloatRange(min=0), default=_DEFAULTS.expr_blur, help="Gaussian sigma (pixels) of the loss classifier's view of a fake: pixel-level stripes stop paying (0 = off).")
@click.option("--w-smooth", type=click.FloatRange(min=0), default=_DEFAULTS.w_smooth, help="Total-variation weight on the edit's change of the source.")
@click.option("--d-augment/--no-d-augment", default=_DEFAULTS.d_augment, help="Discriminator judges randomly shifted/rotated/mirrored views (DiffAugment); off by default: with them it could not tell edits from real faces (docs/gan-experiments.md).")
@click.option("--ema-decay", type=click.FloatRange(0, 1), default=_DEFAULTS.ema_decay)
@click.option("--condition", type=click.Choice(["label", "reference"]), default="label", help="Target emotion label, or a reference face (study A's mode).")
@click.option("--colour", type=click.Choice(["residual", "absolute"]), default=_DEFAULTS.colour, help="Generator paints a change of the source (residual) or new pixels (absolute, GANimation).")
@click.option("--warp/--no-warp", default=_DEFAULTS.warp, help="Generator may also move the source's features (a smooth displacement field of at most 3 pixels); off by default: it resamples the sensor noise too (docs/gan-experiments.md).")
@click.option("--source-emotions", default="neutral", metavar="LIST", help="Emotions whose faces are edited.")
@click.option("--expr-classifier", type=click.Path(exists=True), default=None, metavar="CKPT", help="fer-classify checkpoint; trained here first when omitted.")
@click.option("--classifier-epochs", type=click.IntRange(min=1), default=12, help="Epochs for the automatic expression classifier (deep-cnn, strong augmentation, class-balanced batches).")
@click.option("--sample-every", type=click.IntRange(min=1), default=_DEFAULTS.sample_every)
@click.option("--g-width", type=click.IntRange(min=4), default=_DEFAULTS.g_width, help="Generator base width.")
@click.option("--g-res-blocks", type=click.IntRange(min=1), default=_DEFAULTS.g_res_blocks)
@click.option("--g-decoder", type=click.Choice(DECODERS), default=_DEFAULTS.g_decoder, help="Generator upsampling: sub-pixel convolutions (shuffle, faster) or nearest upsampling (upsample, runs before 2026-11-24).")
@click.option("--d-width", type=click.IntRange(min=4), default=_DEFAULTS.d_width, help="Discriminator base width.")
@click.option("--seed", type=int, default=0)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto")
@click.option("--device", default="auto")
@click.option("--out", "runs_root", type=click.Path(file_okay=False), default="runs/fergan")
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None, metavar="RUN_DIR")
@click.option("--quiet", is_flag=True)
@user_errors
def train_command(**o) -> None:
    """Train the GAN (and, first, its frozen expression classifier if none is given)."""
    from ferganaug.pipeline import resume_gan, train_gan

    if o["resume"]:
        run_dir = resume_gan(o["resume"], progress=not o["quiet"])
    else:
        sources = tuple(_emotions(None, None, o["source_emotions"]))
        config = GANConfig(
            steps=o["steps"], batch_size=o["batch_size"], lr_g=o["lr_g"], lr_d=o["lr_d"], w_adv=o["w_adv"],
            w_fm=o["w_fm"], w_expr=o["w_expr"], w_cycle=o["w_cycle"], w_id=o["w_id"], w_mask=o["w_mask"],
            w_r1=o["w_r1"], w_change=o["w_change"], expr_confidence=o["expr_confidence"], d_augment=o["d_augment"],
            expr_blur=o["expr_blur"], w_smooth=o["w_smooth"],
            ema_decay=o["ema_decay"], condition=o["condition"], colour=o["colour"], warp=o["warp"],
            source_emotions=sources,
            sample_every=o["sample_every"], checkpoint_every=o["sample_every"], seed=o["seed"],
            g_width=o["g_width"], g_res_blocks=o["g_res_blocks"], g_decoder=o["g_decoder"], d_width=o["d_width"],
            precision=o["precision"], device=o["device"],
        )
        try:
            run_dir = train_gan(config, o["data"], o["runs_root"], o["expr_classifier"], o["classifier_epochs"],
                                progress=not o["quiet"])
        except ValueError as err:
            if isinstance(err, USER_ERRORS):
                raise
            raise click.ClickException(str(err)) from None
    click.echo(str(run_dir))


@main.command("synthesize")
@click.option("--emotion", "emotions", default="disgust", callback=_emotions, metavar="LIST", help=f"One or more of {', '.join(EMOTIONS)} (comma-separated), or all.")
@click.option("--n", type=click.IntRange(min=1), default=1000, help="Faces per emotion.")
@click.option("--generator", type=click.Path(exists=True), required=True, help="fergan train run folder or generator.pt.")
@click.option("--sources", default=None, metavar="SPEC", help="Source faces [default: the generator's training data].")
@click.option("--out", type=click.Path(file_okay=False), default="synthetic")
@click.option("--seed", type=int, default=0)
@click.option("--quiet", is_flag=True)
@user_errors
def synthesize_command(emotions, n, generator, sources, out, seed, quiet) -> None:
    """Write OUT/<emotion>/<NNNNNN>.png and OUT/manifest.jsonl; a re-run continues."""
    from ferganaug.synth import synthesize

    summary = synthesize(generator, emotions, n, out, sources, seed, progress=not quiet)
    for emotion, count in summary["written"].items():
        click.echo(f"{emotion}: {count} written, {summary['already_there'][emotion]} already there", err=True)
    click.echo(summary["out"])


@main.command("transfer")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--generator", type=click.Path(exists=True), required=True)
@click.option("--emotion", default=None, callback=_emotion, help="Target emotion; omitted: a grid of all.")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=None, help="Reference face (reference-conditioned generators).")
@click.option("--out", type=click.Path(file_okay=False), default="transfer")
@user_errors
def transfer_command(images, generator, emotion, reference, out) -> None:
    """Apply a generator to your own face images (any size; converted to 48x48 grey)."""
    from ferganaug.synth import transfer

    for path in transfer(generator, [Path(p) for p in images], out, emotion, Path(reference) if reference else None):
        click.echo(str(path))


@main.command("evaluate")
@click.argument("target", metavar="RUN_OR_SYNTHETIC_DIR", type=click.Path(exists=True))
@click.option("--data", default=None, metavar="SPEC", help="Real faces to compare with (needs a test split) [default: the generator's training data, or the synthetic folder's source data]")
@click.option("--evaluator", type=click.Path(exists=True), default=None, metavar="CKPT", help="Independent classifier; trained on the real training split when omitted.")
@click.option("--evaluator-model", default="resnet-baseline", help="Design of the automatic evaluator (not the loss classifier's).")
@click.option("--evaluator-epochs", type=click.IntRange(min=1), default=12)
@click.option("--evaluator-seed", type=int, default=1)
@click.option("--evaluator-sampler", type=click.Choice(["balanced", "natural"]), default="balanced", help="Automatic evaluator's batches: class-balanced, or the data's own class frequencies (evaluators before 2026-11-24).")
@click.option("--sources-split", type=click.Choice(["train", "val", "test"]), default="test", help="Split whose source faces a generator edits.")
@click.option("--n-per-emotion", type=click.IntRange(min=2), default=2000, help="Faces per emotion to edit or use (a seeded subsample when there are more).")
@click.option("--seed", type=int, default=0, help="Seed of the subsamples and KID subsets.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@user_errors
def evaluate_command(target, data, evaluator, evaluator_model, evaluator_epochs, evaluator_seed, evaluator_sampler, sources_split,
                     n_per_emotion, seed, as_json, quiet) -> None:
    """Measure a fergan train run (its generator edits real source faces) or a synthetic folder
    written by fergan synthesize, per target emotion: hit rate by an independent evaluator beside
    its recall on real faces, KID/FID against real test faces beside the real-train floor, and
    change from the source face (on the built-in faces: error against the true render).
    Writes metrics.json and metrics.png into the run or synthetic folder, and for a generator on
    the built-in faces changes.png (the change drawn beside the true change)."""
    import json

    from ferganaug.evaluate import CHANGES_PNG, evaluate_path, format_generator_report

    report, json_path, png_path = evaluate_path(
        target, data=data, evaluator=evaluator, evaluator_model=evaluator_model, evaluator_epochs=evaluator_epochs,
        evaluator_seed=evaluator_seed, evaluator_sampler=evaluator_sampler, sources_split=sources_split, n_per_emotion=n_per_emotion, seed=seed,
        progress=not quiet,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_generator_report(report))
        click.echo(f"sheet: {png_path}")
        changes = png_path.parent / CHANGES_PNG
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


def _study_model(ctx, param, value):
    from classifiers.registry import list_models

    if value not in list_models():
        raise click.BadParameter(f"unknown model '{value}'; expected one of {', '.join(list_models())}")
    return value


# Options that define a study; with --resume or --report-only they come from study.json instead.
_STUDY_SETTINGS = ("data", "conditions", "synthetic", "emotions", "amounts", "seeds", "seed_list", "model", "epochs",
                   "batch_size", "augment", "scheduler", "precision", "device", "out", "cache_dir")


@main.command("study")
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec; every condition is scored on its test split.")
@click.option("--conditions", default="all", callback=_study_option("parse_conditions"), metavar="LIST", help="Comma-separated: baseline, class-weights, oversample, synthetic, synthetic+class-weights, or all.")
@click.option("--synthetic", type=click.Path(exists=True, file_okay=False), default=None, metavar="DIR", help="Folder written by fergan synthesize from the training split of --data (needed by the synthetic conditions).")
@click.option("--emotions", default="disgust", callback=_emotions, metavar="LIST", help="Emotions whose synthetic faces are added.")
@click.option("--amounts", default="median", callback=_study_option("parse_amounts"), metavar="LIST", help="Synthetic faces per chosen emotion, one condition group each: median (top up to the median real class count), xK (grow the class K-fold, e.g. x2) or a number.")
@click.option("--seeds", type=click.IntRange(min=1), default=None, metavar="N", show_default="3", help="Train every condition with seeds 0..N-1 (the same seeds for all: paired).")
@click.option("--seed-list", default=None, callback=_seed_list, metavar="LIST", help="Explicit seeds instead of --seeds, e.g. 3,5,7.")
@click.option("--model", default="deep-cnn", callback=_study_model, help="Registered classifier design (fer-classify models); its recipe gives optimiser and learning rate.")
@click.option("--epochs", type=click.IntRange(min=1), default=10)
@click.option("--batch-size", type=click.IntRange(min=1), default=64)
@click.option("--augment", type=click.Choice(["none", "light", "standard", "strong"]), default="standard", help="Augmentation preset.")
@click.option("--scheduler", type=click.Choice(["none", "plateau", "onecycle", "cosine"]), default="cosine")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto")
@click.option("--device", default="auto")
@click.option("--jobs", type=click.IntRange(min=1), default=1, help="Cells trained at once, in separate processes sharing the cores.")
@click.option("--bootstrap", type=click.IntRange(min=100), default=None, metavar="N", show_default="1000", help="Bootstrap resamples over test items.")
@click.option("--out", type=click.Path(file_okay=False), default="runs/fergan-study", help="Folder of study folders.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None, metavar="STUDY_DIR", help="Run the unfinished cells of a study (its settings come from its study.json).")
@click.option("--report-only", type=click.Path(exists=True, file_okay=False), default=None, metavar="STUDY_DIR", help="Rebuild results.json, report.md and the figures from the finished cells; no training.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help="Decoded-data cache folder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
@user_errors
def study_command(ctx, **o) -> None:
    """Per-class augmentation study: train one recipe under each condition with the same
    seeds, compare on the same test split (and its leak-free view) with intervals over seeds
    and over test items, and say per chosen emotion whether synthetic faces helped, hurt or
    stayed within noise - against the baseline and against the better of class weights and
    oversampling. Writes STUDY/study.json, cells/, results.json, report.md and PNGs."""
    from ferganaug.study import StudyConfig, create_study, format_summary, run_study, write_report

    if o["resume"] and o["report_only"]:
        raise click.UsageError("give --resume or --report-only, not both")
    existing = o["resume"] or o["report_only"]
    if existing:
        given = [name for name in _STUDY_SETTINGS
                 if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            click.echo(f"ignoring {', '.join('--' + n.replace('_', '-') for n in given)}: the study's settings come "
                       f"from {Path(existing) / 'study.json'}", err=True)
    if o["report_only"]:
        study_dir = Path(o["report_only"])
        results = write_report(study_dir, n_boot=o["bootstrap"])
    else:
        if o["resume"]:
            study_dir = Path(o["resume"])
        else:
            if o["seeds"] is not None and o["seed_list"] is not None:
                raise click.UsageError("give --seeds or --seed-list, not both")
            config = StudyConfig(
                data=o["data"], conditions=o["conditions"], synthetic=o["synthetic"], emotions=tuple(o["emotions"]),
                amounts=tuple(a.label for a in o["amounts"]),
                seeds=o["seed_list"] or tuple(range(o["seeds"] or 3)), model=o["model"], epochs=o["epochs"],
                batch_size=o["batch_size"], augment=o["augment"], scheduler=o["scheduler"],
                precision=o["precision"], device=o["device"], n_boot=o["bootstrap"] or 1000, cache_dir=o["cache_dir"],
            )
            study_dir = create_study(config, o["out"], argv=["fergan", *sys.argv[1:]])
            click.echo(f"study folder: {study_dir}", err=True)
        results = run_study(study_dir, jobs=o["jobs"], progress=not o["quiet"], n_boot=o["bootstrap"])
    click.echo(format_summary(results))
    click.echo(str(study_dir))


if __name__ == "__main__":
    main()
