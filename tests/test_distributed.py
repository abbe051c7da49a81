"""Data parallelism with two CPU processes (gloo): shards, reductions and DistributedDataParallel
behave as one process with the global batch would."""

import pytest
import torch

from distributed_helpers import as_rank, launch
from ferganaug.engine.distributed import (
    SINGLE, ProcessGroup, all_reduce_sum, gather_rows, join_from_environment, leave, per_rank_batch, shard_batch,
    shard_range,
)


def _tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))  # no BatchNorm


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, group: ProcessGroup) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        index = torch.arange(step * 8, step * 8 + 8)  # the global batch, the same on every rank
        mine = shard_batch(index, group)
        loss = torch.nn.functional.cross_entropy(model(x[mine]), y[mine])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _worker(rank: int, world: int, port: int, out: str) -> None:
    as_rank(rank, world, port)
    group = join_from_environment(torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 6, generator=g), torch.randint(0, 3, (24,), generator=g)
    model = torch.nn.parallel.DistributedDataParallel(_tiny_model())
    _train(model, x, y, group)
    result = {
        "group": (group.rank, group.world_size, group.backend),
        "params": [p.detach().clone() for p in model.module.parameters()],
        "shard": shard_batch(torch.arange(10), group),
        "range": shard_range(7, group),
        "sum": all_reduce_sum(torch.tensor([rank + 1.0]), group),
        "gathered": gather_rows(torch.full((rank + 1, 2), float(rank)), group),
    }
    torch.save(result, f"{out}/rank{rank}.pt")
    leave(group)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    launch(_worker, 2, str(out))
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_each_rank_joins_a_gloo_group_of_two(two_ranks):
    assert [r["group"] for r in two_ranks] == [(0, 2, "gloo"), (1, 2, "gloo")]


def test_shards_are_disjoint_and_cover_the_batch_and_the_range(two_ranks):
    assert torch.equal(torch.cat([r["shard"] for r in two_ranks]), torch.arange(10))
    covered = [i for r in two_ranks for i in range(7)[r["range"]]]
    assert covered == list(range(7))


def test_reductions_and_gathers_count_every_item_once(two_ranks):
    assert all(float(r["sum"]) == 3.0 for r in two_ranks)
    expected = torch.cat([torch.zeros(1, 2), torch.ones(2, 2)])
    assert all(torch.equal(r["gathered"], expected) for r in two_ranks)


def test_parameters_are_identical_on_both_ranks_and_match_one_process_with_the_global_batch(two_ranks):
    for a, b in zip(two_ranks[0]["params"], two_ranks[1]["params"]):
        assert torch.equal(a, b)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(24, 6, generator=g), torch.randint(0, 3, (24,), generator=g)
    single = _tiny_model()
    _train(single, x, y, SINGLE)
    for a, b in zip(single.parameters(), two_ranks[0]["params"]):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_batch_that_does_not_split_is_refused():
    assert per_rank_batch(64, ProcessGroup(0, 2)) == 32
    with pytest.raises(ValueError, match="batch size 63 does not split over 2 processes"):
        per_rank_batch(63, ProcessGroup(0, 2))


def _trainer_worker(rank: int, world: int, port: int, out: str) -> None:
    as_rank(rank, world, port)
    from classifiers.train import Trainer, split_train_val
    from toy_data import toy_faces

    trainer = Trainer(_toy_config(), split_train_val(toy_faces(), 0), f"{out}/run", progress=False)
    trainer.fit()
    torch.save({"params": [p.detach().clone() for p in trainer.model.parameters()],
                "described": trainer.describe()["distributed"]}, f"{out}/trainer{rank}.pt")
    leave(trainer.group)


def _toy_config():
    from classifiers.train_config import TrainConfig

    # basic-cnn: no BatchNorm and no dropout, so two half batches are one whole batch
    # SGD: Adam divides by the root of tiny second moments and so magnifies rounding differences
    return TrainConfig(model="basic-cnn", epochs=2, batch_size=16, lr=0.05, optimizer="sgd", precision="fp32",
                       augment="none")


def test_two_process_training_equals_one_process_with_the_global_batch(tmp_path):
    import json

    from classifiers.train import Trainer, split_train_val
    from toy_data import toy_faces

    launch(_trainer_worker, 2, str(tmp_path))
    ranks = [torch.load(tmp_path / f"trainer{r}.pt", weights_only=False) for r in range(2)]
    for a, b in zip(ranks[0]["params"], ranks[1]["params"]):
        assert torch.equal(a, b)  # DistributedDataParallel keeps the ranks identical
    assert ranks[0]["described"] == {"world_size": 2, "backend": "gloo"}
    single = Trainer(_toy_config(), split_train_val(toy_faces(), 0), tmp_path / "single", progress=False)
    single.fit()
    for a, b in zip(single.model.parameters(), ranks[0]["params"]):
        assert torch.allclose(a, b, atol=1e-5)
    rows = [json.loads(r) for r in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    alone = [json.loads(r) for r in (tmp_path / "single" / "stats.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]  # rank 0 alone wrote, every row once
    assert [round(r["val_acc"], 6) for r in rows] == [round(r["val_acc"], 6) for r in alone]
    assert all(abs(r["train_loss"] - s["train_loss"]) < 1e-4 for r, s in zip(rows, alone))


def test_synchronised_batchnorm_is_for_gpu_jobs_only(monkeypatch):
    from click.testing import CliRunner

    from classifiers.cli import main
    from ferganaug.engine.distributed import synchronised_batchnorm

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    assert synchronised_batchnorm(model, SINGLE, torch.device("cpu")) is model  # one process sees the whole batch
    with pytest.raises(ValueError, match="SyncBatchNorm runs on CUDA only"):
        synchronised_batchnorm(model, ProcessGroup(0, 2, 0, "gloo"), torch.device("cpu"))
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(main, ["train", "--sync-bn", "--device", "cpu", "--epochs", "1"])
    assert result.exit_code == 2 and "--sync-bn needs GPUs" in result.output
