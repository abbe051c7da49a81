"""Every script in scripts/ runs: the diagnostics on the run engine, the benchmarks' entry points."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
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


def test_real_data_curve_keeps_a_nested_share_of_one_emotion():
    curve = _load("real_data_curve")
    labels = torch.tensor([1] * 10 + [2] * 4 + [1] * 3)
    splits = torch.tensor([0] * 14 + [2] * 3)  # the last three disgust faces are test faces
    half, quarter = (curve.kept_rows(labels, splits, 1, f) for f in (0.5, 0.25))
    assert int(half[:10].sum()) == 5 and int(quarter[:10].sum()) == 2  # round(0.25 * 10) = 2
    assert half[10:].all() and quarter[10:].all()  # other emotions and test faces stay
    assert not (quarter & ~half).any()  # the faces of 0.25 are among those of 0.5
    assert curve.parse_fractions("0.5, 0.25") == (0.25, 0.5, 1.0)


def test_real_data_curve_trains_each_fraction_and_pairs_it_with_all(tmp_path):
    import numpy as np

    from ferganaug.data.fer2013 import write_fer2013_csv
    from ferganaug.data.spec import load_dataset
    from ferganaug.study import load_cells, load_study, seed_scores

    csv = write_fer2013_csv(load_dataset("builtin:train=280,val=40,test=140,seed=3"), tmp_path / "fer.csv")
    out = _load("real_data_curve").main(["--data", str(csv), "--fractions", "0.5", "--seeds", "2", "--model",
                                          "basic-cnn", "--epochs", "1", "--precision", "fp32", "--out",
                                          str(tmp_path / "curve"), "--quiet"])
    full, half = load_dataset(str(csv)), load_dataset(str(out / "data" / "fer-disgust-0.5.csv.gz"))
    disgust = [int(((d.labels == 1) & (d.splits == 0)).sum()) for d in (full, half)]
    assert disgust[1] == round(disgust[0] / 2) and len(full) - len(half) == disgust[0] - disgust[1]
    assert torch.equal(half.split("test").images, full.split("test").images)
    table = (out / "curve.md").read_text()
    assert f"| 0.5 | {disgust[1]} |" in table and f"| 1 | {disgust[0]} |" in table and (out / "curve.png").is_file()

    def f1(study_dir, seed):
        cell = next(c for c in load_cells(study_dir, load_study(study_dir)) if c["seed"] == seed)
        s = seed_scores(np.array(cell["items"]["targets"]), np.array(cell["items"]["predictions"]), full.class_names)
        return s["per_class"]["disgust"]["f1"]

    def shifted_f1(study_dir, seed):
        results = json.loads((study_dir / "results.json").read_text())["conditions"]["oversample+shift"]
        return results["views"]["test"]["per_class"]["disgust"]["f1"]["values"][results["seeds"].index(seed)]

    studies = {f: next((out / f"fraction-{f}").glob("*/study.json")).parent for f in ("0.5", "1")}
    for view, score in (("oversample", f1), ("oversample+shift", shifted_f1)):
        by_hand = np.mean([score(studies["0.5"], s) - score(studies["1"], s) for s in (0, 1)])
        half_row = next(line for line in table.splitlines() if line.startswith(f"| 0.5 | {disgust[1]} | {view} |"))
        assert half_row.split(" | ")[6].startswith(f"{by_hand * 100:+.1f} [")
    # Run again: the finished studies are reused, and a finished study serves as the full data.
    again = _load("real_data_curve").main(["--data", str(csv), "--fractions", "0.5", "--seeds", "2", "--model",
                                            "basic-cnn", "--epochs", "1", "--full", str(studies["1"]), "--out",
                                            str(tmp_path / "curve"), "--quiet"])
    assert (again / "curve.md").read_text().split("Studies:")[0] == table.split("Studies:")[0]
    with pytest.raises(SystemExit, match="its recipe differs: epochs 1 \\(here 2\\)"):
        _load("real_data_curve").main(["--data", str(csv), "--fractions", "0.5", "--model", "basic-cnn",
                                       "--epochs", "2", "--out", str(tmp_path / "curve"), "--quiet"])


def _results(path: Path, data: str, seeds: list[int], f1: list[float], n: int = 100,
             targets: tuple = (0, 1, 1)) -> Path:
    """A study folder with one finished cell and a results.json with one condition, as fergan
    study writes them, reduced to what is compared."""
    def stat(values):
        return {"values": values}

    scores = {"n": n, "accuracy": stat([0.5] * len(seeds)), "macro_f1": stat([v / 2 for v in f1]),
              "per_class": {"disgust": {m: stat(f1) for m in ("recall", "precision", "f1")}}}
    path.mkdir(parents=True)
    condition = {"seeds": seeds, "views": {"test": scores}}
    ranking = {"synthetic+oversample@median": {"disgust": {"auc": stat([0.9 + v / 10 for v in f1]),
                                                            "average_precision": stat(f1)}}}
    cell = "cells/synthetic+oversample@median/seed0"
    (path / cell).mkdir(parents=True)
    (path / cell / "cell.json").write_text(json.dumps({"items": {"targets": list(targets)}}))
    (path / "study.json").write_text(json.dumps({"cells": [{"path": cell}]}))
    (path / "results.json").write_text(json.dumps({
        "study": {"data": data, "emotions": ["disgust"]}, "ranking": {"scores": ranking},
        "conditions": {"synthetic+oversample@median+shift": condition, "synthetic+oversample@median": condition}}))
    return path


def test_compare_studies_pairs_the_seeds_both_ran(tmp_path, capsys):
    compare = _load("compare_studies")
    a = _results(tmp_path / "a", "fer.csv", [0, 1, 2, 3], [0.40, 0.50, 0.45, 0.99])
    b = _results(tmp_path / "b", "fer-half-disgust.csv", [2, 1, 0], [0.35, 0.44, 0.38])  # same test faces
    condition = "synthetic+oversample@median+shift"
    comparison = compare.compare((compare.read_results(a), condition), (compare.read_results(b), condition),
                                 "test", ["disgust"])
    assert comparison["seeds"] == [0, 1, 2]  # seed 3 has no partner; seeds pair by number, not by position
    delta = comparison["rows"]["f1/disgust"]["delta"]
    assert delta["mean_delta"] == pytest.approx(((0.40 - 0.38) + (0.50 - 0.44) + (0.45 - 0.35)) / 3)
    assert comparison["rows"]["macro_f1"]["delta"]["mean_delta"] == pytest.approx(delta["mean_delta"] / 2)
    # the shifted view's models are its condition's: their ranking scores pair too
    assert comparison["rows"]["average_precision/disgust"]["delta"]["mean_delta"] == pytest.approx(delta["mean_delta"])
    assert comparison["rows"]["auc/disgust"]["delta"]["mean_delta"] == pytest.approx(delta["mean_delta"] / 10)
    assert compare.main([str(a), condition, str(b), condition]) == 0
    assert "| f1/disgust | 45.0 | 39.0 | +6.0 [" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    (dict(targets=(0, 1, 2)), "scored on different test faces"),
    (dict(n=99), "scored on different test faces"),
    (dict(seeds=[0, 7], f1=[0.1, 0.2]), "a paired interval needs two seeds in both"),
])
def test_compare_studies_refuses_what_cannot_be_paired(tmp_path, change, message):
    compare = _load("compare_studies")
    a = _results(tmp_path / "a", "fer.csv", [0, 1], [0.4, 0.5])
    b = _results(tmp_path / "b", **{"data": "fer.csv", "seeds": [0, 1], "f1": [0.3, 0.4], **change})
    condition = "synthetic+oversample@median+shift"
    with pytest.raises(compare.DataError, match=message):
        compare.compare((compare.read_results(a), condition), (compare.read_results(b), condition), "test", ["disgust"])
    with pytest.raises(compare.DataError, match="no condition 'oversample'; the study has synthetic"):
        compare.compare((compare.read_results(a), "oversample"), (compare.read_results(b), condition), "test", [])
    with pytest.raises(compare.DataError, match="no results.json; finish the study"):
        compare.read_results(tmp_path)
    shutil.rmtree(a / "cells")
    with pytest.raises(compare.DataError, match="no finished cell to read the test items from"):
        compare.read_results(a)


def test_discriminator_expression_scores_each_map_by_its_own_emotions_faces(tmp_path, capsys):
    probe = _load("discriminator_expression")
    labels = torch.tensor([0, 0, 1, 1, 6, 6])
    knows = torch.nn.functional.one_hot(labels, 7).float()  # each face scores highest at its own map
    lines = probe.report(knows, labels)
    assert [line.split()[0] for line in lines[1:4]] == ["angry", "disgust", "neutral"]  # emotions without faces left out
    assert all(line.split()[2:] == ["100.0", "100.0"] for line in lines[1:4])
    assert "own map highest: 100.0%" in lines[-1]
    assert probe.report(torch.ones(6, 7), labels)[1].split()[2:] == ["50.0", "50.0"]  # knows nothing: ties

    from ferganaug.gan.expression import FrozenExpressionClassifier
    from ferganaug.gan.config import GANConfig
    from ferganaug.gan.train import GANTrainer
    from toy_data import toy_faces
    from test_gan import FAST, TinyClassifier

    GANTrainer(GANConfig(**FAST, steps=2), toy_faces().split("train"), FrozenExpressionClassifier(TinyClassifier()),
               tmp_path / "run", progress=False).fit()
    probe.main([str(tmp_path / "run"), "--data", "builtin:train=70,val=14,test=35,seed=1"])
    out = capsys.readouterr().out
    assert "(step 2), 35 real test faces" in out and "own map highest" in out
