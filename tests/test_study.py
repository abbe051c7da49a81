"""fergan study: amounts, per-class synthetic limits, the train-split-only rule, a tiny study end
to end through click, resumption, parallel cells, report regeneration and bad inputs."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from data_fixtures import random_faces, write_fer2013
from PIL import Image
from toy_data import toy_faces

from classifiers import workflow
from classifiers.workflow import DataOptions, add_synthetic, prepare_data
from ferganaug.cli import main
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS
from ferganaug.study import (
    Amount,
    StudyConfig,
    StudyError,
    add_seeds,
    create_study,
    data_options,
    faces_per_class,
    load_study,
    median_count,
    parse_amount,
    parse_amounts,
    parse_conditions,
    write_report,
)
from ferganaug.study.conditions import Cell
from ferganaug.study.sources import check_synthetic_folder

TINY = "builtin:train=280,val=70,test=140,seed=3"  # train counts 39, 4, 40, 70, 47, 31, 49: median 40
FAST = ["--model", "basic-cnn", "--epochs", "1", "--batch-size", "32", "--augment", "none", "--precision", "fp32",
        "--device", "cpu", "--bootstrap", "200", "--quiet"]


def write_synthetic(root: Path, spec: str, counts: dict[str, int], *, source_spec: str | None = None,
                    source: int | None = None, copy_test: bool = False, size: int = 48) -> Path:
    """A folder like fergan synthesize writes: each face an "edit" (a grey-level shift) of a
    training face of that emotion, with its manifest row naming the source row and spec."""
    data = load_dataset(spec)
    train, test = data.split("train"), data.split("test")
    rows = []
    for emotion, n in counts.items():
        pool = (train.labels == EMOTION_INDEX[emotion]).nonzero().flatten().tolist() or [0]
        for i in range(n):
            src = pool[i % len(pool)]
            face = test.images[i % len(test), 0] if copy_test else (train.images[src, 0].int() + 7 * (i + 1)) % 256
            image = Image.fromarray(face.numpy().astype(np.uint8))
            rel = f"{emotion}/{i:06d}.png"
            (root / emotion).mkdir(parents=True, exist_ok=True)
            (image if size == 48 else image.resize((size, size))).save(root / rel)
            rows.append({"file": rel, "emotion": emotion, "source": src if source is None else source,
                         "source_spec": source_spec or spec, "seed": 1000 + i, "run_seed": 0, "index": i,
                         "generator": "runs/fergan/00000-builtin/generator.pt", "step": 500})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def invoke(args: list[str]):
    return CliRunner().invoke(main, ["study", *args])


# -- amounts and conditions, by hand --------------------------------------------------------------

def test_amounts_parse_and_resolve_by_hand():
    real = [39, 4, 40, 70, 47, 31, 49]
    assert median_count(real) == 40
    assert median_count([1, 2, 3, 4]) == 2  # 2.5 rounded down
    assert faces_per_class(parse_amount("median"), ["disgust"], EMOTIONS, real) == (0, 36, 0, 0, 0, 0, 0)
    # happy (70) is above the median: topping up adds nothing.
    assert faces_per_class(parse_amount("median"), ["disgust", "happy"], EMOTIONS, real) == (0, 36, 0, 0, 0, 0, 0)
    assert faces_per_class(parse_amount("x2"), ["disgust", "fear"], EMOTIONS, real) == (0, 4, 40, 0, 0, 0, 0)
    assert faces_per_class(parse_amount("x1.5"), ["fear"], EMOTIONS, real) == (0, 0, 20, 0, 0, 0, 0)
    assert faces_per_class(parse_amount("500"), ["disgust"], EMOTIONS, real) == (0, 500, 0, 0, 0, 0, 0)
    assert [a.label for a in parse_amounts("median, x2,500,x2.0")] == ["median", "x2", "500"]
    assert parse_amount(" X3 ") == Amount("times", 3.0)


@pytest.mark.parametrize("text, message", [
    ("half", "cannot parse amount 'half'; expected median, xK"),
    ("x", "cannot parse amount 'x'"),
    ("x0.5", "K must be at least 1"),
    ("-3", "cannot parse amount '-3'"),
    ("", "no amount given"),
])
def test_bad_amounts_are_refused(text, message):
    with pytest.raises(StudyError, match=message):
        parse_amounts(text)


def test_conditions_parse_in_canonical_order():
    assert parse_conditions("synthetic, baseline") == ("baseline", "synthetic")
    assert parse_conditions("all")[0] == "baseline" and len(parse_conditions("all")) == 5
    with pytest.raises(StudyError, match="unknown condition 'smote'; expected some of baseline, class-weights"):
        parse_conditions("baseline,smote")


def test_cells_differ_only_in_seed_weights_and_sampler(tmp_path):
    config = StudyConfig(data=TINY, synthetic=str(tmp_path), seeds=(0, 1), model="basic-cnn", amounts=("median", "x2"))
    assert config.condition_names == ("baseline", "class-weights", "oversample", "synthetic@median", "synthetic@x2",
                                      "synthetic+class-weights@median", "synthetic+class-weights@x2")
    shared = config.train_config().to_dict()
    for name in config.condition_names:
        cell = Cell(name, 1)
        got = config.cell_train_config(cell).to_dict()
        assert {k for k in got if got[k] != shared[k]} <= {"seed", "class_weights", "balanced_sampler"}
        assert got["seed"] == 1
        assert got["class_weights"] == ("inverse" if "class-weights" in name else None)
        assert got["balanced_sampler"] == (name == "oversample")


# -- per-class synthetic limits in classifiers.workflow ----------------------------------------------

def test_data_options_per_class_limits_survive_json_and_combine_with_cap():
    options = DataOptions(spec="toy", augment_with="syn/", augment_cap=6, augment_emotions=("disgust", "fear"),
                          augment_per_class=(None, 3, 50, 9, 9, 9, 9))
    # config.json stores vars(options); --resume rebuilds DataOptions from the JSON lists.
    back = DataOptions(**json.loads(json.dumps(vars(options))))
    assert back == options and isinstance(back.augment_per_class, tuple)
    train = toy_faces().split("train")
    synthetic = toy_faces(n_per_class=20, seed=5).subset(torch.arange(140))
    merged, added = add_synthetic(train, synthetic, back, seed=0)
    assert added == {"disgust": 3, "fear": 6}  # min(cap 6, per class 3 / 50); other emotions not chosen
    assert len(merged) == len(train) + 9 and (merged.splits == 0).all()
    # An emotion left out may be missing from the real data without complaint ...
    no_angry = train.subset(train.labels != 0)
    assert add_synthetic(no_angry, synthetic, back, seed=0)[1] == {"disgust": 3, "fear": 6}
    # ... but a chosen one may not.
    with pytest.raises(DataError, match="no 'disgust' faces to balance against"):
        add_synthetic(train.subset(train.labels != 1), synthetic, back, seed=0)
    with pytest.raises(DataError, match="expected one per class"):
        add_synthetic(train, synthetic, DataOptions(augment_per_class=(1, 2)), seed=0)


# -- the train-split-only rule ------------------------------------------------------------------------

def test_manifest_naming_other_data_is_refused(tmp_path):
    other = "builtin:train=280,val=70,test=140,seed=4"
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 3}, source_spec=other)
    with pytest.raises(DataError) as err:
        check_synthetic_folder(folder, load_dataset(TINY), TINY)
    message = str(err.value)
    assert f"{folder / 'manifest.jsonl'}, line 1" in message and other in message and TINY in message


def test_sources_outside_the_training_split_are_refused(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 2}, source=280)  # train rows are 0..279
    with pytest.raises(DataError, match=r"line 1: source 280 is not a row of the training split .* 0\.\.279"):
        check_synthetic_folder(folder, load_dataset(TINY), TINY)


def test_copies_of_test_faces_are_refused(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 2}, copy_test=True)
    with pytest.raises(DataError, match="pixel copies of validation/test faces .* disgust/000000.png"):
        check_synthetic_folder(folder, load_dataset(TINY), TINY)


def _pixels(images: torch.Tensor) -> set[bytes]:
    return {x.numpy().tobytes() for x in images}


def test_a_synthetic_cell_trains_on_train_faces_and_synthetic_faces_only(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 30, "fear": 5})
    config = StudyConfig(data=TINY, synthetic=str(folder), conditions=("synthetic",), seeds=(0,), model="basic-cnn")
    options = data_options(config, Cell("synthetic@median", 0), {"median": (0, 36, 0, 0, 0, 0, 0)})
    data, parts, facts = prepare_data(options, seed=0)
    synthetic = load_dataset(str(folder))
    assert facts["synthetic_added"] == {"disgust": 30}  # wanted 36, the folder has 30; fear not chosen
    allowed = _pixels(data.split("train").images) | _pixels(synthetic.images)
    held_out = _pixels(data.images[data.splits != 0]) - _pixels(data.split("train").images)
    seen = [x.numpy().tobytes() for x in parts.train.images]
    assert all(k in allowed for k in seen) and not held_out & set(seen)
    assert torch.equal(parts.val.images, data.split("val").images)  # validation stays real, held-out faces
    assert len(parts.train) == len(data.split("train")) + 30 and (parts.train.splits == 0).all()
    assert data.split("test").images.shape[0] == 140  # the test split is untouched


# -- a tiny study end to end ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    synthetic = write_synthetic(root / "syn", TINY, {"disgust": 30})
    result = invoke(["--data", TINY, "--conditions", "baseline,class-weights,synthetic", "--synthetic",
                     str(synthetic), "--amounts", "median,x2", "--seeds", "2", "--shift", "none", "--out",
                     str(root / "runs"), *FAST])
    assert result.exit_code == 0, result.output
    study_dir = Path(result.output.strip().splitlines()[-1])
    return study_dir, result.output


def _cells(study_dir: Path) -> dict[tuple[str, int], dict]:
    out = {}
    for path in study_dir.glob("cells/*/seed*/cell.json"):
        cell = json.loads(path.read_text())
        out[(cell["condition"], cell["seed"])] = cell
    return out


def _scores(results: dict) -> dict:
    """Every condition's scores, without the timings (which differ run to run)."""
    return {c: v["views"] for c, v in results["conditions"].items()}


@pytest.mark.slow
def test_study_writes_its_folder(study):
    study_dir, output = study
    names = ["baseline", "class-weights", "synthetic@median", "synthetic@x2"]
    assert study_dir.parent.name == "runs" and study_dir.name.startswith("00000-basic-cnn-builtin")
    for name in ["study.json", "results.json", "report.md", "recall_deltas.png"] + [f"confusion_{n}.png" for n in names]:
        assert (study_dir / name).is_file(), name
    assert set(_cells(study_dir)) == {(n, s) for n in names for s in (0, 1)}
    saved = load_study(study_dir)
    assert saved["condition_names"] == names and saved["config"]["seeds"] == [0, 1]
    assert saved["data"]["median_train_class_count"] == 40 and saved["synthetic"]["faces_per_emotion"]["disgust"] == 30
    assert "synthetic@median" in output and "disgust recall" in output  # the summary table


def test_synthetic_amounts_are_recorded_as_added(study):
    study_dir, _ = study
    cells = _cells(study_dir)
    # median wants 40 - 4 = 36 but the folder holds 30: all 30 are used; x2 adds 4.
    assert cells[("synthetic@median", 0)]["synthetic_added"] == {"disgust": 30}
    assert cells[("synthetic@x2", 1)]["synthetic_added"] == {"disgust": 4}
    assert cells[("baseline", 0)]["synthetic_added"] == {}
    assert cells[("synthetic@median", 0)]["train_size"] == 280 + 30
    results = json.loads((study_dir / "results.json").read_text())
    assert results["synthetic_plan"]["median"]["wanted"]["disgust"] == 36
    assert results["conditions"]["synthetic@median"]["synthetic_added"] == {"disgust": [30, 30]}


def test_aggregates_agree_with_the_cells(study):
    study_dir, _ = study
    results = json.loads((study_dir / "results.json").read_text())
    cells = _cells(study_dir)
    for condition, summary in results["conditions"].items():
        reports = [cells[(condition, s)]["report"] for s in (0, 1)]
        test = summary["views"]["test"]
        # Recomputed from the per-item predictions, the scores equal evaluate_model's own.
        assert test["accuracy"]["mean"] == pytest.approx(np.mean([r["accuracy"] for r in reports]))
        assert test["macro_f1"]["values"] == pytest.approx([r["macro_f1"] for r in reports])
        for name in EMOTIONS:
            recalls = [r["per_class"][name]["recall"] for r in reports]
            assert test["per_class"][name]["recall"]["mean"] == pytest.approx(np.mean(recalls))
            assert test["per_class"][name]["recall"]["std"] == pytest.approx(np.std(recalls, ddof=1))
        clean = summary["views"]["leak_free"]
        assert clean["accuracy"]["values"] == pytest.approx([r["leak_free"]["accuracy"] for r in reports])
        assert np.sum(summary["confusion_sum"]) == 2 * 140
    for condition in ("class-weights", "synthetic@median", "synthetic@x2"):
        d = results["deltas"]["vs_baseline"]["conditions"][condition]["recall"]["happy"]
        by_hand = [cells[(condition, s)]["report"]["per_class"]["happy"]["recall"]
                   - cells[("baseline", s)]["report"]["per_class"]["happy"]["recall"] for s in (0, 1)]
        assert d["mean_delta"] == pytest.approx(np.mean(by_hand)) and d["n_seeds"] == 2
    best = results["best_rebalancing"]
    assert best["condition"] == "class-weights" and best["why"] == "the only rebalancing condition run"
    assert set(results["deltas"]["vs_best_rebalancing"]["conditions"]) == {"synthetic@median", "synthetic@x2"}
    boot = results["item_bootstrap"]["vs_baseline"]["conditions"]["synthetic@median"]
    assert boot["n_boot"] == 200 and boot["verdict"] in ("helped", "hurt", "within noise")
    ci = results["conditions"]["baseline"]["views"]["test"]["per_class"]["happy"]["recall_bootstrap_ci"]
    mean = results["conditions"]["baseline"]["views"]["test"]["per_class"]["happy"]["recall"]["mean"]
    assert ci[0] <= mean <= ci[1]


def test_report_has_verdicts_tables_and_command(study):
    study_dir, _ = study
    report = (study_dir / "report.md").read_text()
    assert ("`fergan study --data builtin:train=280,val=70,test=140,seed=3 --conditions baseline,class-weights,synthetic "
            "--synthetic ") in report and "--amounts median,x2 --seed-list 0,1 --model basic-cnn --epochs 1" in report
    assert "disgust recall: synthetic@median vs baseline" in report
    assert "disgust recall: synthetic@x2 vs class-weights" in report
    for heading in ("## Verdicts", "## Overall (test split)", "## Per-class recall, test split",
                    "## Per-class recall, leak-free view", "## Deltas vs baseline",
                    "## Deltas vs the best rebalancing condition (class-weights)", "## Paired bootstrap",
                    "wall time"):
        assert heading in report
    assert "| synthetic@median | disgust | 36 | 30 | 30, 30 |" in report


def test_report_only_rebuilds_the_same_results(study, tmp_path):
    study_dir, _ = study
    copy = Path(shutil.copytree(study_dir, tmp_path / "copy"))
    before = json.loads((copy / "results.json").read_text())
    for name in ("results.json", "report.md", "recall_deltas.png"):
        (copy / name).unlink()
    result = invoke(["--report-only", str(copy), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "ignoring --epochs" in result.output and result.output.strip().splitlines()[-1] == str(copy)
    after = json.loads((copy / "results.json").read_text())
    assert after["conditions"] == before["conditions"] and after["deltas"] == before["deltas"]
    assert (copy / "report.md").is_file() and (copy / "recall_deltas.png").is_file()


@pytest.mark.slow
def test_resume_trains_only_unfinished_cells(study, tmp_path):
    study_dir, _ = study
    copy = Path(shutil.copytree(study_dir, tmp_path / "copy"))
    # Interrupted after training, before cell.json: continued from its checkpoint.
    (copy / "cells/synthetic@x2/seed1/cell.json").unlink()
    # Interrupted before config.json was written: only a checkpoints folder; restarted afresh.
    baseline1 = copy / "cells/baseline/seed1"
    shutil.rmtree(baseline1)
    (baseline1 / "checkpoints").mkdir(parents=True)
    untouched = {p: p.stat().st_mtime_ns for p in copy.glob("cells/*/seed*/cell.json")}
    assert len(untouched) == 6
    # Two cells left and --jobs 2: they run in two spawned processes.
    result = invoke(["--resume", str(copy), "--jobs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    assert all(p.stat().st_mtime_ns == t for p, t in untouched.items())  # finished cells were not retrained
    again = _cells(copy)
    assert again[("synthetic@x2", 1)]["resumed"] is True and again[("baseline", 1)]["resumed"] is False
    last = json.loads((copy / "invocations.jsonl").read_text().splitlines()[-1])
    assert last["jobs"] == 2 and last["cells_to_run"] == 2 and last["cells_finished"] == 2
    # Training is deterministic per seed, in this process or another, so the numbers are as before.
    original = _cells(study_dir)
    for key in [("synthetic@x2", 1), ("baseline", 1)]:
        assert again[key]["items"] == original[key]["items"]
    before = json.loads((study_dir / "results.json").read_text())
    after = json.loads((copy / "results.json").read_text())
    assert _scores(after) == _scores(before) and after["deltas"] == before["deltas"]


def test_one_seed_warns_and_gives_no_interval(study, tmp_path, caplog):
    study_dir, _ = study
    config = StudyConfig.from_dict(load_study(study_dir)["config"] | {"seeds": [0]})
    with caplog.at_level(logging.WARNING):
        one = create_study(config, tmp_path / "runs")
    assert "one seed gives no interval" in caplog.text
    # Reuse the finished seed-0 cells: a study is its cells.
    for cell in load_study(one)["cells"]:
        shutil.copytree(study_dir / cell["path"], one / cell["path"])
    results = write_report(one)
    delta = results["deltas"]["vs_baseline"]["conditions"]["synthetic@median"]["recall"]["disgust"]
    assert delta["ci_low"] is None and "single seed" in delta["note"]
    assert "(one seed: no interval): no verdict" in (one / "report.md").read_text()


# -- bad inputs ----------------------------------------------------------------------------------------

def test_unknown_condition_lists_the_valid_ones(tmp_path):
    result = invoke(["--data", TINY, "--conditions", "baseline,mixup", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown condition 'mixup'; expected some of baseline, class-weights, oversample, synthetic" in result.output


def test_synthetic_condition_needs_a_folder(tmp_path):
    result = invoke(["--data", TINY, "--conditions", "baseline,synthetic", "--out", str(tmp_path), *FAST])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "condition(s) synthetic need --synthetic DIR" in result.output
    assert not any(tmp_path.iterdir())  # refused before a study folder was made


def test_amount_that_does_not_parse(tmp_path):
    result = invoke(["--data", TINY, "--amounts", "median,lots", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "cannot parse amount 'lots'" in result.output


@pytest.mark.parametrize("args, message", [
    (["--seeds", "0"], "0 is not in the range x>=1"),
    (["--seed-list", "1,x"], "is not a comma-separated list of whole numbers"),
    (["--seeds", "2", "--seed-list", "1,2"], "give --seeds or --seed-list, not both"),
    (["--model", "tiny-net"], "unknown model 'tiny-net'; expected one of"),
])
def test_bad_seeds_and_model(tmp_path, args, message):
    result = invoke(["--data", TINY, "--conditions", "baseline", "--out", str(tmp_path), *args])
    assert result.exit_code != 0 and message in result.output


def test_empty_synthetic_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(["--data", TINY, "--synthetic", str(tmp_path / "empty"), "--out", str(tmp_path / "runs"), *FAST])
    assert result.exit_code == 1 and "empty synthetic folder" in result.output


def test_synthetic_images_of_another_size(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 2}, size=64)
    result = invoke(["--data", TINY, "--synthetic", str(folder), "--out", str(tmp_path / "runs"), *FAST])
    assert result.exit_code == 1 and "image is 64x64, expected 48x48" in result.output


def test_synthetic_folder_from_other_data_via_cli(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 2}, source_spec="data/fer2013.csv")
    result = invoke(["--data", TINY, "--synthetic", str(folder), "--out", str(tmp_path / "runs"), *FAST])
    assert result.exit_code == 1
    assert "line 1: face made from data 'data/fer2013.csv', but the study's --data is" in result.output


def test_emotion_the_data_lacks(tmp_path, monkeypatch):
    monkeypatch.setenv("FERGANAUG_CACHE", str(tmp_path / "cache"))
    labels = np.array([0, 2, 3, 4, 5, 6] * 6)  # no disgust anywhere
    splits = np.array([0] * 24 + [1] * 6 + [2] * 6)
    csv = write_fer2013(tmp_path / "fer.csv", random_faces(len(labels)), labels, splits)
    folder = write_synthetic(tmp_path / "syn", str(csv), {"disgust": 2})
    result = invoke(["--data", str(csv), "--synthetic", str(folder), "--cache-dir", str(tmp_path / "cache"),
                     "--out", str(tmp_path / "runs"), *FAST])
    assert result.exit_code == 1 and "has no 'disgust' training faces" in result.output


def test_resume_of_a_folder_that_is_no_study(tmp_path):
    result = invoke(["--resume", str(tmp_path)])
    assert result.exit_code == 1 and "is not a fergan study folder (no study.json)" in result.output


def test_workflow_predictions_are_opt_in(tmp_path, monkeypatch):
    monkeypatch.setattr(workflow, "load_dataset", lambda spec, **kw: toy_faces())
    config = workflow.TrainConfig(model="basic-cnn", epochs=1, batch_size=16, precision="fp32", augment="none",
                                  device="cpu")
    run_dir, report = workflow.run_training(config, DataOptions(spec="toy"), run_dir=tmp_path / "run",
                                            progress=False, with_predictions=True)
    items = report["items"]
    assert len(items["targets"]) == len(items["predictions"]) == len(items["leak_free"]) == report["n"]
    right = sum(t == p for t, p in zip(items["targets"], items["predictions"]))
    assert right / report["n"] == pytest.approx(report["accuracy"])
    assert "items" not in json.loads((run_dir / "test_metrics.json").read_text())


def test_resume_refuses_a_synthetic_folder_that_changed(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 3})
    config = StudyConfig(data=TINY, conditions=("synthetic",), synthetic=str(folder), seeds=(0,), model="basic-cnn")
    study_dir = create_study(config, tmp_path / "runs")
    rows = (folder / "manifest.jsonl").read_text().splitlines()
    (folder / "manifest.jsonl").write_text("\n".join(rows[:2]) + "\n")  # a face removed since the study began
    result = invoke(["--resume", str(study_dir)])
    assert result.exit_code == 1 and "the manifest changed since the study began" in result.output
    assert not (study_dir / "cells").exists()


def test_more_seeds_are_planned_like_the_first(tmp_path):
    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 40})
    config = StudyConfig(data=TINY, conditions=("baseline", "synthetic+oversample"), synthetic=str(folder),
                         seeds=(0, 1), model="basic-cnn", synthetic_share=0.25)
    study_dir = create_study(config, tmp_path / "runs")
    before = load_study(study_dir)
    assert add_seeds(study_dir, grow_to=4) == (2, 3)
    after = load_study(study_dir)
    assert after["cells"][:4] == before["cells"]  # the planned cells are kept as they were
    first = {c["condition"]: c for c in before["cells"] if c["seed"] == 0}
    for cell in after["cells"][4:]:
        like = first[cell["condition"]]
        assert cell["path"] == like["path"].replace("seed0", f"seed{cell['seed']}")
        assert cell["data"] == like["data"]  # the same synthetic faces per class
        assert cell["train"] == {**like["train"], "seed": cell["seed"]}
    assert [(c["condition"], c["seed"]) for c in after["cells"][4:]] == [
        ("baseline", 2), ("synthetic+oversample@median", 2), ("baseline", 3), ("synthetic+oversample@median", 3)]
    assert after["config"]["seeds"] == [0, 1, 2, 3] and after["seeds_added"][0]["seeds"] == [2, 3]
    command = after["command"]
    assert command[command.index("--seed-list") + 1] == "0,1,2,3"
    assert command[command.index("--out") + 1] == str(tmp_path / "runs")
    # Named seeds: only those not in the study yet; none new leaves study.json as it was.
    assert add_seeds(study_dir, seeds=(3, 7, 7)) == (7,)
    unchanged = (study_dir / "study.json").read_text()
    assert add_seeds(study_dir, seeds=(0, 7)) == ()
    assert (study_dir / "study.json").read_text() == unchanged
    with pytest.raises(StudyError, match="already has 5 seeds .* can be added to, not removed"):
        add_seeds(study_dir, grow_to=3)


def test_resume_with_more_seeds_trains_only_the_new_ones(tmp_path):
    first = invoke(["--data", TINY, "--conditions", "baseline,oversample", "--seeds", "1",
                    "--out", str(tmp_path / "runs"), *FAST])
    assert first.exit_code == 0, first.output
    study_dir = Path(first.output.strip().splitlines()[-1])
    trained = {p: p.stat().st_mtime_ns for p in study_dir.glob("cells/*/seed0/cell.json")}
    result = invoke(["--resume", str(study_dir), "--seeds", "2", "--epochs", "5", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "seeds added: 1" in result.output and "ignoring --epochs" in result.output
    assert "ignoring --seeds" not in result.output
    assert all(p.stat().st_mtime_ns == t for p, t in trained.items())  # seed 0 was not retrained
    assert set(_cells(study_dir)) == {(c, s) for c in ("baseline", "oversample") for s in (0, 1)}
    results = json.loads((study_dir / "results.json").read_text())
    assert results["study"]["seeds"] == [0, 1] and results["cells"] == {"planned": 4, "finished": 4, "missing": [], "reused_from": {}}
    assert all(v["seeds"] == [0, 1] for v in results["conditions"].values())
    again = invoke(["--resume", str(study_dir), "--seed-list", "1", "--quiet"])
    assert again.exit_code == 0 and "every seed asked for is in the study already" in again.output


def test_report_of_a_study_without_finished_cells(tmp_path):
    config = StudyConfig(data=TINY, conditions=("baseline", "oversample"), seeds=(0, 1), model="basic-cnn")
    study_dir = create_study(config, tmp_path)
    result = invoke(["--report-only", str(study_dir)])
    assert result.exit_code == 0, result.output
    results = json.loads((study_dir / "results.json").read_text())
    assert results["cells"]["finished"] == 0 and len(results["cells"]["missing"]) == 4
    assert "cells finished: 0 of 4" in (study_dir / "report.md").read_text()


def test_fer_classify_train_adds_only_the_chosen_emotions(tmp_path):
    from classifiers.cli import main as classify

    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 5, "fear": 5})
    args = ["train", "--data", TINY, "--augment-with", str(folder), "--out", str(tmp_path / "runs"),
            "--model", "basic-cnn", "--epochs", "1", "--precision", "fp32", "--augment", "none", "--quiet"]
    result = CliRunner().invoke(classify, [*args, "--augment-emotions", "smug"])
    assert result.exit_code == 1 and "unknown emotion 'smug'" in result.output
    result = CliRunner().invoke(classify, [*args, "--augment-emotions", "disgusted"])
    assert result.exit_code == 0, result.output
    config = json.loads((Path(result.output.strip().splitlines()[-1]) / "config.json").read_text())
    assert config["data"]["synthetic_added"] == {"disgust": 5} and config["data"]["augment_emotions"] == ["disgust"]


# -- logit-adjust and synthetic+oversample -------------------------------------------------------------

def test_opt_in_conditions_parse_and_configure_their_cells(tmp_path):
    assert parse_conditions("synthetic+oversample, logit-adjust,baseline,synthetic+logit-adjust") == (
        "baseline", "logit-adjust", "synthetic+oversample", "synthetic+logit-adjust")
    assert "logit-adjust" not in parse_conditions("all")  # opt-in: a default study keeps its size
    config = StudyConfig(data=TINY, synthetic=str(tmp_path), seeds=(0, 1), model="basic-cnn", synthetic_share=0.25,
                         conditions=("oversample", "logit-adjust", "synthetic+oversample", "synthetic",
                                     "synthetic+logit-adjust"))
    assert config.condition_names == ("oversample", "logit-adjust", "synthetic@median", "synthetic+oversample@median",
                                      "synthetic+logit-adjust@median")
    shared = config.train_config().to_dict()
    expected = {  # condition -> (balanced_sampler, synthetic_share, logit_adjust_tau)
        "oversample": (True, None, 0.0), "logit-adjust": (False, None, 1.0), "synthetic@median": (False, None, 0.0),
        "synthetic+oversample@median": (True, 0.25, 0.0), "synthetic+logit-adjust@median": (False, None, 1.0),
    }
    for name, (balanced, share, tau) in expected.items():
        got = config.cell_train_config(Cell(name, 1)).to_dict()
        assert {k for k in got if got[k] != shared[k]} <= {"seed", "balanced_sampler", "synthetic_share",
                                                           "logit_adjust_tau"}
        assert (got["balanced_sampler"], got["synthetic_share"], got["logit_adjust_tau"]) == (balanced, share, tau)
    assert config.command()[config.command().index("--synthetic-share") + 1] == "0.25"
    assert StudyConfig.from_dict(config.to_dict()) == config
    with pytest.raises(StudyError, match=r"--synthetic-share must be in \[0, 1\], got 1.5"):
        StudyConfig(data=TINY, conditions=("baseline",), synthetic_share=1.5, model="basic-cnn")
    result = invoke(["--data", TINY, "--conditions", "baseline", "--synthetic-share", "-0.1", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--synthetic-share" in result.output


def test_the_real_finish_and_the_synthetic_weight_reach_the_synthetic_cells_only(tmp_path):
    config = StudyConfig(data=TINY, synthetic=str(tmp_path), model="basic-cnn", epochs=4, real_finish_epochs=2,
                         conditions=("oversample", "synthetic", "synthetic+oversample"))
    finish = {name: config.cell_train_config(Cell(name, 0)).real_finish_epochs for name in config.condition_names}
    assert finish == {"oversample": 0, "synthetic@median": 0, "synthetic+oversample@median": 2}
    command = config.command()
    assert command[command.index("--real-finish-epochs") + 1] == "2"
    assert StudyConfig.from_dict(config.to_dict()) == config
    with pytest.raises(StudyError, match="--real-finish-epochs must be below --epochs \\(4\\), got 4"):
        StudyConfig(data=TINY, synthetic=str(tmp_path), model="basic-cnn", epochs=4, real_finish_epochs=4,
                    conditions=("synthetic+oversample",))
    weighed = StudyConfig(data=TINY, synthetic=str(tmp_path), model="basic-cnn", synthetic_weight=0.5,
                          conditions=("oversample", "synthetic+oversample"))
    plan = {"median": (0, 5, 0, 0, 0, 0, 0)}
    assert [data_options(weighed, Cell(name, 0), plan).augment_weight for name in weighed.condition_names] == [1.0, 0.5]
    assert weighed.command()[weighed.command().index("--synthetic-weight") + 1] == "0.5"
    with pytest.raises(StudyError, match="--synthetic-weight weighs synthetic faces, but no synthetic condition"):
        StudyConfig(data=TINY, model="basic-cnn", synthetic_weight=0.5, conditions=("oversample",))
    with pytest.raises(StudyError, match="synthetic\\+oversample cells on real faces; that condition is not in"):
        StudyConfig(data=TINY, synthetic=str(tmp_path), model="basic-cnn", real_finish_epochs=1,
                    conditions=("oversample", "synthetic"))


def test_a_preset_study_trains_the_presets_recipe_under_the_budget_given(tmp_path):
    from classifiers.presets import preset_train_table

    preset = preset_train_table("fer2013-cpu")
    config = StudyConfig(data=TINY, conditions=("baseline", "oversample"), preset="fer2013-cpu", model=preset["model"],
                         epochs=2, scheduler="cosine")
    train = config.cell_train_config(Cell("oversample", 1))
    # the preset's recipe, the study's budget and the cell's own choices on top
    for key in ("optimizer", "lr", "momentum", "nesterov", "weight_decay", "label_smoothing", "test_tta"):
        assert getattr(train, key) == preset[key], key
    assert (train.model, train.epochs, train.scheduler, train.seed, train.balanced_sampler) == (
        preset["model"], 2, "cosine", 1, True)
    assert train.early_stopping is None
    plain = StudyConfig(data=TINY, conditions=("baseline",), model=preset["model"], epochs=2).train_config()
    assert plain.test_tta == "none" and plain.epochs == 2
    command = config.command()
    assert command[command.index("--preset") + 1] == "fer2013-cpu"
    assert StudyConfig.from_dict(config.to_dict()) == config
    study_dir = create_study(config, tmp_path)
    assert load_study(study_dir)["config"]["preset"] == "fer2013-cpu"


def test_the_study_budget_takes_the_options_given_then_the_preset_then_the_defaults():
    from classifiers.presets import preset_train_table
    from ferganaug.study.config import study_budget

    preset = preset_train_table("fer2013-cpu")
    assert study_budget("fer2013-cpu", {"epochs": 3, "model": None}) == {
        "model": preset["model"], "epochs": 3, "batch_size": preset["batch_size"], "augment": preset["augment"],
        "scheduler": preset["scheduler"]}
    assert study_budget(None, {"model": "basic-cnn"}) == {
        "model": "basic-cnn", "epochs": 10, "batch_size": 64, "augment": "standard", "scheduler": "cosine"}


def test_an_unknown_preset_is_refused_before_a_study_folder_is_made(tmp_path):
    result = invoke(["--data", TINY, "--conditions", "baseline", "--preset", "fer2013-fast", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "--preset: unknown classifier preset 'fer2013-fast'; presets: fer2013-cpu" in result.output
    assert not any(tmp_path.iterdir())


def _fake_study(root: Path) -> Path:
    """A finished study on three classes written by hand: logit-adjust has the best macro-F1 of
    the rebalancing conditions, and synthetic+oversample has seeds 0-2 where logit-adjust has 1-2."""
    names = ["angry", "disgust", "fear"]
    targets = [c for c in range(3) for _ in range(10)]
    errors = {"baseline": 9, "class-weights": 6, "oversample": 7, "logit-adjust": 2, "synthetic+oversample@median": 4}
    seeds = {c: [0, 1] for c in errors} | {"synthetic+oversample@median": [0, 1, 2], "logit-adjust": [1, 2]}
    cells = []
    for condition, wrong in errors.items():
        for seed in seeds[condition]:
            bad = {(7 * k + 3 * seed + wrong) % 30 for k in range(wrong + seed)}  # a different mistake set per seed
            predictions = [(t + 1) % 3 if i in bad else t for i, t in enumerate(targets)]
            synthetic = condition.startswith("synthetic")
            cells.append({"condition": condition, "base": condition.split("@")[0], "seed": seed,
                          "path": f"cells/{condition}/seed{seed}",
                          "train": {"synthetic_share": 0.25, "real_finish_epochs": 2} if synthetic
                          else {"synthetic_share": None},
                          "data": {"augment_with": "syn/", "augment_weight": 0.5} if synthetic else {},
                          "items": {"targets": targets, "predictions": predictions, "leak_free": None},
                          "synthetic_added": {"disgust": 5} if synthetic else {},
                          "train_seconds": 1.0, "wall_seconds": 1.0})
    study = {
        "command": ["fergan", "study"], "created": "today", "machine": "a test",
        "config": {"emotions": ["disgust"], "model": "basic-cnn", "epochs": 1, "seeds": [0, 1, 2], "n_boot": 100},
        "data": {"class_names": names, "spec": "by hand"}, "condition_names": list(errors),
        "cells": [{k: c[k] for k in ("condition", "seed", "path", "train", "data")} for c in cells],
        "synthetic": {"path": "syn/"}, "synthetic_plan": {"median": {"wanted": {"disgust": 5}, "planned": {"disgust": 5}}},
    }
    root.mkdir(parents=True)
    (root / "study.json").write_text(json.dumps(study))
    for cell in cells:
        (root / cell["path"]).mkdir(parents=True)
        (root / cell["path"] / "cell.json").write_text(json.dumps(cell))
    return root


def _fake_scores(study_dir: Path) -> Callable[[str, int, str], float]:
    """score(condition, seed, metric) of _fake_study's cells, recomputed from their items;
    metric: macro_f1, or recall/<class>, f1/<class>."""
    from ferganaug.study.aggregate import seed_scores

    cells = {(c["condition"], c["seed"]): c for c in
             (json.loads(p.read_text()) for p in study_dir.glob("cells/*/seed*/cell.json"))}

    def score(condition: str, seed: int, metric: str) -> float:
        items = cells[(condition, seed)]["items"]
        s = seed_scores(np.array(items["targets"]), np.array(items["predictions"]), ("angry", "disgust", "fear"))
        if metric == "macro_f1":
            return s["macro_f1"]
        kind, name = metric.split("/")
        return s["per_class"][name][kind]

    return score


def test_logit_adjust_joins_the_best_rebalancing_comparison(tmp_path):
    study_dir = _fake_study(tmp_path / "study")
    results = write_report(study_dir)
    best = results["best_rebalancing"]
    assert best["condition"] == "logit-adjust"
    assert set(best["macro_f1_means"]) == {"class-weights", "oversample", "logit-adjust"}
    vs_best = results["deltas"]["vs_best_rebalancing"]
    assert vs_best["reference"] == "logit-adjust"
    assert set(vs_best["conditions"]) == {"class-weights", "oversample", "synthetic+oversample@median"}
    # Paired by seed: synthetic+oversample's seeds 1 and 2 against logit-adjust's seeds 1 and 2.
    score = _fake_scores(study_dir)
    for metric, got in (("macro_f1", vs_best["conditions"]["synthetic+oversample@median"]["macro_f1"]),
                        ("recall/disgust", vs_best["conditions"]["synthetic+oversample@median"]["recall"]["disgust"])):
        by_hand = [score("synthetic+oversample@median", s, metric) - score("logit-adjust", s, metric) for s in (1, 2)]
        assert got["n_seeds"] == 2 and got["mean_delta"] == pytest.approx(np.mean(by_hand))
    lines = [v for v in results["verdicts"] if v["reference"] == "logit-adjust"]
    assert [v["condition"] for v in lines] == ["synthetic+oversample@median"]  # only synthetic faces are on trial
    assert lines[0]["text"].startswith("disgust recall: synthetic+oversample@median vs logit-adjust")
    assert results["study"]["synthetic_share"] == 0.25
    report = (study_dir / "report.md").read_text()
    assert "Best rebalancing condition: **logit-adjust**" in report
    assert "## Deltas vs the best rebalancing condition (logit-adjust)" in report
    assert "a draw is synthetic with probability 0.25 (--synthetic-share)" in report
    assert results["study"]["real_finish_epochs"] == 2
    assert "the last 2 epochs drew real faces only (--real-finish-epochs)" in report
    assert results["study"]["synthetic_weight"] == 0.5
    assert "each one's loss term weighs 0.5, a real face's 1 (--synthetic-weight)" in report


def test_synthetic_faces_face_the_best_condition_without_them_metric_by_metric(tmp_path):
    study_dir = _fake_study(tmp_path / "study")
    results = write_report(study_dir)
    score = _fake_scores(study_dir)
    seeds = {c: [0, 1] for c in ("class-weights", "oversample")} | {"logit-adjust": [1, 2]}  # as _fake_study has them
    per_metric = results["deltas"]["vs_best_per_metric"]
    assert set(per_metric["references"]) == {"macro_f1", "f1/disgust", "recall/disgust"}
    assert set(per_metric["conditions"]) == {"synthetic+oversample@median"}  # only synthetic faces are on trial
    for metric, ref in per_metric["references"].items():
        means = {c: np.mean([score(c, s, metric) for s in seeds[c]]) for c in seeds}
        assert means[ref] == max(means.values())
        delta = per_metric["conditions"]["synthetic+oversample@median"][metric]
        shared = [s for s in (0, 1, 2) if s in seeds[ref]]
        by_hand = [score("synthetic+oversample@median", s, metric) - score(ref, s, metric) for s in shared]
        assert delta["n_seeds"] == len(shared) and delta["mean_delta"] == pytest.approx(np.mean(by_hand))
    lines = results["verdicts_per_metric"]
    assert [v["metric"] for v in lines] == ["macro_f1", "f1/disgust", "recall/disgust"]
    assert lines[1]["text"].startswith(
        f"disgust F1: synthetic+oversample@median vs {per_metric['references']['f1/disgust']}")
    report = (study_dir / "report.md").read_text()
    assert "Against the best condition without synthetic faces, metric by metric:" in report
    assert all(v["text"] in report for v in lines)
    for v in lines:  # a change within noise says how many seeds would separate it
        needed = per_metric["conditions"][v["condition"]][v["metric"]]["seeds_needed"]
        assert (v["verdict"] == "within noise") == (" would separate" in v["text"] or "no practical" in v["text"])
        assert needed is None or f"about {needed} paired seeds" in v["text"]


def test_best_rebalancing_without_logit_adjust_is_as_before(tmp_path):
    study_dir = _fake_study(tmp_path / "study")
    study = load_study(study_dir)
    study["cells"] = [c for c in study["cells"] if c["condition"] != "logit-adjust"]
    study["condition_names"].remove("logit-adjust")
    (study_dir / "study.json").write_text(json.dumps(study))
    shutil.rmtree(study_dir / "cells" / "logit-adjust")
    results = write_report(study_dir)
    assert results["best_rebalancing"]["condition"] == "class-weights"  # 6 mistakes against oversample's 7
    assert set(results["best_rebalancing"]["macro_f1_means"]) == {"class-weights", "oversample"}


@pytest.fixture(scope="module")
def rebalancing_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("rebalancing")
    synthetic = write_synthetic(root / "syn", TINY, {"disgust": 30})
    result = invoke(["--data", TINY, "--conditions", "baseline,oversample,logit-adjust,synthetic+oversample",
                     "--synthetic", str(synthetic), "--synthetic-share", "0.25", "--seeds", "2",
                     "--out", str(root / "runs"), *FAST])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_the_ranking_scores_come_from_each_cells_log_probs_and_pair_with_the_best_rebalancing(rebalancing_study):
    from ferganaug.measure.ranking import average_precision, r_precision, roc_auc
    from ferganaug.study.shift import read_log_probs

    results = json.loads((rebalancing_study / "results.json").read_text())
    ranking = results["ranking"]
    trained = ["baseline", "oversample", "logit-adjust", "synthetic+oversample@median"]
    assert list(ranking["scores"]) == trained  # a +shift view shares its models' ranking: no row of its own
    disgust = EMOTION_INDEX["disgust"]
    by_hand = {}
    for condition in trained:
        arrays = [read_log_probs(rebalancing_study / f"cells/{condition}/seed{s}") for s in (0, 1)]
        by_hand[condition] = {
            "auc": [roc_auc(a["test"][:, disgust], a["test_targets"] == disgust) for a in arrays],
            "average_precision": [average_precision(a["test"][:, disgust], a["test_targets"] == disgust)
                                  for a in arrays],
            "r_precision": [r_precision(a["test"][:, disgust], a["test_targets"] == disgust) for a in arrays]}
        for score in ("auc", "average_precision", "r_precision"):
            assert ranking["scores"][condition]["disgust"][score]["values"] == pytest.approx(by_hand[condition][score])
    reference = ranking["vs_best_rebalancing"]["reference"]
    assert reference == results["best_rebalancing"]["condition"].removesuffix("+shift")
    assert reference not in ranking["vs_best_rebalancing"]["conditions"]
    change = ranking["vs_best_rebalancing"]["conditions"]["synthetic+oversample@median"]["disgust"]["average_precision"]
    expected = np.mean(np.subtract(by_hand["synthetic+oversample@median"]["average_precision"],
                                   by_hand[reference]["average_precision"]))
    assert change["mean_delta"] == pytest.approx(expected) and change["seeds"] == [0, 1]
    report = (rebalancing_study / "report.md").read_text()
    assert "## Ranking (threshold-free)" in report and f"R-precision against {reference}" in report


def test_a_study_with_logit_adjust_and_synthetic_oversampling(rebalancing_study):
    study_dir = rebalancing_study
    study = load_study(study_dir)
    assert study["config"]["synthetic_share"] == 0.25
    assert study["condition_names"] == ["baseline", "oversample", "logit-adjust", "synthetic+oversample@median"]
    assert "--synthetic-share 0.25" in " ".join(study["command"])
    cells = _cells(study_dir)
    assert set(cells) == {(n, s) for n in study["condition_names"] for s in (0, 1)}
    logit = json.loads((study_dir / "cells/logit-adjust/seed0/config.json").read_text())
    assert logit["train"]["logit_adjust_tau"] == 1.0 and len(logit["run"]["logit_adjustment"]) == 7
    mixed = json.loads((study_dir / "cells/synthetic+oversample@median/seed1/config.json").read_text())
    assert mixed["train"]["balanced_sampler"] is True and mixed["train"]["synthetic_share"] == 0.25
    assert mixed["run"]["synthetic_rows"] == 30 and mixed["data"]["synthetic_added"] == {"disgust": 30}
    assert cells[("synthetic+oversample@median", 0)]["train_size"] == 280 + 30
    results = json.loads((study_dir / "results.json").read_text())
    best = results["best_rebalancing"]
    # Shifted boundaries are on by default: every condition has a +shift twin, and the rebalancers' twins
    # (baseline's too) compete for best rebalancing.
    trained = ["oversample", "logit-adjust", "synthetic+oversample@median"]
    assert set(best["macro_f1_means"]) == {"oversample", "logit-adjust", "baseline+shift", "oversample+shift",
                                           "logit-adjust+shift"}
    assert set(results["deltas"]["vs_best_rebalancing"]["conditions"]) == (
        {*trained, *(c + "+shift" for c in ["baseline", *trained])} - {best["condition"]})
    assert [v["condition"] for v in results["verdicts"] if v["reference"] == best["condition"]] == [
        "synthetic+oversample@median", "synthetic+oversample@median+shift"]
    report = (study_dir / "report.md").read_text()
    assert "a draw is synthetic with probability 0.25 (--synthetic-share)" in report
    assert results["study"]["real_finish_epochs"] == 0 and "--real-finish-epochs" not in report
    assert f"disgust recall: synthetic+oversample@median vs {best['condition']}" in report


@pytest.mark.slow
def test_cells_keep_log_probs_that_reproduce_their_predictions(rebalancing_study, tmp_path):
    from ferganaug.study.shift import LOG_PROBS_NPZ, read_log_probs

    copy = Path(shutil.copytree(rebalancing_study, tmp_path / "copy"))
    for (condition, seed), cell in _cells(copy).items():
        arrays = read_log_probs(copy / cell["path"])
        assert arrays["test"].argmax(axis=1).tolist() == cell["items"]["predictions"]
        assert arrays["test_targets"].tolist() == cell["items"]["targets"] and len(arrays["val_targets"]) == 70
    # A cell finished without log_probs.npz gets it predicted from its model.pt by the next report.
    kept = read_log_probs(copy / "cells/oversample/seed1")
    (copy / "cells/oversample/seed1" / LOG_PROBS_NPZ).unlink()
    result = invoke(["--report-only", str(copy)])
    assert result.exit_code == 0, result.output
    again = read_log_probs(copy / "cells/oversample/seed1")
    assert all(np.allclose(again[k], kept[k], atol=1e-5) for k in kept)
    before = json.loads((rebalancing_study / "results.json").read_text())
    assert _scores(json.loads((copy / "results.json").read_text())) == _scores(before)


def test_fer_classify_train_weighs_synthetic_faces_and_resumes_with_the_weight(tmp_path, monkeypatch):
    from classifiers.cli import main as classify

    folder = write_synthetic(tmp_path / "syn", TINY, {"disgust": 5})
    result = CliRunner().invoke(classify, [
        "train", "--data", TINY, "--augment-with", str(folder), "--augment-weight", "0.25", "--balanced-sampler",
        "--set", "synthetic_share=0.5", "--set", "logit_adjust_tau=0.5", "--out", str(tmp_path / "runs"),
        "--model", "basic-cnn", "--epochs", "1", "--precision", "fp32", "--augment", "none", "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["data"]["augment_weight"] == 0.25 and saved["run"]["synthetic_loss_weight"] == 0.25
    assert saved["run"]["synthetic_rows"] == 5
    assert saved["train"]["synthetic_share"] == 0.5 and saved["train"]["logit_adjust_tau"] == 0.5
    seen = {}

    class Spy(workflow.Trainer):
        def __init__(self, config, data, *args, **kwargs):
            seen.update(weight=data.synthetic_weight, rows=int(data.synthetic.sum()), share=config.synthetic_share)
            super().__init__(config, data, *args, **kwargs)

    monkeypatch.setattr(workflow, "Trainer", Spy)
    workflow.resume_training(run_dir, progress=False)
    assert seen == {"weight": 0.25, "rows": 5, "share": 0.5}  # --resume rebuilds the weights from config.json


def test_a_study_config_names_its_emotions_canonically_and_refuses_bad_seeds():
    config = StudyConfig(data=TINY, conditions=("baseline",), model="basic-cnn", emotions=("Fearful", "anger"),
                         seeds=[2, 0])
    assert config.emotions == ("angry", "fear") and config.seeds == (2, 0)
    for seeds, message in (([], "at least one seed"), ([1, 1], r"distinct, got \[1, 1\]"),
                           ([0, -1], r">= 0, got \[0, -1\]")):
        with pytest.raises(StudyError, match=message):
            StudyConfig(data=TINY, conditions=("baseline",), model="basic-cnn", seeds=seeds)
    with pytest.raises(StudyError, match="no emotion chosen"):
        StudyConfig(data=TINY, conditions=("baseline",), model="basic-cnn", emotions=())
    with pytest.raises(StudyError, match="grumpy"):
        StudyConfig(data=TINY, conditions=("baseline",), model="basic-cnn", emotions=("grumpy",))
