"""`fer-classify`: a thin click shell over the classifier library. Validates, builds a frozen
config, calls library code, prints where the results went."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import click

from classifiers.checkpoint import CheckpointError
from classifiers.registry import UnknownModelError, list_models, model_info
from ferganaug.data.errors import DataError
from ferganaug.engine.run_folder import RunFolderError
from ferganaug.emotions import UnknownEmotionError
from ferganaug.utils.cli import detector_option, friendly_errors
from ferganaug.utils.files import json_text

USER_ERRORS = (DataError, CheckpointError, UnknownModelError, UnknownEmotionError, FloatingPointError, RunFolderError)

user_errors = friendly_errors(USER_ERRORS, "a run can be continued with --resume RUN_DIR")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
def main(verbose: bool) -> None:
    """Facial expression classifiers: list, train, evaluate, predict, inspect data."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", stream=sys.stderr
    )


@main.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each design's provenance and recipe).")
def models_command(as_json: bool) -> None:
    """List the registered designs: family, study, parameters, input and the study's reported figure.

    The reported figure is the study's own claim, not a measurement of ours.
    """
    from classifiers.registry import model_entry

    infos = [model_info(name) for name in list_models()]
    if as_json:
        click.echo(json_text(infos))
        return
    click.echo(f"{'name':<18} {'family':<9} {'study':<5} {'params':>11}  {'input':<10} reported")
    for info in infos:
        spec = info["input_spec"]
        size = f"{spec['size']}x{spec['size']}x{spec['channels']}"
        reported = model_entry(info["name"]).provenance.headline()
        click.echo(
            f"{info['name']:<18} {info['family']:<9} {info['study']:<5} {info['params']:>11,}  {size:<10} {reported}"
        )


@main.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print each preset's resolved training config.")
@user_errors
def presets_command(as_json: bool) -> None:
    """List the committed training recipes (`fer-classify train --preset NAME`), one line each."""
    from classifiers.presets import list_presets, resolve_preset_config

    presets = list_presets()
    if as_json:
        click.echo(json_text({name: resolve_preset_config(name).to_dict() for name in presets}))
        return
    width = max(map(len, presets), default=0)
    for name, description in presets.items():
        click.echo(f"{name:<{width}}  {description}")


@main.command("data-info")
@click.argument("data", metavar="DATA")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--skip-bad", is_flag=True, help="Skip malformed rows and report how many.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help="Decoded-data cache folder.")
@user_errors
def data_info_command(data: str, as_json: bool, skip_bad: bool, cache_dir: str | None) -> None:
    """Counts per split and class, duplicates, conflicting labels, blanks and test leakage.

    DATA is a spec: builtin, a FER2013 .csv/.csv.gz, an image folder, a FER+ votes file,
    a path,label CSV or a synthetic folder.
    """
    from ferganaug.data.audit import audit_dataset, format_audit
    from ferganaug.data.spec import load_dataset

    report = audit_dataset(load_dataset(data, cache_dir=cache_dir, skip_bad=skip_bad))
    click.echo(json_text(report) if as_json else format_audit(report))


@main.command("train")
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec (see data-info).")
@click.option("--preset", default=None, metavar="NAME", help="Committed recipe (see `fer-classify presets`): a design and its training fields; the options given here go on top.")
@click.option("--model", type=click.Choice(list_models()), default=None, help="Registered design [default: the preset's, else deep-cnn].")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs [default: the design's recipe].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="[default: recipe]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate [default: recipe].")
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]), default=None, help="[default: recipe]")
@click.option("--momentum", type=click.FloatRange(0, 1), default=None, help="SGD momentum [default: recipe].")
@click.option("--nesterov/--no-nesterov", default=None, help="SGD Nesterov momentum [default: recipe].")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="[default: recipe]")
@click.option("--scheduler", type=click.Choice(["none", "plateau", "onecycle", "cosine"]), default=None, help="[default: recipe]")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True), default=None, help="[default: recipe]")
@click.option("--class-weights", default=None, metavar="none|inverse|effective|W1,..,W7", help="Loss weights [default: recipe].")
@click.option("--balanced-sampler", is_flag=True, help="Draw batches class-balanced (oversampling).")
@click.option("--sync-bn", is_flag=True, help="Under torchrun on GPUs: BatchNorm statistics over the global batch (SyncBatchNorm) instead of each rank's shard.")
@click.option("--augment", type=click.Choice(["none", "light", "standard", "strong"]), default=None, help="Augmentation preset [default: recipe].")
@click.option("--early-stopping", type=click.IntRange(min=1), default=None, metavar="PATIENCE", help="Stop after PATIENCE epochs without improvement; best weights are restored [default: recipe].")
@click.option("--monitor", type=click.Choice(["val_acc", "val_loss", "val_macro_f1"]), default=None, help="What best/early stopping watch [default: val_acc].")
@click.option("--freeze-epochs", type=click.IntRange(min=0), default=None, help="Epochs with the pretrained backbone frozen [default: recipe].")
@click.option("--input-size", type=click.IntRange(min=32), default=None, help="Input size for 224-px designs (e.g. 112 on CPU).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None, help="ImageNet state dict for transfer designs.")
@click.option("--augment-with", type=click.Path(exists=True, file_okay=False), default=None, metavar="DIR", help="Synthetic folder added to the training split only.")
@click.option("--augment-cap", type=click.IntRange(min=1), default=None, help="At most this many synthetic faces per emotion.")
@click.option("--augment-ratio", type=click.FloatRange(min=0, min_open=True), default=None, help="At most RATIO x the real training count per emotion.")
@click.option("--augment-emotions", default=None, metavar="LIST", help="Only these emotions' synthetic faces are added (comma-separated) [default: all].")
@click.option("--augment-weight", type=click.FloatRange(min=0), default=None, metavar="W", show_default="1.0", help="Factor on each synthetic face's loss term (real faces weigh 1; 0 = synthetic faces add no gradient).")
@click.option("--seed", type=int, default=None, help="Seed for weights, sampling and augmentation [default: 0].")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", help="auto measures the candidates and keeps the fastest.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--out", "runs_root", type=click.Path(file_okay=False), default="runs/fer-classify", help="Folder of run folders.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False), default=None, metavar="RUN_DIR", help="Continue an interrupted run (all other options come from its config.json).")
@click.option("--skip-bad", is_flag=True, help="Skip malformed data rows and report how many.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None, help="Decoded-data cache folder.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Any training-config field, e.g. --set monitor=val_macro_f1 --set eval_batch_size=256 (applied last; the keys are those of config.json's 'train').")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@user_errors
def train_command(**opts) -> None:
    """Train a classifier, then evaluate it on the test split.

    Options left unset take the preset's recipe (--preset, see `fer-classify presets`),
    else the design's study recipe (see `fer-classify models`).
    Writes a run folder with config.json, stats.jsonl, curves.png, confusion.png,
    checkpoints/ and model.pt.
    """
    from classifiers.metrics import format_report
    from classifiers.workflow import resume_training, run_training
    from ferganaug.engine.distributed import is_main_process

    progress = not opts["quiet"]
    if opts["resume"]:
        run_dir, report = resume_training(opts["resume"], progress=progress)
    else:
        config = _train_config(opts)
        options = _data_options(opts)
        if config.synthetic_share is not None and not options.augment_with:
            raise click.UsageError("--set synthetic_share needs --augment-with DIR: it is the share of synthetic "
                                   "faces in each emotion's draws")
        if config.real_finish_epochs and not options.augment_with:
            raise click.UsageError("--set real_finish_epochs needs --augment-with DIR: the finish leaves out the "
                                   "synthetic faces the earlier epochs drew")
        run_dir, report = run_training(config, options, opts["runs_root"], progress=progress,
                                       argv=["fer-classify", *sys.argv[1:]])
    if not is_main_process():
        return  # under torchrun, rank 0 alone reports
    if report:
        click.echo(format_report(report))
    click.echo(str(run_dir))


# Options that choose a training-config field; unset ones keep the design's recipe.
_RECIPE_OPTIONS = ("optimizer", "lr", "weight_decay", "momentum", "nesterov", "scheduler", "epochs", "batch_size",
                   "label_smoothing", "class_weights", "augment", "early_stopping", "freeze_epochs")


def _train_config(opts: dict):
    from classifiers.presets import preset_train_table
    from classifiers.train_config import resolve_train_config
    from ferganaug.data.imbalance import parse_class_weights
    from ferganaug.engine.config import ConfigError, parse_assignment

    choices = {name: opts[name] for name in _RECIPE_OPTIONS if opts.get(name) is not None}
    if "class_weights" in choices:
        try:
            choices["class_weights"] = parse_class_weights(choices["class_weights"])
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--class-weights") from None
    if isinstance(choices.get("class_weights"), list):
        choices["class_weights"] = tuple(choices["class_weights"])
    if opts["sync_bn"]:
        from ferganaug.utils.hardware import resolve_device

        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and resolve_device(opts["device"]).type != "cuda":
            raise click.UsageError("--sync-bn needs GPUs: torch's SyncBatchNorm runs on CUDA only (on CPU each "
                                   "rank keeps BatchNorm statistics over its own shard)")
        choices["sync_batchnorm"] = True
    if opts["balanced_sampler"]:
        choices["balanced_sampler"] = True
    choices |= {name: opts[name] for name in ("monitor", "seed") if opts[name] is not None}
    choices |= {"precision": opts["precision"], "device": opts["device"], "weights": opts["weights"]}
    try:
        # The preset's fields first (a --model replaces its design), the options given here on top.
        base = preset_train_table(opts["preset"]) if opts["preset"] else {"model": "deep-cnn"}
        model = opts["model"] or base.pop("model")
        base.pop("model", None)
        if opts["input_size"]:
            choices["model_kwargs"] = dict(base.get("model_kwargs", {})) | {"input_size": opts["input_size"]}
        choices = base | choices
        for text in opts["assignments"]:
            key, value = parse_assignment(text)
            choices[key] = value
        return resolve_train_config(model, choices, "fer-classify train")
    except (ConfigError, ValueError) as err:
        raise click.UsageError(str(err)) from None


def _data_options(opts: dict):
    from classifiers.workflow import DataOptions
    from ferganaug.emotions import parse_emotions

    emotions = opts.get("augment_emotions")
    weight = opts.get("augment_weight")
    if weight is not None and not opts["augment_with"]:
        raise click.UsageError("--augment-weight needs --augment-with DIR: it weighs the synthetic faces in the loss")
    if weight is not None and not math.isfinite(weight):
        raise click.BadParameter(f"{weight} is not a finite number", param_hint="--augment-weight")
    return DataOptions(
        spec=opts["data"], augment_with=opts["augment_with"], augment_cap=opts["augment_cap"],
        augment_ratio=opts["augment_ratio"], skip_bad=opts["skip_bad"], cache_dir=opts["cache_dir"],
        augment_emotions=tuple(parse_emotions(emotions)) if emotions else None,
        augment_weight=1.0 if weight is None else weight,
    )


@main.command("evaluate")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test",
              help="Split to report on; data that names no splits (DIR/<emotion>/*) is read whole.")
@click.option("--tta", type=click.Choice(["none", "flip", "ten-crop"]), default="none", help="Test-time augmentation.")
@click.option("--batch-size", type=click.IntRange(min=1), default=128)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto")
@click.option("--device", default="auto")
@click.option("--no-latency", is_flag=True, help="Skip the latency measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
@click.option("--detect", is_flag=True, help="The image folder holds uncropped photos: detect and align each one's largest face first (same as the spec DIR,detect=DETECTOR).")
@detector_option
@user_errors
def evaluate_command(checkpoint, data, split, tta, batch_size, precision, device, no_latency, as_json, cache_dir,
                     detect, detector) -> None:
    """Accuracy, per-class P/R/F1, macro-F1, AUC, confusion, leak-free accuracy, latency."""
    from classifiers.metrics import format_report
    from classifiers.workflow import evaluate_checkpoint

    if detect:
        from ferganaug.data.spec import parse_spec

        parsed = parse_spec(data)
        if parsed.kind not in (None, "folder") or not os.path.isdir(parsed.target):
            raise click.BadParameter(f"--detect reads a folder of labelled photos; {data!r} is not one", param_hint="--data")
        data = f"{data},detect={detector}"
    report = evaluate_checkpoint(
        checkpoint, data, split, tta, precision, device, batch_size, latency=not no_latency, cache_dir=cache_dir
    )
    if as_json:
        click.echo(json_text(report))
        return
    click.echo(f"{report['model']} on {_evaluated_rows(report)}")
    if "decision_bias" in report:
        moved = report["decision_bias"]
        biases = dict(zip(report["class_names"], moved["biases"]))
        click.echo("decision boundaries moved by fer-classify shift: " + ", ".join(
            f"{e} {biases[e]:+.2f}" for e in moved["emotions"]) + f" (chosen on {moved['split']})")
    if report.get("no_face") is not None:
        click.echo(f"{report['no_face']} images had no face ({report['detector']} detector) and are not counted")
    click.echo(format_report(report))
    if "latency" in report:
        lat = report["latency"]
        click.echo(
            f"inference ({lat['numeric_path']}): {lat['batched']['faces_per_s']:.0f} faces/s at batch "
            f"{lat['batch_size']}, {lat['single']['ms_per_face']:.2f} ms for a single face"
        )


@main.command("shift")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--data", default="builtin", metavar="SPEC", help="Dataset spec whose validation split chooses the biases (the model's training data).")
@click.option("--emotion", "emotions", multiple=True, required=True, help="An emotion whose boundary to move; repeat for more (tuned in the order given).")
@click.option("--objective", type=click.Choice(["f1", "macro_f1"]), default="f1", help="What each bias maximises on the validation split: the emotion's F1 or macro-F1.")
@click.option("--tta", type=click.Choice(["none", "flip", "ten-crop"]), default="none", help="Test-time augmentation of the validation predictions (predict and video use none).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="The shifted checkpoint.  [default: <checkpoint>-shifted.pt beside it]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None)
@user_errors
def shift_command(checkpoint, data, emotions, objective, tta, out, as_json, cache_dir) -> None:
    """Move rare emotions' decision boundaries, chosen on the validation split, into a new checkpoint.

    Each --emotion's log-probability gets the bias that maximises its F1 on the validation split
    of --data (as `fergan study`'s +shift views); evaluate, predict and video apply it. The test
    split chooses nothing. Oversampling and a shifted boundary is the best plain rebalancing measured
    on FER2013: fer-classify train --balanced-sampler, then fer-classify shift RUN --emotion disgust.
    """
    from classifiers.boundary import shift_checkpoint

    result = shift_checkpoint(checkpoint, data, emotions, out, objective, tta, cache_dir)
    if as_json:
        click.echo(json_text(result))
        return
    click.echo(f"validation: {result['split']} of {data} ({result['n_val']} faces), objective {objective}")
    for emotion, row in result["per_emotion"].items():
        click.echo(f"  {emotion}: bias {row['bias']:+.2f}, F1 {row['f1_before']:.1%} -> {row['f1_after']:.1%}")
    click.echo(f"  macro-F1 {result['macro_f1']['before']:.1%} -> {result['macro_f1']['after']:.1%}")
    click.echo(result["out"])


def _evaluated_rows(report: dict) -> str:
    """Which rows an evaluate report covers, in words."""
    from classifiers.workflow import ALL_ROWS

    if report["split"] == ALL_ROWS:
        return f"all {report['n']} faces of {report['data']} (the data names no splits)"
    return f"the {report['split']} split of {report['data']} ({report['n']} faces)"


@main.command("predict")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@detector_option
@click.option("--no-detect", is_flag=True, help="Take each image as one pre-cropped face (converted to 48x48 grey).")
@click.option("--annotate", type=click.Path(file_okay=False), default=None, metavar="DIR", help="Write each image with its faces boxed and labelled here (<name>_annotated.jpg).")
@click.option("--skip-bad", is_flag=True, help="An unreadable image becomes a record with status 'unreadable' instead of an error.")
@user_errors
def predict_command(checkpoint, images, fmt, output, detector, no_detect, annotate, skip_bad) -> None:
    """Emotion probabilities for every face in image files: each image's faces are detected,
    aligned and classified (--no-detect: the whole image is one face).

    One record per face, schema 2 (see classifiers/predict.py): path, face index, status
    (ok, no_face, unreadable), box [x, y, w, h], landmarks, detector_score, emotion,
    confidence, probabilities. An image with no face gives one record with status no_face.
    CSV: path,face,status,box_x,box_y,box_w,box_h,detector_score,emotion,confidence,p_<emotion>...,<landmark>_x/_y...
    """
    from classifiers.predict import predict_files, to_csv, to_json
    from ferganaug.faces.detect import create_detector
    from ferganaug.utils.files import atomic_write_text, check_writable, fresh_output_paths

    paths = [Path(p) for p in images]
    if annotate and no_detect:
        raise click.UsageError("--annotate draws detected faces; it cannot be combined with --no-detect")
    annotated = None
    if annotate:
        check_writable(annotate)
        annotated = fresh_output_paths(paths, Path(annotate), "annotated", ".jpg", "fer-classify predict")
    found = None if no_detect else create_detector(detector)
    result = predict_files(checkpoint, paths, found, annotated, skip_bad)
    text = to_json(result) if fmt == "json" else to_csv(result)
    if output:
        atomic_write_text(output, text)
        click.echo(output)
    else:
        click.echo(text, nl=False)
    if annotated:
        click.echo(f"annotated images: {annotate}", err=True)


@main.command("video")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.argument("video", required=False, metavar="[INPUT]")
@click.option("--webcam", type=click.IntRange(min=0), default=None, metavar="N", help="Read camera N instead of a file (stop with --max-frames or Ctrl-C).")
@click.option("--records", type=click.Path(dir_okay=False), default=None, metavar="FILE", help="Per-face, per-frame records: FILE.csv or FILE.jsonl (schema 1, columns above).")
@click.option("--annotate-out", type=click.Path(dir_okay=False), default=None, metavar="FILE.mp4", help="The video with each face's box and 'id emotion p' (mp4v).")
@detector_option
@click.option("--detect-every", type=click.IntRange(min=1), default=6, metavar="K", help="Detect on one frame in K and track in between (1: detect on every frame).")
@click.option("--tracker", type=click.Choice(["kcf", "csrt"]), default="kcf", help="Tracker between detections (csrt: steadier, several times slower).")
@click.option("--min-face", type=click.IntRange(min=20), default=80, metavar="PX", help="Smallest face to find, in frame pixels; detection and tracking run on frames shrunk until it is 40 px, so larger is faster.")
@click.option("--smooth", type=click.FloatRange(0, 1, max_open=True), default=0.0, metavar="ALPHA", help="Exponential moving average of each track's probabilities (weight of the past; 0: off).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, metavar="N", help="Stop after N frames.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def video_command(checkpoint, video, webcam, records, annotate_out, detector, detect_every, tracker, min_face, smooth,
                  max_frames, quiet) -> None:
    """Emotions of the faces in a video file INPUT or a webcam, frame by frame.

    Detects faces every K frames and tracks them in between, classifies each frame's faces in
    one batch, and writes --records and/or --annotate-out. Records (schema 1), one row per face
    per frame: frame, time_s, track_id, x, y, w, h (box, frame pixels), emotion, confidence,
    p_<emotion>... A frame with no face writes no CSV row and one JSONL row with a null
    track_id. Ends by printing the frames per second of the whole loop and the files written.
    """
    from classifiers.video import VideoOptions, run_video

    if (video is None) == (webcam is None):
        raise click.UsageError("give a video file INPUT or --webcam N (one of the two)")
    options = VideoOptions(checkpoint=checkpoint, video=video, webcam=webcam, records=records,
                           annotate_out=annotate_out, detector=detector, detect_every=detect_every, tracker=tracker,
                           smooth=smooth, min_face=min_face, max_frames=max_frames)
    summary = run_video(options, progress=not quiet)
    if summary.note:
        click.echo(f"warning: {summary.note}", err=True)
    click.echo(f"{summary.frames} frames ({summary.frames_with_faces} with faces, {summary.tracks} tracks, "
               f"{summary.faces} faces classified) in {summary.seconds:.1f} s: {summary.fps:.1f} frames/s "
               "(the whole loop: decode, detection, tracking, classification, writing)", err=True)
    for path in summary.outputs:
        click.echo(path)


@main.command("benchmark")
@click.option("--data", required=True, metavar="SPEC", help="Dataset spec with train, val and test splits (e.g. fer2013.csv.gz).")
@click.option("--budget-minutes", type=click.FloatRange(min=0, min_open=True), default=10.0, help="Training time per design; the epochs that fit are planned from a measured step rate.")
@click.option("--models", default="all", metavar="LIST", help="Comma-separated designs, or all (registry order).")
@click.option("--input-size", type=click.IntRange(min=32), default=112, help="Input size for designs built for 224-pixel input.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None, help="At most this many epochs per design (a quick look) [default: the recipe's].")
@click.option("--seed", type=int, default=0)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto")
@click.option("--out", type=click.Path(file_okay=False), default="runs/zoo", help="Benchmark folder; the same command again continues it.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@user_errors
def benchmark_command(data, budget_minutes, models, input_size, max_epochs, seed, precision, out, quiet) -> None:
    """Train every design with its study recipe under a time budget and measure it: one table
    (OUT/zoo.md) of parameters, input size, epochs, wall time, test accuracy, leak-free accuracy,
    macro-F1, per-class recall, inference faces/s and the figure its study reported. Resumable
    design by design."""
    from classifiers.zoo import ZooOptions, benchmark_zoo, zoo_table

    names = list_models() if models == "all" else [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in list_models()]
    if unknown or not names:
        raise click.BadParameter(f"unknown design {unknown[0] if unknown else models!r}; designs: {', '.join(list_models())}",
                                 param_hint="--models")
    options = ZooOptions(data=data, budget_minutes=budget_minutes, models=tuple(names), input_size=input_size,
                         seed=seed, precision=precision, max_epochs=max_epochs)
    results = benchmark_zoo(options, out, progress=not quiet, argv=["fer-classify", *sys.argv[1:]])
    click.echo(zoo_table(results, options), err=True)
    click.echo(str(Path(out) / "zoo.md"))


if __name__ == "__main__":
    main()
