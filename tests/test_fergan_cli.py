"""fergan train -> synthesize -> transfer through click, at a tiny size, plus bad inputs."""

import json

import pytest
import torch
from checkpoints_helpers import nudge_first_weight
from click.testing import CliRunner
from PIL import Image

from ferganaug.cli import main
from ferganaug.data.errors import DataError
from ferganaug.data.spec import load_dataset
from ferganaug.emotions import EMOTIONS
from ferganaug.engine.checkpoint import load_checkpoint
from ferganaug.synth import load_generator_file, regenerate

TINY = "builtin:train=280,val=70,test=140,seed=3"


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan")
    result = CliRunner().invoke(main, [
        "train", "--data", TINY, "--steps", "4", "--set", "gan.batch_size=8", "--set", "classifier.epochs=1",
        "--precision", "fp32", "--set", "sample_every=2", "--out", str(root), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_train_writes_a_complete_run(gan_run):
    import os

    names = set(os.listdir(gan_run))
    assert {"config.json", "stats.jsonl", "losses.png", "samples", "checkpoints", "generator.pt",
            "expression-classifier"} <= names
    assert sorted(os.listdir(f"{gan_run}/samples")) == ["000002.png", "000004.png"]
    config = json.load(open(f"{gan_run}/config.json"))
    assert config["expression_classifier"]["trained_here"] is True
    # the builtin preset, with the command line's choices on top
    assert config["preset"] == "builtin"
    assert config["gan"]["steps"] == 4 and config["gan"]["batch_size"] == 8 and config["gan"]["sample_every"] == 2
    assert config["classifier"]["epochs"] == 1 and config["classifier"]["precision"] == "fp32"
    assert config["argv"][0] == "fergan"  # the command line, passed in by the CLI
    stops = config["expression_classifier"]["loss_stops_at_confidence"]
    assert sorted(stops) == sorted(e for e in EMOTIONS if e != "neutral")
    assert all(0 <= p < 1 for p in stops.values())


def _synth(gan_run, out, n, emotion="disgust", seed=0):
    return CliRunner().invoke(main, ["synthesize", "--generator", gan_run, "--emotion", emotion, "--n", str(n),
                                     "--out", str(out), "--seed", str(seed), "--quiet"])


def test_synthesize_resumes_without_duplicates_and_is_deterministic(gan_run, tmp_path):
    out = tmp_path / "synthetic"
    assert _synth(gan_run, out, 5).exit_code == 0
    first = {p.name: p.read_bytes() for p in (out / "disgust").iterdir()}
    result = _synth(gan_run, out, 12)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(12))
    assert len({r["file"] for r in rows}) == 12
    assert sorted(p.name for p in (out / "disgust").iterdir()) == [f"{i:06d}.png" for i in range(12)]
    assert all((out / "disgust" / name).read_bytes() == data for name, data in first.items())
    fresh = tmp_path / "again"
    assert _synth(gan_run, fresh, 12).exit_code == 0
    assert all((fresh / r["file"]).read_bytes() == (out / r["file"]).read_bytes() for r in rows)
    # each image regenerates alone from its manifest row
    generator = load_generator_file(gan_run)
    face = regenerate(rows[7], generator)
    stored = torch.from_numpy(__import__("numpy").array(Image.open(out / rows[7]["file"])))
    assert torch.equal(face[0], stored)


def test_interrupted_synthesis_leaves_consistent_manifest(gan_run, tmp_path, monkeypatch):
    import ferganaug.synth as synth

    out = tmp_path / "cut"
    calls = {"n": 0}
    real_append = synth.append_rows

    def crash_on_second_chunk(path, rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_append(path, rows)

    monkeypatch.setattr(synth, "append_rows", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        synth.synthesize(gan_run, ["disgust", "fear"], 3, out, batch_size=3, progress=False)
    monkeypatch.setattr(synth, "append_rows", real_append)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["emotion"] for r in rows] == ["disgust"] * 3
    assert not list(out.rglob("*.tmp"))
    synth.synthesize(gan_run, ["disgust", "fear"], 3, out, batch_size=3, progress=False)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["emotion"] for r in rows] == ["disgust"] * 3 + ["fear"] * 3


def test_synthetic_folder_is_a_dataset(gan_run, tmp_path):
    out = tmp_path / "s"
    assert _synth(gan_run, out, 4, emotion="disgust,fear").exit_code == 0
    data = load_dataset(str(out))
    assert len(data) == 8 and set(data.labels.tolist()) == {1, 2}


def test_transfer_one_emotion_and_grid(gan_run, tmp_path):
    photo = tmp_path / "me.jpg"
    Image.new("RGB", (120, 90), (200, 150, 120)).save(photo)
    result = CliRunner().invoke(main, ["transfer", str(photo), "--generator", gan_run, "--emotion", "happy",
                                       "--out", str(tmp_path / "t"), "--no-detect"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "t" / "me_happy.png").size == (48, 48)
    result = CliRunner().invoke(main, ["transfer", str(photo), "--generator", gan_run, "--out", str(tmp_path / "t"), "--no-detect"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "me_all-emotions.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["synthesize", "--generator", "{run}", "--emotion", "smug"], "unknown emotion 'smug'"),
    (["synthesize", "--generator", "{run}", "--n", "0"], "0 is not in the range x>=1"),
    (["synthesize", "--generator", "{run}/expression-classifier/model.pt"], "not a ferganaug.generator checkpoint"),
    (["synthesize", "--generator", "{run}", "--out", "/proc/forbidden"], "cannot write to the output folder"),
    (["synthesize", "--generator", "{run}", "--sources", "builtin:train=50,val=0,test=0,distribution=balanced,seed=1"], None),
    (["train", "--data", TINY, "--set", "source_emotions=['contempt']"], "source_emotions must name emotions of"),
    (["train", "--data", TINY, "--set", "gan.expr_confidence=sure"], "expr_confidence must be a probability in [0, 1) or 'real', got 'sure'"),
    (["train", "--data", TINY, "--set", "expr_confidence=1"], "expr_confidence must be a probability in [0, 1) or 'real', got 1.0"),
    (["train", "--data", TINY, "--set", "gan.w_exprr=1"], "unknown key 'w_exprr'; valid keys: steps, batch_size"),
    (["train", "--data", TINY, "--set", "seed=1"], "--set seed: gan and classifier have it"),
    (["train", "--data", TINY, "--set", "gan.lr_g=fast"], "--set gan.lr_g: must be a number, got 'fast'"),
    (["train", "--data", TINY, "--set", "classifier.optimiser=sgd"], "unknown key 'optimiser'"),
    (["train", "--data", TINY, "--preset", "fer2031"], "unknown preset 'fer2031'; presets: builtin, fer2013"),
    (["train", "--expr-classifier", "{run}/generator.pt", "--data", TINY], "not a ferganaug.classifier"),
])
def test_bad_input_is_a_clear_error(gan_run, tmp_path, args, message):
    args = [a.replace("{run}", gan_run) for a in args]
    if "--out" not in args and args[0] == "synthesize":
        args += ["--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output
    if message is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0
        assert message in result.output


def test_data_without_neutral_faces(tmp_path):
    root = tmp_path / "faces" / "happy"
    root.mkdir(parents=True)
    (tmp_path / "faces" / "sad").mkdir()
    for i in range(3):
        Image.new("L", (48, 48), 100 + i).save(root / f"{i}.png")
        Image.new("L", (48, 48), 10 + i).save(tmp_path / "faces" / "sad" / f"{i}.png")
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path / "faces"), "--steps", "1",
                                       "--set", "classifier.epochs=1", "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code != 0
    assert "no neutral faces to use as sources" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_evaluate_reports_hit_rate_and_truth_error(gan_run):
    result = CliRunner().invoke(main, ["evaluate", gan_run, "--evaluator-model", "basic-cnn", "--evaluator-epochs", "1",
                                       "--json", "--quiet", "--no-two-sample", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # --json: exactly one document on stdout
    assert set(report["per_emotion"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise"}
    for target, row in report["per_emotion"].items():
        assert 0.0 <= row["hit_rate"] <= 1.0 and row["mae_vs_truth"] >= 0
        # the confusion row: what the target's edits are read as, of which the hit rate is one entry
        assert sum(row["read_as"].values()) == pytest.approx(1.0) and row["read_as"][target] == row["hit_rate"]
    from ferganaug.evaluate import format_generator_report

    text = format_generator_report(report)
    assert all(f"{target} faces read as: " in text for target in report["per_emotion"])
    assert report["summary"]["evaluator"]["model"] == "basic-cnn"
    assert "metrics.json" in result.stderr
    assert __import__("os").path.isfile(f"{gan_run}/metrics.png")


def test_identity_generator_scores_exactly_the_unchanged_source(gan_run):
    from ferganaug.evaluate import evaluate_generator, resolve_evaluator

    # the one the previous test trained, or (run alone) a new one
    evaluator, _ = resolve_evaluator(None, TINY, gan_run, "basic-cnn", epochs=1, progress=False, precision="fp32")
    identity = lambda faces, target: (faces, torch.zeros_like(faces))  # noqa: E731
    report = evaluate_generator(identity, ("neutral",), load_dataset(TINY), evaluator)
    summary = report["summary"]
    assert summary["mae_vs_truth"] == pytest.approx(summary["mae_source_vs_truth"])
    assert summary["mae_reduction"] == pytest.approx(0.0, abs=1e-9)
    assert all(r["pixel_change"] == 0 for r in report["per_emotion"].values())


def test_presets_lists_each_preset_on_one_line():
    result = CliRunner().invoke(main, ["presets"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["builtin", "fer2013"]
    assert all(len(line.split()) > 2 for line in lines)  # each has a description


def test_config_file_applies_between_preset_and_set(tmp_path):
    from ferganaug.presets import resolve_run_config

    path = tmp_path / "mine.toml"
    path.write_text("[gan]\nw_expr = 7.0\nsteps = 10\n[classifier]\nmodel = \"basic-cnn\"\n")
    config = resolve_run_config("builtin", path, {"steps": 20}, ["gan.w_adv=3"])
    assert (config.gan.w_expr, config.gan.steps, config.gan.w_adv) == (7.0, 20, 3.0)
    assert config.classifier.model == "basic-cnn" and config.classifier.epochs == 12  # the preset's table is kept
    path.write_text("[gan]\nwexpr = 7.0\n")
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--data", TINY])
    assert result.exit_code != 0 and "unknown key 'wexpr'" in result.output and "mine.toml" in result.output


def test_a_failed_start_leaves_no_run_folder(gan_run, tmp_path):
    result = CliRunner().invoke(main, ["train", "--data", TINY, "--expr-classifier", f"{gan_run}/generator.pt",
                                       "--out", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code != 0 and "not a ferganaug.classifier" in result.output
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_torn_manifest_tail_is_mended_before_synthesis_continues(gan_run, tmp_path, caplog):
    from ferganaug.data.synthetic_folder import check_folder

    out = tmp_path / "s"
    assert _synth(gan_run, out, 6).exit_code == 0
    manifest = out / "manifest.jsonl"
    manifest.write_bytes(manifest.read_bytes()[:-30])  # a write cut short inside the last row
    result = _synth(gan_run, out, 8)
    assert result.exit_code == 0, result.output
    assert "moved a torn last manifest line" in caplog.text
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(8))
    assert check_folder(out).ok and len(load_dataset(str(out))) == 8
    check = CliRunner().invoke(main, ["synthesize", "--check", "--out", str(out)])
    assert check.exit_code == 0 and "consistent, 8 rows" in check.output


def test_a_generator_swapped_under_the_same_path_is_refused_and_the_same_one_elsewhere_accepted(gan_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(gan_run, run, ignore=shutil.ignore_patterns("expression-classifier", "samples"))
    out = tmp_path / "s"
    assert _synth(run, out, 3).exit_code == 0
    copy = tmp_path / "elsewhere"
    shutil.copytree(run, copy)
    same = _synth(copy / "generator.pt", out, 4)  # the same weights under another path continue the folder
    assert same.exit_code == 0, same.output
    artifact = torch.load(run / "generator.pt", weights_only=True)
    first = next(iter(artifact["state_dict"]))
    artifact["state_dict"][first] = artifact["state_dict"][first] + 0.01
    torch.save(artifact, run / "generator.pt")
    swapped = _synth(run, out, 5)
    assert swapped.exit_code != 0 and "Traceback" not in swapped.output
    assert "line 1: made by generator" in swapped.output and "use another --out" in swapped.output


def test_a_second_synthesis_into_a_busy_folder_names_the_writer(gan_run, tmp_path):
    import socket
    import subprocess
    import sys

    out = tmp_path / "busy"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        result = _synth(gan_run, out, 3)
        assert result.exit_code != 0 and f"being written by process {holder.pid}" in result.output
        assert not (out / "manifest.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_full_disk_during_synthesis_is_a_message_and_the_folder_continues(gan_run, tmp_path, monkeypatch):
    import errno

    import ferganaug.synth as synth
    from ferganaug.data.synthetic_folder import check_folder

    out = tmp_path / "full"
    real_write, calls = synth.atomic_write_bytes, {"n": 0}

    def disk_fills_up(path, data):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(synth, "atomic_write_bytes", disk_fills_up)
    with pytest.raises(DataError, match="is full; every image the manifest lists is whole"):
        synth.synthesize(gan_run, ["disgust"], 6, out, batch_size=2, progress=False)
    report = check_folder(out)
    assert report.rows == 2 and not report.missing and not report.undecodable
    monkeypatch.setattr(synth, "atomic_write_bytes", real_write)
    synth.synthesize(gan_run, ["disgust"], 6, out, batch_size=2, progress=False)
    assert check_folder(out).ok and check_folder(out).rows == 6


def test_transfer_never_overwrites(gan_run, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (64, 80), (120, 110, 100)).save(tmp_path / folder / "me.jpg")
    out = tmp_path / "t"
    result = CliRunner().invoke(main, ["transfer", str(tmp_path / "a" / "me.jpg"), str(tmp_path / "b" / "me.jpg"),
                                       "--generator", gan_run, "--emotion", "sad", "--out", str(out), "--no-detect"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["me-2_sad.png", "me_sad.png"]  # one file per input
    mine = out / "me_sad.png"
    mine.write_bytes(b"the user's own picture")
    again = CliRunner().invoke(main, ["transfer", str(tmp_path / "a" / "me.jpg"), "--generator", gan_run,
                                      "--emotion", "sad", "--out", str(out), "--no-detect"])
    assert again.exit_code != 0 and "me_sad.png already exists" in again.output
    assert mine.read_bytes() == b"the user's own picture"


def test_resume_finds_its_classifier_from_any_folder_and_refuses_a_swapped_one(gan_run, tmp_path, monkeypatch):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(gan_run, run)
    config = json.loads((run / "config.json").read_text())
    clf = run / "expression-classifier" / "model.pt"
    config["expression_classifier"]["checkpoint"] = str(clf)  # the copy's own classifier, by absolute path
    (run / "config.json").write_text(json.dumps(config))
    monkeypatch.chdir(tmp_path / "run" / "samples")  # anywhere but where it was trained
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    nudge_first_weight(clf)
    swapped = CliRunner().invoke(main, ["train", "--resume", str(run), "--quiet"])
    assert swapped.exit_code != 0 and "is not the expression classifier this run trained with" in swapped.output


def test_resume_with_steps_trains_a_finished_run_longer_and_refuses_fewer(gan_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(gan_run, run)
    before = (run / "config.json").read_bytes()
    fewer = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "2", "--quiet"])
    assert fewer.exit_code != 0 and "--steps 2" in fewer.output and "trained 4 steps already" in fewer.output
    assert (run / "config.json").read_bytes() == before  # nothing recorded for a refused extension
    longer = CliRunner().invoke(main, ["train", "--resume", str(run), "--steps", "6", "--quiet"])
    assert longer.exit_code == 0, longer.output
    config = json.loads((run / "config.json").read_text())
    assert config["gan"]["steps"] == 6 and config["extended"][0]["from_step"] == 4
    assert config["extended"][0]["to_steps"] == 6
    assert load_checkpoint(run / "checkpoints" / "last.pt", ("ferganaug.gan-train-state",))["step"] == 6
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["000002.png", "000004.png", "000006.png"]
    with_seed = CliRunner().invoke(main, ["train", "--resume", str(run), "--seed", "1"])
    assert with_seed.exit_code != 0 and "drop --seed" in with_seed.output


def test_unreadable_config_json_is_a_message_on_resume_and_beside_a_generator(gan_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(gan_run, run, ignore=shutil.ignore_patterns("expression-classifier", "samples"))
    (run / "config.json").write_text("")
    resumed = CliRunner().invoke(main, ["train", "--resume", str(run)])
    assert resumed.exit_code != 0 and "config.json cannot be read as JSON" in resumed.output
    synth = _synth(run, tmp_path / "s", 2)
    assert synth.exit_code != 0 and "Traceback" not in synth.output
    assert "beside the generator is not a readable fergan train config.json" in synth.output


def test_two_writers_at_once_leave_one_consistent_folder(gan_run, tmp_path):
    import subprocess
    import sys

    from ferganaug.data.synthetic_folder import check_folder

    out = tmp_path / "race"
    command = [sys.executable, "-m", "ferganaug.cli", "synthesize", "--generator", gan_run, "--n", "200",
               "--out", str(out), "--quiet"]
    writers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(w.wait(), w.stderr.read()) for w in writers]
    assert any(code == 0 for code, _ in results)
    for code, err in results:  # the other either waited its turn (all there already) or was told who writes
        assert code == 0 or "is being written by process" in err, err
    report = check_folder(out)
    assert report.ok and report.rows == 200
