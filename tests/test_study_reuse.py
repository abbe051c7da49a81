"""fergan study --reuse-cells: finished cells of the same experiment are copied, not retrained;
anything that differs (recipe, data, synthetic folder) is trained."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ferganaug.cli import main
from ferganaug.study import load_study
from ferganaug.study.conditions import StudyError
from ferganaug.study.reuse import REUSED, copy_cell, donor_cell, load_donors

TINY = "builtin:train=280,val=70,test=140,seed=3"
FAST = ["--model", "basic-cnn", "--epochs", "1", "--batch-size", "32", "--augment", "none", "--precision", "fp32",
        "--device", "cpu", "--bootstrap", "200", "--shift", "none", "--quiet"]


def invoke(args: list[str]):
    return CliRunner().invoke(main, ["study", "--data", TINY, *args])


def cell_json(study_dir: Path, condition: str, seed: int) -> dict:
    return json.loads((study_dir / "cells" / condition / f"seed{seed}" / "cell.json").read_text())


@pytest.fixture(scope="module")
def donor(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("donor")
    result = invoke(["--conditions", "baseline", "--seeds", "2", "--out", str(root), *FAST])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_same_cells_are_copied_and_the_rest_trained(donor, tmp_path):
    result = invoke(["--conditions", "baseline,class-weights", "--seeds", "3", "--reuse-cells", str(donor),
                     "--out", str(tmp_path), *FAST])
    assert result.exit_code == 0, result.output
    study_dir = Path(result.output.strip().splitlines()[-1])
    rows = [json.loads(line) for line in (study_dir / REUSED).read_text().splitlines()]
    assert [r["path"] for r in rows] == ["cells/baseline/seed0", "cells/baseline/seed1"]
    assert all(Path(r["from"]).parents[2] == donor for r in rows)
    for seed in (0, 1):  # copied whole: the donor's record and model
        assert cell_json(study_dir, "baseline", seed) == cell_json(donor, "baseline", seed)
        source, copied = donor / f"cells/baseline/seed{seed}", study_dir / f"cells/baseline/seed{seed}"
        assert (copied / "model.pt").read_bytes() == (source / "model.pt").read_bytes()
    # Seed 2 and every class-weights cell were not in the donor: trained here.
    trained = {(c["condition"], c["seed"]) for c in map(json.loads, map(Path.read_text,
               study_dir.glob("cells/*/seed*/cell.json"))) if c["path"] not in {r["path"] for r in rows}}
    assert trained == {("baseline", 2), ("class-weights", 0), ("class-weights", 1), ("class-weights", 2)}
    last = json.loads((study_dir / "invocations.jsonl").read_text().splitlines()[-1])
    assert last["cells_reused"] == 2 and last["cells_finished"] == 6
    report = (study_dir / "report.md").read_text()
    assert f"cells copied from other studies (same experiment, not retrained): 2, from `{donor}`" in report


def _study_with_finished_cell(donor: Path) -> tuple[dict, dict]:
    study = load_study(donor)
    return study, study["cells"][0]


def test_a_different_recipe_data_or_synthetic_folder_is_not_the_same_experiment(donor):
    study, cell = _study_with_finished_cell(donor)
    assert donor_cell(study, cell, donor, copy.deepcopy(study)) == donor / cell["path"]
    other_recipe = copy.deepcopy(study)
    other_recipe["cells"][0]["train"]["epochs"] = 2
    assert donor_cell(study, cell, donor, other_recipe) is None
    other_data = copy.deepcopy(study)
    other_data["data"]["train_class_counts"]["disgust"] += 1
    assert donor_cell(study, cell, donor, other_data) is None
    other_seed = {**cell, "seed": 7}
    assert donor_cell(study, other_seed, donor, study) is None
    # A synthetic cell also needs the same synthetic folder contents.
    synthetic_cell = copy.deepcopy(cell)
    synthetic_cell["data"]["augment_with"] = "/faces"
    ours = {**copy.deepcopy(study), "synthetic": {"manifest_sha256": "a"}}
    ours["cells"][0] = synthetic_cell
    same = {**copy.deepcopy(ours), "synthetic": {"manifest_sha256": "a"}}
    changed = {**copy.deepcopy(ours), "synthetic": {"manifest_sha256": "b"}}
    assert donor_cell(ours, synthetic_cell, donor, same) == donor / cell["path"]
    assert donor_cell(ours, synthetic_cell, donor, changed) is None


def test_an_unfinished_donor_cell_is_not_copied(donor, tmp_path):
    partial = Path(shutil.copytree(donor, tmp_path / "partial"))
    (partial / "cells/baseline/seed0/cell.json").unlink()
    study, cell = _study_with_finished_cell(donor)
    assert donor_cell(study, cell, partial, load_study(partial)) is None


def test_copy_replaces_an_interrupted_run_and_an_interrupted_copy(donor, tmp_path):
    source = donor / "cells/baseline/seed0"
    run_dir = tmp_path / "cells/baseline/seed0"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints/last.pt").write_text("half-trained")
    staging = run_dir.parent / ".seed0.reusing"
    staging.mkdir()
    (staging / "cell.json").write_text("torn")
    copy_cell(source, run_dir)
    assert not staging.exists()
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == sorted(
        p.relative_to(source) for p in source.rglob("*"))
    assert (run_dir / "cell.json").read_bytes() == (source / "cell.json").read_bytes()


def test_bad_donors_are_refused_before_a_study_is_made(donor, tmp_path):
    not_a_study = tmp_path / "nothing"
    not_a_study.mkdir()
    result = invoke(["--conditions", "baseline", "--reuse-cells", str(not_a_study), "--out", str(tmp_path / "runs"),
                     *FAST])
    assert result.exit_code != 0 and "not a fergan study folder" in result.output
    assert not (tmp_path / "runs").exists()
    result = invoke(["--report-only", str(donor), "--reuse-cells", str(donor)])
    assert result.exit_code != 0 and "--reuse-cells" in result.output
    with pytest.raises(StudyError, match="the study itself"):
        load_donors(donor, [donor])


def test_a_donor_recorded_before_a_training_field_existed_is_the_same_experiment(tmp_path):
    from classifiers.train_config import TrainConfig

    train = TrainConfig(model="basic-cnn", epochs=2).to_dict()
    cell = {"condition": "baseline", "seed": 0, "train": train, "data": {"spec": TINY}, "path": "cells/baseline/seed0"}
    older = {**cell, "train": {k: v for k, v in train.items() if k != "real_finish_epochs"}}
    (tmp_path / older["path"]).mkdir(parents=True)
    (tmp_path / older["path"] / "cell.json").write_text("{}")
    study = {"data": {"spec": TINY}, "cells": [cell]}
    donor = {"data": {"spec": TINY}, "cells": [older]}
    assert donor_cell(study, cell, tmp_path, donor) == tmp_path / older["path"]  # the missing field took its default
    changed = {**cell, "train": {**train, "real_finish_epochs": 1, "balanced_sampler": True}}
    assert donor_cell(study, changed, tmp_path, donor) is None
