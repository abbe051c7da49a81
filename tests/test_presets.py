"""Presets pin recipes: the builtin preset is what `fergan train` does by default, and the
fer2013 preset is exactly the FER2013 recipe that was measured (docs/experiments/)."""

import shlex

from classifiers.presets import resolve_preset_config
from ferganaug.gan.config import GANConfig
from ferganaug.presets import resolve_run_config

# The measured FER2013 run: scripts/fer2013_augmentation.sh at commit 797d4b2, whose `fergan train`
# took these flags (and the GAN defaults of that commit for the rest), and whose loss classifier was
# `fer-classify train --model deep-cnn --epochs 40 --scheduler cosine --batch-size 64 --augment strong`;
# then a second loss classifier, `fer-classify train --preset fer2013-cpu --seed 1`, averaged with the first
# (commit 44a4674), and 6,000 steps: the step-6,000 generator of that run scored within a point of the
# step-7,000 one on every target (docs/experiments/fer2013-gan.md).
FER2013_GAN_FLAGS = (
    "--steps 6000 --sample-every 250 --batch-size 32 --no-warp --d-augment --g-decoder upsample --lr-g 1e-4 "
    "--lr-d 4e-4 --w-adv 5 --w-expr 10 --w-cycle 10 --w-id 5 --expr-blur 1.0 --w-smooth 10 --expr-confidence 0.97"
)
FER2013_CLASSIFIER_FLAGS = "--model deep-cnn --epochs 40 --scheduler cosine --batch-size 64 --augment strong"
# `fergan train`'s defaults at 797d4b2, for the flags the script did not give
DEFAULTS_AT_797D4B2 = dict(
    w_fm=10.0, w_mask=5.0, w_r1=0.0, w_change=30.0, mask_min_area=0.01, mask_max_area=0.12, ema_decay=0.999,
    g_width=16, g_res_blocks=3, d_width=32, condition="label", colour="residual", source_emotions=("neutral",),
    betas=(0.5, 0.999), seed=0, precision="auto", device="auto", log_every=25,
)


def _flags_to_fields(flags: str) -> dict:
    """The old command line's flags as GANConfig fields, as its click options mapped them."""
    words, fields = shlex.split(flags), {}
    while words:
        flag = words.pop(0)[2:]
        if flag in ("d-augment", "no-warp"):
            if flag == "d-augment":
                fields["d_augment"] = True
            continue  # warp was off in the measured run, and is no longer an option
        value = words.pop(0)
        name = flag.replace("-", "_")
        fields[name] = value if name == "g_decoder" else float(value)
    for name in ("steps", "sample_every", "batch_size"):
        fields[name] = int(fields[name])
    fields["checkpoint_every"] = fields["sample_every"]  # the CLI checkpointed at every sample
    return fields


def test_fer2013_preset_is_the_measured_recipe():
    resolved = resolve_run_config("fer2013")
    expected = GANConfig(**{**DEFAULTS_AT_797D4B2, **_flags_to_fields(FER2013_GAN_FLAGS)})
    assert resolved.gan == expected
    words = shlex.split(FER2013_CLASSIFIER_FLAGS)
    given = dict(zip((w[2:].replace("-", "_") for w in words[::2]), words[1::2]))
    clf = resolved.classifier
    assert (clf.model, clf.epochs, clf.scheduler, clf.batch_size, clf.augment) == (
        given["model"], int(given["epochs"]), given["scheduler"], int(given["batch_size"]), given["augment"])
    assert clf.balanced_sampler is False  # fer-classify train's default: the data's own class frequencies
    assert clf.optimizer == "adam" and clf.lr == 1e-3  # deep-cnn's study recipe for the rest
    (member,) = resolved.ensemble
    assert member == resolve_preset_config("fer2013-cpu", {"seed": 1})


def test_builtin_preset_is_the_library_default():
    resolved = resolve_run_config("builtin")
    assert resolved.gan == GANConfig()
    clf = resolved.classifier
    assert (clf.model, clf.scheduler, clf.augment, clf.balanced_sampler) == ("deep-cnn", "cosine", "strong", True)


def test_command_line_choices_reach_both_tables():
    resolved = resolve_run_config("builtin", choices={"seed": 3, "precision": "fp32", "steps": 9})
    assert (resolved.gan.seed, resolved.gan.precision, resolved.gan.steps) == (3, "fp32", 9)
    assert (resolved.classifier.seed, resolved.classifier.precision) == (3, "fp32")
