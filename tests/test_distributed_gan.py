"""`fergan train` under torchrun, with two CPU processes (gloo): the ranks keep identical
networks, two half batches train as one process with the whole batch, and checkpoints resume
at either world size."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from distributed_helpers import as_rank, launch
from ferganaug.data.spec import load_dataset
from ferganaug.engine.checkpoint import load_checkpoint
from ferganaug.engine.distributed import barrier
from ferganaug.gan.artifact import GENERATOR_KIND, load_generator
from ferganaug.gan.train import GAN_STATE_KIND, GANTrainer
from ferganaug.pipeline import resume_gan, train_gan
from ferganaug.presets import resolve_run_config
from ferganaug.utils.seeding import make_generator

TINY = "builtin:train=280,val=70,test=140,seed=3"
# No batch statistics anywhere: G and D have none, and feature matching (group means over a
# rank's shard) is off, so two half batches are one whole batch. R1 and the mismatched faces are
# on: DDP must carry both.
TINY_GAN = ("gan.batch_size=8", "gan.g_width=8", "gan.g_res_blocks=1", "gan.d_width=8", "gan.w_fm=0", "gan.w_r1=1",
            "gan.w_mismatch=1", "gan.precision=fp32", "gan.log_every=2", "gan.sample_every=2",
            "gan.checkpoint_every=2", "classifier.model=basic-cnn", "classifier.epochs=1")
NETWORKS = ("generator", "discriminator", "ema")


def _run_config(steps: int):
    return resolve_run_config("builtin", assignments=(*TINY_GAN, f"gan.steps={steps}"))


def _continue_to(run, steps: int) -> None:
    """Make a finished run's config ask for more steps: --resume then continues it as if cut there."""
    config = json.loads((run / "config.json").read_text())
    config["gan"]["steps"] = steps
    (run / "config.json").write_text(json.dumps(config))


def _networks(trainer: GANTrainer) -> dict:
    return {name: {k: v.clone() for k, v in getattr(trainer, name).state_dict().items()} for name in NETWORKS}


def _keep_trainers() -> list[GANTrainer]:
    """Every GANTrainer this process fits, to compare its networks with the other rank's."""
    kept, fit = [], GANTrainer.fit

    def fit_and_keep(self, *args, **kwargs):
        kept.append(self)
        return fit(self, *args, **kwargs)

    GANTrainer.fit = fit_and_keep
    return kept


def _worker(rank: int, world: int, port: int, out: str) -> None:
    as_rank(rank, world, port)
    out = Path(out)
    trainers = _keep_trainers()
    straight = train_gan(_run_config(4), TINY, out / "straight", progress=False)  # its classifier trained here
    classifier = str(straight / "expression-classifier" / "model.pt")
    cut = train_gan(_run_config(2), TINY, out / "cut", [classifier], progress=False)
    if rank == 0:
        shutil.copytree(cut, out / "cut-for-one-process")
        _continue_to(cut, 4)
    barrier(trainers[0].group)  # the cut run is copied and asks for 4 steps before anyone resumes it
    resume_gan(cut, progress=False)
    torch.save({"straight": _networks(trainers[0]), "resumed": _networks(trainers[2])}, out / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_torch_thread) -> dict:
    out = tmp_path_factory.mktemp("gan-ddp")
    load_dataset(TINY)  # rendered once, into the test run's cache the ranks read
    launch(_worker, 2, str(out))
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    [straight], [cut] = (list((out / name).iterdir()) for name in ("straight", "cut"))  # one folder per job
    classifier = str(straight / "expression-classifier" / "model.pt")
    one = train_gan(_run_config(4), TINY, out / "one", [classifier], progress=False)
    two_in_one = out / "cut-for-one-process"
    _continue_to(two_in_one, 4)
    resume_gan(two_in_one, progress=False)
    return {"ranks": ranks, "straight": straight, "cut": cut, "one": one, "two_in_one": two_in_one}


def _last_state(run) -> dict:
    return load_checkpoint(run / "checkpoints" / "last.pt", (GAN_STATE_KIND,))


def _stats(run) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def _edits(run, state: dict, network: str) -> torch.Tensor:
    """What a run's generator (or its EMA) makes of fixed faces. Compared rather than weights: a
    bias in front of an instance norm gets a gradient of pure rounding noise, which Adam scales
    up to a step of lr either way, yet changes no output."""
    config = load_checkpoint(run / "generator.pt", (GENERATOR_KIND,))["generator_config"]
    generator = load_generator({"generator_config": config, "state_dict": state[network]})
    faces = torch.rand(7, 1, 48, 48, generator=make_generator(0)) * 2 - 1
    return generator(faces, torch.arange(7))[0]


def _assert_same_gan(run, other) -> None:
    """The same GAN up to float rounding: the discriminator's weights and both generators' edits.

    The edits get Adam's allowance: a weight whose true gradient is near zero receives rounding
    noise, which Adam normalises into a step of up to lr_g either way. On CPUs whose kernels
    round a half batch otherwise than a whole one (seen with AVX-512), four steps move such an
    edit by up to 2.6e-4 while the mean stays near 2e-5; a mistake in how the ranks combine
    gradients moves every weight, and the mean with it."""
    a, b = _last_state(run), _last_state(other)
    for key, value in a["discriminator"].items():
        assert torch.allclose(value, b["discriminator"][key], atol=1e-5), key
    config = json.loads((run / "config.json").read_text())["gan"]
    allowance = config["steps"] * config["lr_g"]
    for network in ("generator", "ema"):
        gap = (_edits(run, a, network) - _edits(other, b, network)).abs()
        assert gap.max() <= allowance and gap.mean() <= allowance / 10, (network, gap.max(), gap.mean())


def test_both_ranks_hold_bit_identical_networks_and_spectral_norm_vectors(runs):
    for run in ("straight", "resumed"):
        first, second = (r[run] for r in runs["ranks"])
        assert any(k.endswith("weight_u") for k in first["discriminator"])
        for name in NETWORKS:
            for key, value in first[name].items():
                assert torch.equal(value, second[name][key]), (run, name, key)


def test_rank_0_alone_writes_one_run_folder_and_one_classifier(runs):
    straight = runs["straight"]
    config = json.loads((straight / "config.json").read_text())
    assert config["run"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert config["expression_classifier"]["trained_here"]
    classifier = json.loads((straight / "expression-classifier" / "config.json").read_text())
    assert classifier["run"]["distributed"] == {"world_size": 2, "backend": "gloo"}  # trained once, data-parallel
    assert [r["step"] for r in _stats(straight)] == [2, 4]
    assert sorted(p.name for p in (straight / "samples").iterdir()) == ["000002.png", "000004.png"]
    assert all((straight / name).is_file() for name in ("generator.pt", "losses.png", "checkpoints/last.pt"))


def test_two_processes_with_half_batches_match_one_process_with_the_whole_batch(runs):
    _assert_same_gan(runs["straight"], runs["one"])
    for a, b in zip(_stats(runs["straight"]), _stats(runs["one"]), strict=True):
        assert a.keys() == b.keys()
        # statistics averaged over the ranks mean the same; feature matching, logged though off,
        # compares batch means, which are each rank's shard's
        for key in a.keys() - {"faces_per_s", "g_fm"}:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key


def test_resume_under_two_processes_equals_the_uninterrupted_run(runs):
    straight, resumed = _last_state(runs["straight"]), _last_state(runs["cut"])
    assert resumed["step"] == 4
    for name in NETWORKS:
        for key, value in straight[name].items():
            assert torch.equal(value, resumed[name][key]), (name, key)
    assert [r["step"] for r in _stats(runs["cut"])] == [2, 4]


def test_a_two_process_checkpoint_resumes_in_one_process(runs):
    state = _last_state(runs["two_in_one"])
    assert state["step"] == 4
    assert not any(k.startswith("module.") for name in NETWORKS for k in state[name])
    _assert_same_gan(runs["two_in_one"], runs["straight"])
