"""The run engine's pieces on their own: run folders, checkpoints, the loop and its hooks, and
the strict config (de)serialiser."""

import json
from dataclasses import dataclass

import pytest
import torch

from ferganaug.engine import (
    CheckpointError, DivergenceError, Hook, RunFolder, RunFolderError, check_finite, load_checkpoint, run_loop,
    save_checkpoint,
)
from ferganaug.engine.checkpoint import FORMAT_VERSION, weights_digest
from ferganaug.engine.config import ConfigError, apply_assignments, config_from_dict, config_to_dict, parse_assignment


def test_run_folders_are_numbered_and_name_their_files(tmp_path):
    a, b = RunFolder.create(tmp_path, "deep-cnn builtin"), RunFolder.create(tmp_path, "x")
    assert (a.path.name, b.path.name) == ("00000-deep-cnn_builtin", "00001-x")
    assert a.last_checkpoint == a.path / "checkpoints" / "last.pt" and a.stats_path.name == "stats.jsonl"


def test_config_json_records_the_command_line_versions_and_machine(tmp_path):
    folder = RunFolder.create(tmp_path, "run")
    folder.write_config("tool x", {"train": {"lr": 0.1}}, ["tool", "--lr", "0.1"])
    saved = folder.read_config()
    assert saved["tool"] == "tool x" and saved["argv"] == ["tool", "--lr", "0.1"] and saved["train"] == {"lr": 0.1}
    assert saved["versions"]["torch"] == torch.__version__ and "cpu_model" in saved["machine"]


def test_resuming_a_folder_without_config_json_is_refused_by_name(tmp_path):
    with pytest.raises(RunFolderError, match=r"is not a my-tool run folder \(no config.json\)"):
        RunFolder.existing(tmp_path, "my-tool")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="cannot be read as JSON"):
        RunFolder.existing(tmp_path, "my-tool").read_config()


def test_trimming_keeps_the_rows_a_checkpoint_covers(tmp_path):
    folder = RunFolder.at(tmp_path)
    for step in (25, 50, 75):
        folder.append_stats({"step": step, "loss": float("nan") if step == 75 else 1.0})
    folder.trim_stats("step", 50)
    assert [r["step"] for r in folder.read_stats()] == [25, 50]
    assert "NaN" not in folder.stats_path.read_text()


def test_an_unstarted_folder_is_discarded_and_a_started_one_kept(tmp_path):
    unstarted, started = RunFolder.create(tmp_path, "a"), RunFolder.create(tmp_path, "b")
    started.write_config("t", {}, None)
    assert unstarted.discard_unstarted() and not unstarted.path.exists()
    assert not started.discard_unstarted() and started.path.exists()


def test_checkpoints_carry_kind_and_format_and_refuse_others(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, "thing", {"w": torch.ones(2)})
    loaded = load_checkpoint(path, ("thing",))
    assert loaded["format_version"] == FORMAT_VERSION and torch.equal(loaded["w"], torch.ones(2))
    with pytest.raises(CheckpointError, match="is not a other checkpoint .found kind='thing'"):
        load_checkpoint(path, ("other",))
    torch.save({"kind": "thing", "format_version": FORMAT_VERSION + 1}, path)
    with pytest.raises(CheckpointError, match="written by a newer ferganaug"):
        load_checkpoint(path, ("thing",))
    path.write_bytes(b"\x00")
    with pytest.raises(CheckpointError, match="truncated, corrupt or not a ferganaug checkpoint"):
        load_checkpoint(path, ("thing",))


def test_weights_digest_names_weights_not_files():
    net = torch.nn.BatchNorm1d(3)  # holds a 0-dimensional buffer (num_batches_tracked)
    digest = weights_digest(net.state_dict())
    assert digest == weights_digest({k: v.clone() for k, v in net.state_dict().items()})
    with torch.no_grad():
        net.weight[0] += 1
    assert weights_digest(net.state_dict()) != digest


def test_hooks_run_in_order_at_their_interval_and_at_the_end_and_can_stop_the_run():
    calls, position = [], {"n": 0}

    def advance():
        position["n"] += 1
        return position["n"]

    hooks = [Hook("log", 2, lambda p: calls.append(("log", p))), Hook("ckpt", 3, lambda p: calls.append(("ckpt", p)))]
    assert run_loop(advance, 0, 7, hooks) == 7
    assert calls == [("log", 2), ("ckpt", 3), ("log", 4), ("log", 6), ("ckpt", 6), ("log", 7), ("ckpt", 7)]
    position["n"] = 0
    assert run_loop(advance, 0, 10, [Hook("early stop", 1, lambda p: p == 4)]) == 4


def test_the_divergence_guard_names_where_and_the_last_good_checkpoint():
    check_finite(torch.tensor(1.0), "training", "epoch 1", "run/checkpoints/last.pt", "try a lower --lr")
    with pytest.raises(DivergenceError, match=r"the training loss became nan at epoch 3.*run/checkpoints/last.pt \(try"):
        check_finite(torch.tensor(float("nan")), "training", "epoch 3", "run/checkpoints/last.pt", "try a lower --lr")


@dataclass(frozen=True)
class Knobs:
    steps: int = 10
    rate: float = 0.1
    betas: tuple[float, float] = (0.5, 0.9)
    mode: str | None = None
    target: float | str = "real"


def test_the_strict_serialiser_round_trips_and_names_bad_keys_and_values():
    knobs = Knobs(steps=3, betas=(0.1, 0.2), target=0.9)
    assert config_from_dict(Knobs, json.loads(json.dumps(config_to_dict(knobs))), "x") == knobs
    assert config_from_dict(Knobs, {"rate": 1}, "x").rate == 1.0  # a whole number is a number
    with pytest.raises(ConfigError, match="run.json: unknown key 'stpes'; valid keys: steps, rate, betas, mode, target"):
        config_from_dict(Knobs, {"stpes": 3}, "run.json")
    with pytest.raises(ConfigError, match="'steps' must be a whole number, got 2.5"):
        config_from_dict(Knobs, {"steps": 2.5}, "x")
    with pytest.raises(ConfigError, match="'steps' must be a whole number, got True"):
        config_from_dict(Knobs, {"steps": True}, "x")
    with pytest.raises(ConfigError, match="'betas' must be a list of 2 values"):
        config_from_dict(Knobs, {"betas": [0.1]}, "x")


def test_set_assignments_parse_toml_values_and_find_their_table():
    assert parse_assignment("gan.lr=1e-4") == ("gan.lr", 1e-4)
    assert parse_assignment("mode=reference") == ("mode", "reference")  # a bare word is a string
    assert parse_assignment("betas=[0.5, 0.99]") == ("betas", [0.5, 0.99])

    @dataclass(frozen=True)
    class Other:
        steps: int = 1
        width: int = 2

    tables: dict = {}
    apply_assignments(tables, ["rate=0.5", "other.width=4", "knobs.steps=5"], {"knobs": Knobs, "other": Other})
    assert tables == {"knobs": {"rate": 0.5, "steps": 5}, "other": {"width": 4}}
    with pytest.raises(ConfigError, match="--set steps: knobs and other have it; name it as TABLE.KEY"):
        apply_assignments({}, ["steps=3"], {"knobs": Knobs, "other": Other})
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_assignments({}, ["steps"], {"knobs": Knobs})


@pytest.mark.parametrize("seed", range(20))
def test_fuzzed_files_are_messages_never_tracebacks(tmp_path, seed):
    from ferganaug.presets import resolve_run_config

    junk = torch.randint(0, 256, (int(torch.randint(1, 400, (1,), generator=torch.Generator().manual_seed(seed))),),
                         generator=torch.Generator().manual_seed(seed), dtype=torch.uint8).numpy().tobytes()
    (tmp_path / "run").mkdir()
    for name, data in (("config.json", junk), ("mine.toml", junk), ("last.pt", junk)):
        (tmp_path / "run" / name).write_bytes(data)
    with pytest.raises(RunFolderError):
        RunFolder.existing(tmp_path / "run", "fergan train").read_config()
    with pytest.raises(ConfigError, match="mine.toml"):
        resolve_run_config("builtin", tmp_path / "run" / "mine.toml")
    with pytest.raises(CheckpointError, match="last.pt"):
        load_checkpoint(tmp_path / "run" / "last.pt", ("thing",))
