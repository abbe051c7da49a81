"""The built-in procedural faces: render contract, counterparts, dataset splits and bad input."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from ferganaug.data import FaceDataset
from ferganaug.data.builtin import (
    ACTION_UNITS, GENERATOR_VERSION, IdentityParams, builtin_dataset, prototype_matrix, render,
    render_counterparts,
)
from ferganaug.data.builtin.dataset import FER2013_TRAIN_COUNTS
from ferganaug.emotions import EMOTION_INDEX, EMOTIONS

HAPPY, NEUTRAL, SURPRISE, DISGUST = (EMOTION_INDEX[e] for e in ("happy", "neutral", "surprise", "disgust"))


@pytest.fixture(scope="module")
def small() -> FaceDataset:
    return builtin_dataset(train=700, val=140, test=140, seed=3)


def _coords() -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre canvas coordinates (u right, v down, both in [-1, 1]) as [48, 48] arrays."""
    c = -1.0 + (np.arange(48) + 0.5) * 2.0 / 48
    return np.meshgrid(c, c)  # u varies along columns, v along rows


def test_shape_dtype_and_value_range() -> None:
    faces = render([0, 1, 2, 3, 4], ["happy", "sad", 0, 6, "surprise"])
    assert faces.shape == (5, 1, 48, 48)
    assert faces.dtype == torch.uint8
    assert faces.float().std() > 20  # a face, not a flat card
    assert render([], []).shape == (0, 1, 48, 48)


def test_same_arguments_give_identical_bytes() -> None:
    args = ([5, 9, 5, 123456789], [3, 1, 4, 2], [0.3, 1.0, 0.7, 0.5], [11, 12, 13, 2**60])
    assert torch.equal(render(*args), render(*args))
    assert torch.equal(render(*args, nuisance=False), render(*args, nuisance=False))


def test_a_face_renders_the_same_in_any_batch_position() -> None:
    g = torch.Generator().manual_seed(0)
    n = 300  # more than one internal chunk, last one ragged
    ids, emo = torch.randint(0, 10**6, (n,), generator=g), torch.randint(0, 7, (n,), generator=g)
    inten, seeds = torch.rand(n, generator=g), torch.randint(0, 2**62, (n,), generator=g)
    whole = render(ids, emo, inten, seeds)
    for s, e in [(0, 1), (7, 40), (255, 258), (299, 300)]:
        assert torch.equal(render(ids[s:e], emo[s:e], inten[s:e], seeds[s:e]), whole[s:e])


def test_names_and_indices_are_the_same_emotions() -> None:
    by_name = render([1, 2, 3], ["anger", "happiness", "surprised"], 0.8, [4, 5, 6])
    by_index = render([1, 2, 3], torch.tensor([0, 3, 5]), 0.8, [4, 5, 6])
    assert torch.equal(by_name, by_index)
    assert torch.equal(render([1, 2], "happy", 0.8, [4, 5]), render([1, 2], [3, 3], 0.8, [4, 5]))
    assert torch.equal(render([1, 2], np.array(["sad", "fear"]), 0.8, [4, 5]), render([1, 2], [4, 2], 0.8, [4, 5]))


def test_identity_params_reproducible_and_varied() -> None:
    a, b = IdentityParams.from_id(42), IdentityParams.from_id(42)
    assert a == b
    assert len(IdentityParams.field_names()) >= 10
    rows = np.stack([IdentityParams.from_id(i).as_array() for i in range(200)])
    varying = (rows.std(axis=0) > 0).sum()
    assert varying >= 20  # geometry, tone, hair, eyes, brows, nose, mouth, glasses, beard
    assert 0 < rows[:, IdentityParams.field_names().index("glasses")].mean() < 0.4
    with pytest.raises(ValueError, match="non-negative"):
        IdentityParams.from_id(-1)


def test_different_identities_give_different_faces() -> None:
    faces = render(list(range(12)), "neutral", nuisance=False).float().flatten(1)
    dist = torch.cdist(faces, faces) / 48  # root-mean-square difference per pixel, in grey levels
    off_diagonal = dist[~torch.eye(12, dtype=torch.bool)]
    assert off_diagonal.min() > 4


def test_same_emotion_counterpart_is_identical() -> None:
    ids, seeds, inten = [3, 8, 21], [100, 200, 300], [0.4, 0.9, 0.6]
    assert torch.equal(render(ids, "fear", inten, seeds), render(ids, ["fear"] * 3, inten, seeds))


def test_counterparts_change_only_the_face() -> None:
    """Clean renders: expression edits leave background, hair and ears untouched."""
    u, v = _coords()
    for identity in (0, 3, 7, 11, 24, 40):
        p = IdentityParams.from_id(identity)
        faces = render([identity] * 7, list(range(7)), 1.0, [5] * 7, nuisance=False).int()
        # The face oval, generously lengthened for the jaw drop (AU26).
        inside = (u / (p.face_w * 1.06)) ** 2 + ((v - p.face_cy) / (p.face_h * 1.2)) ** 2 <= 1.0
        for e in range(7):
            changed = (faces[e, 0] != faces[NEUTRAL, 0]).numpy()
            assert not changed[~inside].any(), f"identity {identity}: {EMOTIONS[e]} changed pixels off the face"
            if e != NEUTRAL:
                assert changed.sum() > 15, f"identity {identity}: {EMOTIONS[e]} barely differs from neutral"


def test_counterparts_share_pose_light_noise_and_occluder() -> None:
    """With nuisance on, a counterpart keeps everything but the expression: the frame's top
    corners (background, noise, light) match exactly, and most of the image does too."""
    ids = list(range(30, 60))
    seeds = list(range(1000, 1030))
    neutral = render(ids, "neutral", 0.8, seeds).int()
    for emotion in ("happy", "surprise", "disgust"):
        other = render(ids, emotion, 0.8, seeds).int()
        diff = other != neutral
        # Top corners only: a dropped jaw may legitimately sweep a bottom corner.
        corners = torch.cat([diff[..., :4, :4].flatten(1), diff[..., :4, -4:].flatten(1)], dim=1)
        assert not corners.any(), emotion
        assert diff.float().mean() < 0.5, emotion  # noise or light differing would change ~all
        assert diff.flatten(1).any(dim=1).all(), f"some {emotion} face equals its neutral counterpart"


def test_neutral_and_happy_differ_around_the_mouth() -> None:
    u, v = _coords()
    ids = [0, 5, 9, 13, 17]
    neutral = render(ids, "neutral", 1.0, nuisance=False).float()
    happy = render(ids, "happy", 1.0, nuisance=False).float()
    diff = (happy - neutral).abs()[:, 0].numpy()
    for k, identity in enumerate(ids):
        p = IdentityParams.from_id(identity)
        mouth = (np.abs(u) < p.mouth_w * 1.6) & (np.abs(v - p.mouth_y) < 0.15)
        brows = np.abs(v - (p.eye_y - p.brow_gap)) < 0.08
        assert diff[k][mouth].mean() > 15
        assert diff[k][mouth].mean() > 4 * diff[k][brows].mean()


def test_surprise_raises_the_brows() -> None:
    """Beside the eye, the darkest row (the brow) sits at least two pixels higher in surprise."""
    ids = [0, 2, 4, 5, 6]  # no fringe over the brows
    faces = {e: render(ids, e, 1.0, nuisance=False).float()[:, 0] for e in ("neutral", "surprise")}
    for k, identity in enumerate(ids):
        p = IdentityParams.from_id(identity)
        brow_y = p.eye_y - p.brow_gap
        rows = slice(int((brow_y + 1 - 0.22) * 24), int((brow_y + 1 + 0.08) * 24))
        col = int((1 - p.eye_dx - p.eye_w * 1.15) * 24)  # left brow's outer part, clear of the eye
        row = {e: int(img[k, rows, col].argmin()) for e, img in faces.items()}
        assert row["surprise"] <= row["neutral"] - 2, f"identity {identity}: {row}"


def test_prototypes_follow_facs() -> None:
    proto = prototype_matrix()
    au = {name: i for i, name in enumerate(ACTION_UNITS)}

    def active(emotion: str) -> set[str]:
        return {name for name in ACTION_UNITS if proto[EMOTION_INDEX[emotion], au[name]] > 0}

    assert active("happy") == {"AU6", "AU12"}
    assert active("sad") == {"AU1", "AU4", "AU15"}
    assert active("surprise") == {"AU1", "AU2", "AU5", "AU26"}
    assert {"AU1", "AU2", "AU4", "AU5", "AU20", "AU26"} <= active("fear")
    assert {"AU4", "AU5", "AU24"} <= active("angry")
    assert {"AU9", "AU10", "AU15"} <= active("disgust")
    assert active("neutral") == set()


def test_dataset_columns_and_splits(small: FaceDataset) -> None:
    n = len(small)
    assert n == 980 and small.source == "builtin"
    assert small.images.shape == (n, 1, 48, 48) and small.images.dtype == torch.uint8
    assert small.labels.dtype == torch.int64 and small.identities.dtype == torch.int64
    assert [int((small.splits == k).sum()) for k in range(3)] == [700, 140, 140]
    assert small.info["generator"] == GENERATOR_VERSION
    assert small.info["nuisance_seeds"].dtype == torch.int64 and small.info["nuisance_seeds"].shape == (n,)
    assert small.info["intensities"].dtype == torch.float32 and small.info["intensities"].shape == (n,)
    inten = small.info["intensities"]
    assert 0.2 <= float(inten.min()) and float(inten.max()) <= 1.0 and float(inten.min()) < 0.35


def test_identities_disjoint_across_splits(small: FaceDataset) -> None:
    ids = {name: set(small.split(name).identities.tolist()) for name in ("train", "val", "test")}
    assert not ids["train"] & ids["val"]
    assert not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    assert len(ids["train"]) == 35  # about 20 faces per identity
    per_identity = torch.bincount(torch.unique(small.identities, return_inverse=True)[1])
    assert int(per_identity.min()) >= 19 and int(per_identity.max()) <= 21


def test_class_distribution_follows_fer2013(small: FaceDataset) -> None:
    target = np.asarray(FER2013_TRAIN_COUNTS) / sum(FER2013_TRAIN_COUNTS)
    for name in ("train", "val", "test"):
        part = small.split(name)
        counts = np.asarray(part.class_counts())
        assert np.abs(counts - target * len(part)).max() <= 1.0, name
        assert counts.argmin() == EMOTION_INDEX["disgust"], name
        assert counts.argmax() == HAPPY, name


def test_balanced_distribution_and_seeds() -> None:
    ds = builtin_dataset(train=70, val=14, test=14, seed=1, distribution="balanced")
    assert ds.split("train").class_counts() == [10] * 7
    assert ds.split("test").class_counts() == [2] * 7
    again = builtin_dataset(train=70, val=14, test=14, seed=1, distribution="balanced")
    assert torch.equal(ds.images, again.images) and torch.equal(ds.identities, again.identities)
    other = builtin_dataset(train=70, val=14, test=14, seed=2, distribution="balanced")
    assert not set(ds.identities.tolist()) & set(other.identities.tolist())


def test_render_counterparts_reproduces_rows_and_edits_them(small: FaceDataset) -> None:
    test = small.split("test")  # subset follows the per-row info columns
    assert torch.equal(render_counterparts(test, test.labels), test.images)
    target = (test.labels + 3) % 7
    edited = render_counterparts(test, target)
    assert edited.shape == test.images.shape
    changed = (edited != test.images).flatten(1).any(dim=1)
    assert changed.float().mean() > 0.95
    same = render(test.identities, target, test.info["intensities"], test.info["nuisance_seeds"])
    assert torch.equal(edited, same)
    neutral = test.labels == NEUTRAL
    assert torch.equal(render_counterparts(test, "neutral")[neutral], test.images[neutral])


def test_bad_input_raises_clear_errors(small: FaceDataset) -> None:
    with pytest.raises(ValueError, match="unknown emotion 'grumpy'"):
        render([1, 2], ["happy", "grumpy"])
    with pytest.raises(ValueError, match="got 2 emotions for 3 identities"):
        render([1, 2, 3], ["happy", "sad"])
    with pytest.raises(ValueError, match="got 2 intensities for 3 identities"):
        render([1, 2, 3], "sad", [0.5, 0.7])
    with pytest.raises(ValueError, match="got 1 nuisance_seeds for 2 identities"):
        render([1, 2], "sad", nuisance_seeds=[4])
    with pytest.raises(ValueError, match="out of range"):
        render([1], [7])
    with pytest.raises(ValueError, match="non-negative"):
        render([-3], ["sad"])
    with pytest.raises(ValueError, match="contempt"):
        render([1], ["contempt"])
    with pytest.raises(ValueError, match="unknown distribution 'uniform'"):
        builtin_dataset(train=10, val=0, test=0, distribution="uniform")
    with pytest.raises(ValueError, match="train must be a non-negative integer"):
        builtin_dataset(train=-5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        builtin_dataset(train=10, val=0, test=0, seed=-1)
    foreign = FaceDataset(images=small.images[:4], labels=small.labels[:4], splits=small.splits[:4], source="fer2013")
    with pytest.raises(ValueError, match="builtin_dataset"):
        render_counterparts(foreign, "happy")
    with pytest.raises(ValueError, match="got 3 emotions for 140 identities"):
        render_counterparts(small.split("test"), ["happy"] * 3)


def test_drawing_regions_bound_every_feature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Features are drawn inside fixed rectangles for speed; widening every rectangle to the
    whole canvas must not change a single pixel, even at the strongest expressions."""
    module = importlib.import_module("ferganaug.data.builtin.face")
    g = torch.Generator().manual_seed(0)
    n = 128
    args = (torch.randint(0, 10**9, (n,), generator=g), torch.randint(0, 7, (n,), generator=g),
            torch.rand(n, generator=g) * 3.0, torch.randint(0, 2**62, (n,), generator=g))
    tight = render(*args)
    region = module.region
    monkeypatch.setattr(module, "_MOUTH_ROWS", (-1.0, 1.0))
    monkeypatch.setattr(module, "region", lambda img, u, v, u0, *_: region(img, u, v, min(u0, 0.0), 1.0, -1.0, 1.0))
    assert torch.equal(render(*args), tight)
