"""Every script in scripts/ runs: the diagnostics on the run engine, the benchmarks' entry points."""

import importlib.util
import json
from pathlib import Path

import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paired_upper_bound_writes_a_run_folder_that_fergan_can_load(tmp_path):
    from ferganaug.synth import load_generator_file

    run = _load("paired_upper_bound").main(["--out", str(tmp_path), "--steps", "3",
                                             "--data", "builtin:train=350,val=70,test=70,seed=5"])
    config = json.loads((run / "config.json").read_text())
    assert config["gan"]["steps"] == 3 and config["data"]["spec"].startswith("builtin")
    generator = load_generator_file(run)
    assert generator.step == 3
    faces = torch.zeros(2, 1, 48, 48)
    assert generator.model(faces, torch.tensor([0, 1]))[0].shape == faces.shape
