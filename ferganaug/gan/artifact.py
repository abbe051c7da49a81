"""generator.pt: the trained generator and what synthesis needs to know about it."""

from __future__ import annotations

from ferganaug.emotions import EMOTIONS
from ferganaug.engine.checkpoint import FORMAT_VERSION, CheckpointError
from ferganaug.gan.networks import Generator

GENERATOR_KIND = "ferganaug.generator"


def generator_artifact(generator: Generator, step: int, source_emotions: tuple[str, ...]) -> dict:
    """What generator.pt holds: the network and what synthesis needs to know about it."""
    return {
        "kind": GENERATOR_KIND,
        "format_version": FORMAT_VERSION,
        "generator_config": generator.config,
        "state_dict": {k: v.detach().cpu() for k, v in generator.state_dict().items()},
        "class_names": list(EMOTIONS),
        "step": step,
        "source_emotions": list(source_emotions),
    }


def load_generator(artifact: dict) -> Generator:
    config = dict(artifact["generator_config"])
    # generator.pt files written before 2026-12-03 name the decoder only when it was a choice,
    # and carry a warp flag that is always off in the ones they kept
    config.setdefault("decoder", "upsample")
    if config.pop("warp", False):
        raise CheckpointError(f"{artifact.get('_path', 'this generator')} moves features with a warp field, which "
                              "this version no longer supports")
    config.pop("max_shift", None)
    generator = Generator(**config)
    generator.load_state_dict(artifact["state_dict"])
    return generator.eval().requires_grad_(False)
