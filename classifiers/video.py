"""Emotions of the faces in a video or a webcam stream, frame by frame (`fer-classify video`).

Each frame is decoded, its faces found by a :class:`~ferganaug.faces.track.FaceTracker`
(detection every few frames, KCF or CSRT tracking between), cut as 48x48 grey crops
(``align_faces``) and classified in one batch; a face's probabilities can be smoothed over its
track by an exponential moving average. Results stream out as they come, so a stream that
ends early or is interrupted leaves valid files holding every frame done:

Records (``.csv`` or ``.jsonl``), schema version RECORD_SCHEMA_VERSION = 1, one row per face per
frame, columns in this order:

- ``frame``: frame index from 0; ``time_s``: its time in seconds (file: frame / the file's frame
  rate; webcam: wall time since the first frame);
- ``track_id``: the face's track (stable while the face is followed; never reused);
- ``x``, ``y``, ``w``, ``h``: its box in frame pixels (0.1 px);
- ``emotion``, ``confidence``: the most probable emotion and its probability;
- ``p_<emotion>``: every emotion's probability (after smoothing, when on), in the
  classifier's class order.

A frame with no face writes no CSV row; in JSONL it writes one row whose ``track_id`` and
face columns are null, so JSONL counts every frame. JSONL rows also carry ``"schema": 1``.

The annotated video (mp4v) is every frame with each face's box and "id emotion p".
"""

from __future__ import annotations

import contextlib
import csv
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from classifiers.predict import FacePredictor
from ferganaug.data.errors import DataError
from ferganaug.faces.align import align_faces
from ferganaug.faces.detect import create_detector
from ferganaug.faces.draw import draw_faces
from ferganaug.faces.track import DEFAULT_DETECT_EVERY, FaceTracker, Track
from ferganaug.utils.files import check_writable
from ferganaug.utils.progress import progress_bar
from ferganaug.utils.threads import torch_threads

RECORD_SCHEMA_VERSION = 1
RECORD_SUFFIXES = (".csv", ".jsonl")
# Frames are shrunk until the smallest face asked for (--min-face) is this many pixels, the size
# from which Haar finds faces reliably (measured on the astronaut's face over noise: 35 px, 3 of
# 30 frames; 44 px, 25 of 30; 52 px, 29 of 30); a smaller frame is what makes detection and
# tracking cheap (640x480 with --min-face 80: Haar runs on 320x240, 5x faster than on 640x480).
SEEN_FACE = 40
WEBCAM_FPS = 30.0  # the rate assumed when a camera (or file) reports none


class VideoError(DataError):
    """A video or webcam that cannot be read, or an output that cannot be written."""


@dataclass(frozen=True)
class VideoOptions:
    """One `fer-classify video` job: exactly one of ``video`` (a file) and ``webcam`` (an index)."""

    checkpoint: str
    video: str | None = None
    webcam: int | None = None
    records: str | None = None
    annotate_out: str | None = None
    detector: str = "haar"
    detect_every: int = DEFAULT_DETECT_EVERY
    tracker: str = "kcf"
    smooth: float = 0.0
    min_face: int = 80
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if (self.video is None) == (self.webcam is None):
            raise ValueError("give exactly one of a video file and a webcam index")
        if not 0.0 <= self.smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {self.smooth}")


@dataclass
class VideoSummary:
    frames: int = 0
    frames_with_faces: int = 0
    faces: int = 0  # faces classified, summed over frames (= record rows)
    tracks: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    note: str | None = None  # why the stream stopped, when that was not its end or --max-frames

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def record_columns(class_names: Sequence[str]) -> list[str]:
    """The records' columns, in order (schema RECORD_SCHEMA_VERSION; see the module docstring)."""
    return ["frame", "time_s", "track_id", "x", "y", "w", "h", "emotion", "confidence", *(f"p_{n}" for n in class_names)]


def ema(previous: np.ndarray, current: np.ndarray, alpha: float) -> np.ndarray:
    """One step of an exponential moving average: ``alpha`` is the weight kept by the past."""
    return alpha * previous + (1.0 - alpha) * current


class TrackSmoother:
    """Per-track EMA of probabilities; a track's first frame starts its average, an ended
    track's average is dropped (ids are never reused)."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self._state: dict[int, np.ndarray] = {}

    def update(self, track_ids: Sequence[int], probs: np.ndarray) -> np.ndarray:
        if self.alpha == 0.0:
            return probs
        smoothed = np.array([ema(self._state[t], p, self.alpha) if t in self._state else p
                             for t, p in zip(track_ids, probs)], dtype=probs.dtype).reshape(probs.shape)
        self._state = dict(zip(track_ids, smoothed))
        return smoothed


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs its own warnings when a capture fails to open; ours names the input instead."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_capture(options: VideoOptions) -> tuple[cv2.VideoCapture, str]:
    """The opened capture and its name for messages."""
    if options.webcam is not None:
        with _quiet_opencv():
            capture = cv2.VideoCapture(options.webcam)
        if not capture.isOpened():
            raise VideoError(f"no webcam at index {options.webcam}")
        return capture, f"webcam {options.webcam}"
    path = Path(options.video)
    if not path.exists():
        raise VideoError(f"no such video file: {path}")
    if not path.is_file():
        raise VideoError(f"{path}: is a folder, expected a video file")
    with _quiet_opencv():
        capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path}: cannot open as a video (not a video file, or a codec OpenCV's FFmpeg lacks)")
    return capture, str(path)


def check_output(path: str | None, suffixes: Sequence[str], what: str) -> None:
    """VideoError now, before any frame is read, unless ``path`` can be written."""
    if path is None:
        return
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise VideoError(f"{target}: {what} must end in {' or '.join(suffixes)}")
    if target.is_dir():
        raise VideoError(f"cannot write {target}: is a folder")
    check_writable(target.parent)


class RecordWriter:
    """Records streamed to CSV or JSONL (the suffix decides), flushed after every frame."""

    def __init__(self, path: str, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        self.jsonl = Path(path).suffix.lower() == ".jsonl"
        self.columns = record_columns(class_names)
        self._file = open(path, "w", newline="")  # noqa: SIM115 - open across frames, closed by close()
        self._csv = None if self.jsonl else csv.writer(self._file, lineterminator="\n")
        if self._csv:
            self._csv.writerow(self.columns)

    def write_frame(self, frame: int, time_s: float, tracks: Sequence[Track], probs: np.ndarray) -> None:
        """Rows of one frame, on disk when this returns."""
        rows = [self._row(frame, time_s, t, p) for t, p in zip(tracks, probs)]
        if self.jsonl:
            lines = rows or [dict.fromkeys(self.columns) | {"frame": frame, "time_s": round(time_s, 4)}]
            self._file.writelines(json.dumps({"schema": RECORD_SCHEMA_VERSION} | r) + "\n" for r in lines)
        else:
            self._csv.writerows([r[c] for c in self.columns] for r in rows)
        self._file.flush()

    def _row(self, frame: int, time_s: float, track: Track, probs: np.ndarray) -> dict:
        top = int(probs.argmax())
        x, y, w, h = (round(v, 1) for v in track.face.box)
        return {"frame": frame, "time_s": round(time_s, 4), "track_id": track.track_id, "x": x, "y": y, "w": w, "h": h,
                "emotion": self.class_names[top], "confidence": round(float(probs[top]), 6),
                **{f"p_{n}": round(float(v), 6) for n, v in zip(self.class_names, probs)}}

    def close(self) -> None:
        self._file.close()


def open_video_writer(path: str, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise VideoError(f"cannot write the video {path} (OpenCV's mp4v writer refused it)")
    return writer


def labels_for(tracks: Sequence[Track], probs: np.ndarray, class_names: Sequence[str]) -> list[str]:
    return [f"{t.track_id} {class_names[int(p.argmax())]} {p.max():.2f}" for t, p in zip(tracks, probs)]


class Outputs:
    """The records and the annotated video of one run, opened on the first frame read, so an
    input that yields no frame leaves no file behind."""

    def __init__(self, options: VideoOptions, class_names: Sequence[str], fps: float, frame_size: tuple[int, int]) -> None:
        self.class_names = list(class_names)
        self.records = RecordWriter(options.records, class_names) if options.records else None
        self.video = None
        try:
            self.video = open_video_writer(options.annotate_out, fps, frame_size) if options.annotate_out else None
        except VideoError:
            self.close()
            raise
        self.paths = [p for p in (options.records, options.annotate_out) if p]

    def write(self, index: int, time_s: float, rgb: np.ndarray, tracks: Sequence[Track], probs: np.ndarray) -> None:
        """One frame's rows and annotated frame."""
        if self.records:
            self.records.write_frame(index, time_s, tracks, probs)
        if self.video:
            drawn = draw_faces(rgb, [t.face for t in tracks], labels_for(tracks, probs, self.class_names))
            self.video.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self.records:
            self.records.close()
        if self.video:
            self.video.release()  # writes the mp4 index: without it the file does not play


def run_video(options: VideoOptions, progress: bool = True) -> VideoSummary:
    """Classify every face of every frame; write the records and the annotated video asked for."""
    check_output(options.records, RECORD_SUFFIXES, "--records")
    check_output(options.annotate_out, (".mp4",), "--annotate-out")
    classifier = FacePredictor(options.checkpoint)
    scale = min(1.0, SEEN_FACE / options.min_face)
    detector = create_detector(options.detector, min_face=round(options.min_face * scale))
    tracker = FaceTracker(detector, options.detect_every, options.tracker, scale=scale)
    capture, name = open_capture(options)
    try:
        with torch_threads(1):
            return _classify_stream(capture, name, options, classifier, tracker, progress)
    finally:
        capture.release()


def _classify_stream(capture: cv2.VideoCapture, name: str, options: VideoOptions, classifier: FacePredictor,
                     tracker: FaceTracker, progress: bool) -> VideoSummary:
    live = options.webcam is not None
    fps = capture.get(cv2.CAP_PROP_FPS) or WEBCAM_FPS  # a file or camera that reports no rate: 30 frames/s
    claimed = None if live else int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    limit = options.max_frames
    total = claimed if limit is None else (limit if claimed is None else min(claimed, limit))
    smoother, summary, track_ids = TrackSmoother(options.smooth), VideoSummary(), set()
    outputs: Outputs | None = None
    bar = progress_bar(total=total, enabled=progress and not live, desc="fer-classify video", unit="frame")
    start = time.perf_counter()
    try:
        while limit is None or summary.frames < limit:
            ok, bgr = capture.read()
            if not ok:
                break
            index = summary.frames
            if outputs is None:
                outputs = Outputs(options, classifier.class_names, fps, (bgr.shape[1], bgr.shape[0]))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            tracks = tracker.update(rgb, index)
            probs = classifier.probabilities(align_faces(rgb, [t.face for t in tracks])[0]).numpy()
            probs = smoother.update([t.track_id for t in tracks], probs)
            time_s = time.perf_counter() - start if live else index / fps
            outputs.write(index, time_s, rgb, tracks, probs)
            summary.frames += 1
            summary.faces += len(tracks)
            summary.frames_with_faces += bool(tracks)
            track_ids.update(t.track_id for t in tracks)
            bar.update()
    except KeyboardInterrupt:  # the way to stop a webcam: keep what was done
        summary.note = f"interrupted after {summary.frames} frames"
    finally:
        summary.seconds = time.perf_counter() - start
        bar.close()
        if outputs:
            outputs.close()
    summary.tracks, summary.outputs = len(track_ids), outputs.paths if outputs else []
    if summary.frames == 0 and summary.note is None:
        raise VideoError(f"{name}: no frame could be read (an empty or corrupt video?); nothing was written")
    if summary.note is None and claimed and summary.frames < claimed and (limit is None or summary.frames < limit):
        summary.note = (f"{name} ended after {summary.frames} of the {claimed} frames its header claims "
                        "(truncated or corrupt?); the outputs hold the frames read")
    return summary
