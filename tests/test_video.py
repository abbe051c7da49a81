"""`fer-classify video` and the face tracker on a synthetic clip: two copies of the astronaut's
face (scikit-image's photo, a real face) moving over a noisy background."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from photos import ASTRONAUT_FACE, face_patch

from classifiers.cli import main
from classifiers.video import (
    SEEN_FACE,
    TrackSmoother,
    VideoError,
    check_output,
    ema,
    record_columns,
)
from ferganaug.emotions import EMOTIONS
from ferganaug.faces.detect import Face, create_detector, iou
from ferganaug.faces.track import FaceTracker, match_by_iou, moved

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FRAMES, SIZE, FPS = 24, (640, 480), 24.0
MARGIN = 57  # around the astronaut's face: the context Haar needs to find it on a plain background
FACE_IN_HEAD = (MARGIN, MARGIN, ASTRONAUT_FACE[2], ASTRONAUT_FACE[3])


def face_offsets(i: int) -> list[tuple[int, int]]:
    """Top-left corners (x, y) of the two pasted crops in frame i: one moves right and down,
    the other left and up, 2-3 pixels a frame."""
    return [(20 + 3 * i, 30 + i), (400 - 2 * i, 240 - i)]


def true_boxes(i: int) -> list[tuple[float, ...]]:
    return [(x + FACE_IN_HEAD[0], y + FACE_IN_HEAD[1], FACE_IN_HEAD[2], FACE_IN_HEAD[3]) for x, y in face_offsets(i)]


def compose_frames() -> list[np.ndarray]:
    face = face_patch(MARGIN)
    background = np.random.default_rng(0).integers(70, 110, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    frames = []
    for i in range(FRAMES):
        frame = background.copy()
        for x, y in face_offsets(i):
            frame[y:y + face.shape[0], x:x + face.shape[1]] = face
        frames.append(frame)
    return frames


def write_video(path, frames: list[np.ndarray], fourcc: str = "mp4v") -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return compose_frames()


@pytest.fixture(scope="module")
def clip(tmp_path_factory, frames):
    path = tmp_path_factory.mktemp("clip") / "two_faces.mp4"
    write_video(path, frames)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("runs")
    result = CliRunner().invoke(main, [
        "train", "--data", "builtin:train=140,val=35,test=35,seed=3", "--model", "basic-cnn", "--epochs", "1",
        "--batch-size", "32", "--precision", "fp32", "--augment", "none", "--out", str(root), "--quiet",
    ])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1] + "/model.pt"


@pytest.fixture(scope="module")
def decoded(clip) -> list[np.ndarray]:
    """The clip's frames as a video reader gives them (RGB), compression and all."""
    capture, frames = cv2.VideoCapture(str(clip)), []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
    assert len(frames) == FRAMES
    return frames


def haar_tracker(detect_every: int) -> FaceTracker:
    """The tracker `fer-classify video` builds for --min-face 80 (its default)."""
    return FaceTracker(create_detector("haar", min_face=SEEN_FACE), detect_every, scale=SEEN_FACE / 80)


def run_video(*args: str):
    return CliRunner().invoke(main, ["video", *args, "--quiet"])


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def classified(tmp_path_factory, clip, checkpoint):
    out = tmp_path_factory.mktemp("out")
    result = run_video(checkpoint, str(clip), "--records", str(out / "records.csv"),
                       "--annotate-out", str(out / "annotated.mp4"))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_haar_finds_both_faces_in_every_frame(decoded):
    tracker = haar_tracker(detect_every=1)
    for i, frame in enumerate(decoded):
        tracks = tracker.update(frame, i)
        assert all(t.detected for t in tracks)
        boxes = sorted((t.face.box for t in tracks), key=lambda b: b[0])
        assert len(boxes) == 2, f"frame {i}: {boxes}"
        assert min(iou(b, t) for b, t in zip(boxes, true_boxes(i))) > 0.5, f"frame {i}: {boxes}"


def test_track_ids_stay_with_their_faces(decoded):
    tracker = haar_tracker(detect_every=6)
    detected_on = []
    for i, frame in enumerate(decoded):
        tracks = tracker.update(frame, i)
        assert [t.track_id for t in tracks] == [0, 1], f"frame {i}"
        for track, truth in zip(tracks, true_boxes(i)):  # id 0 is the face that starts on the left
            assert iou(track.face.box, truth) > 0.5, f"frame {i}, track {track.track_id}: {track.face.box}"
        if tracks[0].detected:
            detected_on.append(i)
    assert detected_on == [0, 6, 12, 18]


def test_new_faces_get_new_ids_and_lost_ones_end(frames):
    tracker = haar_tracker(detect_every=6)
    assert [t.track_id for t in tracker.update(frames[0], 0)] == [0, 1]
    blank = np.full_like(frames[0], 90)
    assert tracker.update(blank, 6) == []  # a detection frame with no face ends both tracks
    assert [t.track_id for t in tracker.update(frames[12], 12)] == [2, 3]  # ids are never reused


def test_a_lost_track_ends_and_the_next_frame_is_a_detection_frame():
    head = face_patch(MARGIN)

    def frame_with_head_at(x: int, y: int) -> np.ndarray:
        frame = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
        frame[y:y + head.shape[0], x:x + head.shape[1]] = head
        return frame

    tracker = haar_tracker(detect_every=6)
    assert [t.track_id for t in tracker.update(frame_with_head_at(20, 20), 0)] == [0]
    jumped = frame_with_head_at(400, 250)  # too far for KCF's search window
    per_frame = [tracker.update(jumped, i) for i in range(1, 6)]
    lost = next(i for i, tracks in enumerate(per_frame) if not tracks)
    after = per_frame[lost + 1]  # well before the scheduled detection on frame 6
    assert [(t.track_id, t.detected) for t in after] == [(1, True)]


def test_a_tracked_face_carries_its_landmarks():
    face = Face((10.0, 20.0, 40.0, 40.0), 0.99, ((20.0, 30.0), (40.0, 30.0), (30.0, 40.0), (22.0, 50.0), (38.0, 50.0)))
    carried = moved(face, (110.0, 20.0, 80.0, 80.0))  # shifted 100 px right, twice the size
    assert carried.box == (110.0, 20.0, 80.0, 80.0) and carried.score == 0.99
    assert carried.landmarks[:2] == ((130.0, 40.0), (170.0, 40.0))
    assert moved(Face((0.0, 0.0, 5.0, 5.0), 1.0), (1.0, 1.0, 5.0, 5.0)).landmarks is None


def test_match_by_iou_is_greedy_and_one_to_one():
    previous = [(0, 0, 10, 10), (8, 0, 10, 10)]
    detected = [(7, 0, 10, 10), (30, 30, 10, 10)]
    assert match_by_iou(previous, detected, 0.3) == {0: 1}  # the better overlap wins; the far box is new
    # highest first: (1,0) takes (0,0) at 0.82, then (4,0) takes (6,0) at 0.67 though (0,0) overlaps it too
    assert match_by_iou([(0, 0, 10, 10), (6, 0, 10, 10)], [(4, 0, 10, 10), (1, 0, 10, 10)], 0.3) == {1: 0, 0: 1}


def test_records_have_the_documented_columns_and_a_row_per_face_per_frame(classified):
    out, output = classified
    rows = read_csv(out / "records.csv")
    assert list(rows[0]) == record_columns(EMOTIONS)
    assert record_columns(EMOTIONS)[:9] == ["frame", "time_s", "track_id", "x", "y", "w", "h", "emotion", "confidence"]
    assert len(rows) == 2 * FRAMES
    assert sorted(int(r["frame"]) for r in rows) == sorted(2 * list(range(FRAMES)))
    for row in rows:
        probs = [float(row[f"p_{e}"]) for e in EMOTIONS]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert row["emotion"] == EMOTIONS[int(np.argmax(probs))] and float(row["confidence"]) == max(probs)
        assert float(row["time_s"]) == pytest.approx(int(row["frame"]) / FPS, abs=1e-4)
        truth = true_boxes(int(row["frame"]))[int(row["track_id"])]
        assert iou(tuple(float(row[k]) for k in "xywh"), truth) > 0.5
    assert {r["track_id"] for r in rows} == {"0", "1"}
    assert f"{FRAMES} frames" in output and "frames/s" in output
    assert output.strip().splitlines()[-2:] == [str(out / "records.csv"), str(out / "annotated.mp4")]


def test_annotated_video_opens_with_every_frame(classified, frames):
    out, _ = classified
    capture = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert capture.isOpened()
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    read = []
    while (frame := capture.read())[0]:
        read.append(frame[1])
    assert len(read) == FRAMES and read[0].shape == (SIZE[1], SIZE[0], 3)
    first = next(r for r in read_csv(out / "records.csv") if r["frame"] == "0")
    x, y, h = (round(float(first[k])) for k in "xyh")
    edge = (y + h // 2, slice(x - 1, x + 2))  # across the left side of the face's box: the drawn line is there
    change = np.abs(cv2.cvtColor(read[0], cv2.COLOR_BGR2RGB).astype(int)[edge] - frames[0][edge].astype(int))
    assert change.max() > 60


def test_smoothing_is_a_per_track_ema(classified, clip, checkpoint, tmp_path):
    alpha = 0.8
    result = run_video(checkpoint, str(clip), "--records", str(tmp_path / "smooth.csv"), "--smooth", str(alpha))
    assert result.exit_code == 0, result.output
    raw, smooth = read_csv(classified[0] / "records.csv"), read_csv(tmp_path / "smooth.csv")
    columns = [f"p_{e}" for e in EMOTIONS]
    for track in ("0", "1"):
        expected = None
        for r, s in zip(*([row for row in rows if row["track_id"] == track] for rows in (raw, smooth))):
            p = np.array([float(r[c]) for c in columns])
            expected = p if expected is None else ema(expected, p, alpha)
            assert np.array([float(s[c]) for c in columns]) == pytest.approx(expected, abs=1e-5)
    assert any(r["p_happy"] != s["p_happy"] for r, s in zip(raw[2:], smooth[2:]))


def test_ema_and_track_smoother():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert ema(a, b, 0.75) == pytest.approx([0.75, 0.25])
    assert ema(a, b, 0.0) == pytest.approx(b)
    smoother = TrackSmoother(0.5)
    assert smoother.update([3], a[None]) == pytest.approx(a[None])  # a track's first frame is its own
    assert smoother.update([3, 4], np.stack([b, b])) == pytest.approx(np.array([[0.5, 0.5], [0.0, 1.0]]))
    assert smoother.update([4], a[None]) == pytest.approx(np.array([[0.5, 0.5]]))
    assert smoother.update([3], b[None]) == pytest.approx(b[None])  # track 3 ended; its past is gone
    off = TrackSmoother(0.0)  # --smooth 0: every frame's probabilities as they are
    off.update([1], a[None])
    assert off.update([1], b[None]) == pytest.approx(b[None])
    assert smoother.update([], np.zeros((0, 2))).shape == (0, 2)


def test_jsonl_counts_frames_without_faces(tmp_path, checkpoint):
    blank = [np.full((120, 160, 3), 90, np.uint8)] * 5
    write_video(tmp_path / "blank.mp4", blank)
    result = run_video(checkpoint, str(tmp_path / "blank.mp4"), "--records", str(tmp_path / "r.jsonl"),
                       "--max-frames", "3")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == [0, 1, 2]
    assert all(r["schema"] == 1 and r["track_id"] is None and r["emotion"] is None for r in rows)
    assert list(rows[0])[1:] == record_columns(EMOTIONS)
    result = run_video(checkpoint, str(tmp_path / "blank.mp4"), "--records", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.csv").read_text().splitlines() == [",".join(record_columns(EMOTIONS))]
    assert "5 frames (0 with faces" in result.output


def test_max_frames_stops_early(clip, checkpoint, tmp_path):
    result = run_video(checkpoint, str(clip), "--records", str(tmp_path / "r.csv"), "--max-frames", "5")
    assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "r.csv")) == 10 and "warning" not in result.output


def test_video_that_ends_early_keeps_its_rows(frames, checkpoint, tmp_path):
    write_video(tmp_path / "full.avi", frames, "MJPG")
    whole = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(whole[: len(whole) // 2])  # the header still claims every frame
    result = run_video(checkpoint, str(tmp_path / "cut.avi"), "--records", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert f"of the {FRAMES} frames its header claims" in result.output
    rows = read_csv(tmp_path / "r.csv")
    read = int(result.output.split("warning: ")[1].split(" ended after ")[1].split()[0])
    assert 0 < read < FRAMES and len(rows) == 2 * read


def test_video_with_no_frame_is_a_clear_error(frames, checkpoint, tmp_path):
    write_video(tmp_path / "full.avi", frames[:2], "MJPG")
    whole = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "empty.avi").write_bytes(whole[: whole.find(b"movi") + 4])  # headers, no frame data
    result = run_video(checkpoint, str(tmp_path / "empty.avi"), "--records", str(tmp_path / "r.csv"))
    assert result.exit_code == 1
    assert f"{tmp_path / 'empty.avi'}: no frame could be read" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("name, content, message", [
    ("not_a_video.mp4", b"hello, I am text", "cannot open as a video"),
    ("missing.mp4", None, "no such video file"),
])
def test_unopenable_video_names_the_file(tmp_path, checkpoint, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run_video(checkpoint, str(path), "--records", str(tmp_path / "r.csv"))
    assert result.exit_code == 1
    assert message in result.output and str(path) in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.csv").exists()


def test_missing_webcam(checkpoint, tmp_path):
    result = run_video(checkpoint, "--webcam", "99", "--records", str(tmp_path / "r.csv"))
    assert result.exit_code == 1
    assert "no webcam at index 99" in result.output


def test_unwritable_output_fails_before_reading(clip, checkpoint, tmp_path):
    (tmp_path / "a_file").write_text("")
    for option, name in (("--records", "r.csv"), ("--annotate-out", "a.mp4")):
        result = run_video(checkpoint, str(clip), option, str(tmp_path / "a_file" / name))
        assert result.exit_code == 1
        assert f"cannot write to the output folder {tmp_path / 'a_file'}" in result.output
        assert "frames/s" not in result.output
    (tmp_path / "folder.csv").mkdir()  # click refuses it on the command line; the library says why too
    with pytest.raises(VideoError, match="folder.csv: is a folder"):
        check_output(str(tmp_path / "folder.csv"), (".csv",), "--records")


def test_input_is_a_file_or_a_webcam(checkpoint, clip):
    for args in ([checkpoint], [checkpoint, str(clip), "--webcam", "0"]):
        result = run_video(*args)
        assert result.exit_code == 2 and "give a video file INPUT or --webcam N" in result.output


def test_bench_script_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_video", Path(__file__).parent.parent / "scripts" / "bench_video.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.main(["--frames", "12", "--faces", "2", "--repeats", "1"])
    assert set(rates) == {2} and all(fps > 0 for fps in rates[2].values())
    printed = capsys.readouterr().out
    assert printed.startswith("CPU: ") and "2.00/2.00/2.00" in printed  # both faces found in every frame
