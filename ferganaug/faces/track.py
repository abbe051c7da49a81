"""Following faces through video frames: detect every few frames, track in between.

Detection is the slow step (Haar or MTCNN over the whole frame), so, as in study E, a
detector runs on one frame in ``detect_every`` and a correlation tracker (OpenCV's KCF, or
the slower, steadier CSRT) carries each face's box through the frames between. A tracker
that loses its face ends that track and the next frame is a detection frame.

On a detection frame, detections are matched to the tracks' last boxes by IoU (greedy,
highest first): a matched face keeps its track id and its tracker restarts on the detected box
(which also undoes any drift); an unmatched detection starts a new track with a new id (ids
only increase, never reused); an unmatched track ends.

Detection and tracking both run on a copy shrunk by ``scale`` (one resize per frame, shared);
boxes come back in the frame's own pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ferganaug.data.errors import DataError
from ferganaug.faces.detect import Face, FaceDetector, detect_faces, iou

TRACKERS = ("kcf", "csrt")
DEFAULT_DETECT_EVERY = 6
DEFAULT_IOU_THRESHOLD = 0.3


@dataclass(frozen=True)
class Track:
    """One face in one frame: its track id, its box, and whether the detector found it in this
    frame (True) or the tracker carried it from the last one (False)."""

    track_id: int
    face: Face
    detected: bool


def create_tracker(kind: str) -> cv2.Tracker:
    """A fresh single-object OpenCV tracker by name (``kcf`` or ``csrt``)."""
    if kind not in TRACKERS:
        raise DataError(f"unknown face tracker {kind!r}; expected one of {', '.join(TRACKERS)}")
    return cv2.TrackerKCF_create() if kind == "kcf" else cv2.TrackerCSRT_create()


def match_by_iou(
    previous: list[tuple[float, float, float, float]], detected: list[tuple[float, float, float, float]], threshold: float
) -> dict[int, int]:
    """Greedy one-to-one matching, highest IoU first: {index in ``detected``: index in ``previous``}
    for every pair at or above ``threshold``."""
    pairs = sorted(((iou(p, d), pi, di) for pi, p in enumerate(previous) for di, d in enumerate(detected)), reverse=True)
    matches: dict[int, int] = {}
    used: set[int] = set()
    for overlap, pi, di in pairs:
        if overlap < threshold:
            break
        if di not in matches and pi not in used:
            matches[di] = pi
            used.add(pi)
    return matches


class FaceTracker:
    """Faces with stable track ids, frame by frame (call ``update`` on consecutive frames)."""

    def __init__(
        self,
        detector: FaceDetector,
        detect_every: int = DEFAULT_DETECT_EVERY,
        tracker: str = "kcf",
        iou_threshold: float = DEFAULT_IOU_THRESHOLD,
        scale: float = 1.0,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        create_tracker(tracker)  # an unknown name fails here, not on the first tracking frame
        self.detector, self.detect_every, self.tracker_kind = detector, detect_every, tracker
        self.iou_threshold, self.scale = iou_threshold, scale
        self._tracks: list[Track] = []
        self._trackers: dict[int, cv2.Tracker] = {}
        self._next_id = 0
        self._last_detection: int | None = None
        self._lost = False

    def update(self, rgb: np.ndarray, frame_index: int) -> list[Track]:
        """The faces in ``rgb`` (RGB uint8, frame number ``frame_index``), ordered by track id."""
        small = self._shrink(rgb)
        due = self._last_detection is None or frame_index - self._last_detection >= self.detect_every
        if due or self._lost:
            self._detect(small, frame_index)
        else:
            self._follow(small)
        return list(self._tracks)

    def _shrink(self, rgb: np.ndarray) -> np.ndarray:
        if self.scale == 1.0:
            return rgb
        height, width = rgb.shape[:2]
        size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

    def _detect(self, small: np.ndarray, frame_index: int) -> None:
        faces = detect_faces(self.detector, small, max_side=max(small.shape[:2]))
        matches = match_by_iou([t.face.scaled(self.scale).box for t in self._tracks], [f.box for f in faces],
                               self.iou_threshold)
        tracks, trackers = [], {}
        for di, face in enumerate(faces):  # ``faces`` are in the shrunk frame's pixels, as trackers want
            if di in matches:
                track_id = self._tracks[matches[di]].track_id
            else:
                track_id, self._next_id = self._next_id, self._next_id + 1
            tracks.append(Track(track_id, face.scaled(1.0 / self.scale), detected=True))
            if self.detect_every > 1:  # with detection on every frame nothing is ever tracked
                trackers[track_id] = self._start_tracker(small, face)
        tracks.sort(key=lambda t: t.track_id)
        self._tracks, self._trackers = tracks, trackers
        self._last_detection, self._lost = frame_index, False

    def _start_tracker(self, small: np.ndarray, face: Face) -> cv2.Tracker:
        tracker = create_tracker(self.tracker_kind)
        x, y, w, h = face.box
        tracker.init(small, (round(x), round(y), max(1, round(w)), max(1, round(h))))
        return tracker

    def _follow(self, small: np.ndarray) -> None:
        height, width = small.shape[:2]
        tracks = []
        for track in self._tracks:
            ok, box = self._trackers[track.track_id].update(small)
            x, y, w, h = (float(v) for v in box)
            if ok and w > 0 and h > 0 and x < width and y < height and x + w > 0 and y + h > 0:
                face = moved(track.face.scaled(self.scale), (x, y, w, h)).scaled(1.0 / self.scale)
                tracks.append(Track(track.track_id, face, detected=False))
            else:
                del self._trackers[track.track_id]
                self._lost = True  # re-detect on the next frame
        self._tracks = tracks


def moved(face: Face, box: tuple[float, float, float, float]) -> Face:
    """``face`` carried to ``box``: its landmarks move with the box (shifted and scaled), so a
    tracked MTCNN face is still cut upright by its eye line between detections."""
    x, y, w, h = face.box
    if face.landmarks is None or w <= 0 or h <= 0:
        return Face(box, face.score)
    sx, sy = box[2] / w, box[3] / h
    marks = tuple((box[0] + (mx - x) * sx, box[1] + (my - y) * sy) for mx, my in face.landmarks)
    return Face(box, face.score, marks)
