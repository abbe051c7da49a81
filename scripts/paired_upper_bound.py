#!/usr/bin/env python
"""What the default generator reaches when it is told the answer: paired training on built-in faces.

    python scripts/paired_upper_bound.py --out runs/paired      # -> runs/paired/00000-paired-builtin
    fergan evaluate runs/paired/00000-paired-builtin --data builtin --evaluator E.pt
    python scripts/paired_upper_bound.py --out runs/paired-expr --precision bf16 \
        --w-expr 1 --expr-classifier runs/fergan/00000-gan-builtin/expression-classifier/model.pt

`fergan train` never sees a neutral face and the same person's expression together: real data
(FER2013) has no such pairs. The built-in renderer does, so this diagnostic trains the generator
of `fergan train`'s defaults (same network, batch, steps, learning rate and EMA) with one loss
only, L1 between its edit of each training neutral face and the true render of that person with
the target expression. It runs on the toolkit's run engine and writes a run folder (config.json,
stats.jsonl, generator.pt) like a `fergan train` run, so `fergan evaluate` scores it exactly as
it scores a GAN. Its pixel error bounds what an unpaired loss can teach
this network within the same budget; it is a measurement, not a training mode of the toolkit.

With ``--w-expr W`` the GAN's expression loss joins the L1 term (weight 10): a frozen
``fer-classify`` checkpoint judges a jittered view of each edit, and the loss stops at the
classifier's median confidence in real validation faces of the target, as in ``fergan train``.
It asks whether the classifier's loss, which the hit rate needs, still lets the generator draw
the true change when the true change is given.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

from classifiers.checkpoint import load_classifier
from ferganaug.data.augment import augment_batch, to_model_input
from ferganaug.data.builtin import render_counterparts
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.engine import Hook, RunFolder, check_finite, run_loop
from ferganaug.gan.expression import FrozenExpressionClassifier, typical_real_confidence
from ferganaug.gan.losses import confident_cross_entropy
from ferganaug.gan.networks import Generator
from ferganaug.gan.artifact import generator_artifact
from ferganaug.gan.config import GANConfig
from ferganaug.gan.train import CLASSIFIER_VIEWS, ema_decay_at, update_ema
from ferganaug.utils.files import atomic_torch_save
from ferganaug.utils.hardware import describe_machine
from ferganaug.utils.precision import NumericPath
from ferganaug.utils.seeding import seed_everything

TARGETS = [e for e in EMOTIONS if e != "neutral"]
W_L1 = 10.0  # with Adam the scale of a lone L1 term is moot; 10 sets it against --w-expr


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder of run folders")
    parser.add_argument("--data", default="builtin", help="built-in face spec, e.g. builtin:train=2000,val=200,test=200")
    parser.add_argument("--steps", type=int, default=GANConfig.steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--w-expr", type=float, default=0.0, help="weight of the expression loss (0: L1 only)")
    parser.add_argument("--expr-classifier", type=Path, help="fer-classify checkpoint for --w-expr")
    args = parser.parse_args(argv)
    if args.w_expr > 0 and args.expr_classifier is None:
        parser.error("--w-expr needs --expr-classifier")
    c = GANConfig(steps=args.steps, seed=args.seed)
    path = NumericPath(args.precision, False)
    print(describe_machine())

    seed_everything(c.seed)
    if not args.data.startswith("builtin"):
        parser.error("--data must be a built-in face spec: only the renderer has the true expression of a face")
    data = load_dataset(args.data)
    train = data.split("train")
    neutral = train.subset(train.labels == EMOTION_INDEX["neutral"])
    sources = to_model_input(neutral.images)
    truths = torch.stack([to_model_input(render_counterparts(neutral, e)) for e in TARGETS], dim=1)
    target_ids = torch.tensor([EMOTION_INDEX[e] for e in TARGETS])
    if args.w_expr > 0:
        model, artifact = load_classifier(args.expr_classifier, EMOTIONS)
        classifier = FrozenExpressionClassifier(model, artifact["class_names"])
        val = data.split("val")
        with path.autocast(torch.device("cpu")):
            confidence = typical_real_confidence(classifier, val.images, val.labels, len(EMOTIONS), to_model_input)
        print("expression loss stops at", {e: round(float(confidence[EMOTION_INDEX[e]]), 3) for e in TARGETS})

    folder = RunFolder.create(args.out, "paired-builtin")
    folder.write_config("scripts/paired_upper_bound.py", {
        "gan": c.to_dict(), "paired": {"w_l1": W_L1, "w_expr": args.w_expr, "precision": args.precision,
                                       "expr_classifier": str(args.expr_classifier) if args.expr_classifier else None},
        "data": {"spec": args.data},
    }, ["scripts/paired_upper_bound.py", *(sys.argv[1:] if argv is None else argv)])
    generator = Generator(len(EMOTIONS), c.g_width, c.g_res_blocks, condition="label", colour=c.colour,
                          decoder=c.g_decoder)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    opt = torch.optim.Adam(generator.parameters(), lr=c.lr_g, betas=c.betas)
    rng = torch.Generator().manual_seed(c.seed)
    view_rng = torch.Generator().manual_seed(c.seed + 1)  # its own stream: the batches match the L1-only run's
    start, state = time.perf_counter(), {"step": 0, "loss": 0.0}

    def advance() -> int:
        rows = torch.randint(len(sources), (c.batch_size,), generator=rng)
        which = torch.randint(len(TARGETS), (c.batch_size,), generator=rng)
        with path.autocast(torch.device("cpu")):
            edit, _ = generator(sources[rows], target_ids[which])
        loss = W_L1 * (edit.float() - truths[rows, which]).abs().mean()
        if args.w_expr > 0:
            view = augment_batch((edit.float() + 1) / 2, CLASSIFIER_VIEWS, view_rng) * 2 - 1
            with path.autocast(torch.device("cpu")):
                logits = classifier(view)
            targets = target_ids[which]
            loss = loss + args.w_expr * confident_cross_entropy(logits, targets, confidence[targets])
        check_finite(loss, "paired", f"step {state['step'] + 1}", folder / "generator.pt", "try a lower learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_ema(ema, generator, ema_decay_at(state["step"], c.ema_decay))
        state["step"] += 1
        state["loss"] = loss.item()
        return state["step"]

    def log(step: int) -> None:
        folder.append_stats({"step": step, "loss": state["loss"], "seconds": time.perf_counter() - start})
        print(f"step {step}/{c.steps}: loss {state['loss']:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)

    run_loop(advance, 0, c.steps, [Hook("log", 500, log)])
    atomic_torch_save(generator_artifact(ema, c.steps, ("neutral",)), folder / "generator.pt")
    print(f"wrote {folder / 'generator.pt'}; score it with: fergan evaluate {folder.path} --data builtin")
    return folder.path


if __name__ == "__main__":
    main()
