"""Measuring a generator (layer 2): does an *independent* classifier see the target emotion,
and, on the built-in faces, how close is the edit to the true render of that person with
that expression?

The evaluator must not be the GAN's loss classifier: a generator can learn to fool the
classifier it was trained against, so only a different design and seed is evidence.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from classifiers.checkpoint import load_classifier
from classifiers.inference import predict_logits
from classifiers.metrics import classification_report
from classifiers.train import TrainConfig
from classifiers.workflow import DataOptions, run_training
from ferganaug.data.augment import to_model_input
from ferganaug.data.dataset import FaceDataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.utils.precision import NumericPath

log = logging.getLogger(__name__)

FP32 = NumericPath("fp32", False)
CPU = torch.device("cpu")


def train_evaluator(spec: str, out_dir: Path, model: str = "resnet-baseline", epochs: int = 12, seed: int = 1,
                    progress: bool = True) -> Path:
    """An evaluator classifier trained on the real training split only (another design and
    seed than the GAN's loss classifier)."""
    config = TrainConfig(model=model, epochs=epochs, seed=seed, scheduler="cosine")
    run_dir, _ = run_training(config, DataOptions(spec=spec), run_dir=out_dir, progress=progress)
    return run_dir / "model.pt"


@torch.no_grad()
def edit_faces(generator: torch.nn.Module, faces_uint8: torch.Tensor, emotion: str, batch_size: int = 512) -> torch.Tensor:
    """The generator's edit of every face to ``emotion`` (uint8 [N, 1, 48, 48])."""
    out = []
    for start in range(0, len(faces_uint8), batch_size):
        x = to_model_input(faces_uint8[start : start + batch_size])
        target = torch.full((len(x),), EMOTION_INDEX[emotion])
        edited, _ = generator(x, target)
        out.append(((edited.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return torch.cat(out)


def hit_rate(evaluator: torch.nn.Module, faces: torch.Tensor, emotion: str) -> float:
    """Share of faces the evaluator assigns to ``emotion``."""
    predictions = predict_logits(evaluator, faces, FP32, CPU).argmax(1)
    return float((predictions == EMOTION_INDEX[emotion]).double().mean())


def evaluate_generator(
    generator: torch.nn.Module,
    source_emotions: tuple[str, ...],
    data: FaceDataset,
    evaluator_checkpoint: str | Path,
    sources_split: str = "test",
) -> dict:
    """Per target emotion: hit rate of edits of ``sources_split`` source faces, the evaluator's
    recall on real ``test`` faces of that emotion, and (built-in data) pixel error against
    the ground-truth render next to the error of returning the source unchanged."""
    evaluator, artifact = load_classifier(evaluator_checkpoint, expected_class_names=EMOTIONS)
    split = data.split(sources_split)
    wanted = torch.tensor([EMOTION_INDEX[e] for e in source_emotions])
    sources = split.subset(torch.isin(split.labels, wanted))
    if len(sources) == 0:
        raise ValueError(f"no {'/'.join(source_emotions)} faces in the {sources_split} split to edit")
    test = data.split("test")
    real_report = classification_report(test.labels, predict_logits(evaluator, test.images, FP32, CPU), EMOTIONS)
    ground_truth = _builtin_counterparts(sources)
    per_emotion = {}
    for emotion in (e for e in EMOTIONS if e not in source_emotions):
        edited = edit_faces(generator, sources.images, emotion)
        row = {
            "hit_rate": hit_rate(evaluator, edited, emotion),
            "evaluator_recall_on_real": real_report["per_class"][emotion]["recall"],
            "real_support": real_report["per_class"][emotion]["support"],
            "pixel_change": float((edited.float() - sources.images.float()).abs().mean()),
        }
        if ground_truth is not None:
            truth = ground_truth(emotion)
            row["mae_vs_truth"] = float((edited.float() - truth.float()).abs().mean())
            row["mae_source_vs_truth"] = float((sources.images.float() - truth.float()).abs().mean())
        per_emotion[emotion] = row
    summary = {
        "mean_hit_rate": sum(r["hit_rate"] for r in per_emotion.values()) / len(per_emotion),
        "n_sources": len(sources),
        "sources_split": sources_split,
        "evaluator": {"checkpoint": str(evaluator_checkpoint), "model": artifact["model_name"],
                      "real_test_accuracy": real_report["accuracy"]},
    }
    if ground_truth is not None:
        mae = sum(r["mae_vs_truth"] for r in per_emotion.values()) / len(per_emotion)
        baseline = sum(r["mae_source_vs_truth"] for r in per_emotion.values()) / len(per_emotion)
        summary |= {"mae_vs_truth": mae, "mae_source_vs_truth": baseline,
                    "mae_reduction": 1 - mae / baseline if baseline else None}
    return {"per_emotion": per_emotion, "summary": summary}


def _builtin_counterparts(sources: FaceDataset):
    """A function emotion -> true renders of the same faces, for built-in data only."""
    if "nuisance_seeds" not in sources.info:
        return None
    from ferganaug.data.builtin import render_counterparts

    return lambda emotion: render_counterparts(sources, emotion)


def format_generator_report(report: dict) -> str:
    s = report["summary"]
    lines = [f"{'target':<10} {'hit rate':>9} {'evaluator recall (real)':>24} {'MAE vs truth':>13} {'MAE source':>11}"]
    for emotion, r in report["per_emotion"].items():
        truth = f"{r['mae_vs_truth']:>13.2f} {r['mae_source_vs_truth']:>11.2f}" if "mae_vs_truth" in r else ""
        lines.append(f"{emotion:<10} {r['hit_rate'] * 100:>8.1f}% {r['evaluator_recall_on_real'] * 100:>23.1f}% {truth}")
    lines.append(f"mean target hit rate {s['mean_hit_rate'] * 100:.1f}% over {s['n_sources']} {s['sources_split']} sources "
                 f"(evaluator {s['evaluator']['model']}, real test accuracy {s['evaluator']['real_test_accuracy'] * 100:.1f}%)")
    if s.get("mae_reduction") is not None:
        lines.append(f"pixel MAE vs ground truth {s['mae_vs_truth']:.2f} vs {s['mae_source_vs_truth']:.2f} for the "
                     f"unchanged source: {s['mae_reduction'] * 100:.1f}% lower")
    return "\n".join(lines)
