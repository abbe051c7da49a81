"""Dataset audit on a tiny dataset with hand-placed duplicates, conflicts, blanks and leaks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from data_fixtures import random_faces, write_fer2013

from ferganaug.data.audit import audit_dataset, format_audit, image_groups, leak_free_mask
from ferganaug.data.dataset import FaceDataset
from ferganaug.data.fer2013 import read_fer2013


@pytest.fixture
def planted() -> FaceDataset:
    a, b, c, d, e = random_faces(5, seed=30)
    black = np.zeros((48, 48), np.uint8)
    grey = np.full((48, 48), 128, np.uint8)
    rows = [
        (a, 0, 0),      # 0 train A
        (a, 0, 0),      # 1 train A (duplicate, same label)
        (b, 1, 0),      # 2 train B
        (b, 2, 0),      # 3 train B with another label: conflict
        (black, 3, 0),  # 4 train, entirely black
        (a, 0, 1),      # 5 val copy of train A: leak
        (c, 4, 1),      # 6 val C
        (c, 4, 2),      # 7 test C: shared by val and test, not a leak
        (d, 5, 2),      # 8 test D
        (b, 1, 2),      # 9 test copy of train B: leak (and joins the conflict group)
        (grey, 6, 1),   # 10 val, blank but not black
        (e, 6, 2),      # 11 test E
    ]
    return FaceDataset(
        images=torch.from_numpy(np.stack([r[0] for r in rows])).unsqueeze(1),
        labels=torch.tensor([r[1] for r in rows]),
        splits=torch.tensor([r[2] for r in rows], dtype=torch.int8),
        source="planted",
    )


def test_audit_numbers(planted):
    r = audit_dataset(planted)
    json.dumps(r)  # JSON-serialisable
    assert r["rows"] == 12 and r["source"] == "planted"
    assert r["counts"]["train"] == {"angry": 2, "disgust": 1, "fear": 1, "happy": 1, "sad": 0, "surprise": 0,
                                    "neutral": 0, "total": 5}
    assert r["counts"]["val"]["total"] == 3 and r["counts"]["test"]["total"] == 4
    assert r["counts"]["all"]["angry"] == 3 and r["counts"]["all"]["total"] == 12
    assert r["distinct_images"] == 7  # A, B, C, D, E, black, grey
    assert r["duplicates"]["groups"] == 3 and r["duplicates"]["rows"] == 8  # A x3, B x3, C x2
    assert sorted(map(sorted, r["duplicates"]["examples"])) == [[0, 1, 5], [2, 3, 9], [6, 7]]
    assert r["conflicts"] == {"groups": 1, "rows": 3, "examples": [[2, 3, 9]]}
    assert r["blank"]["rows"] == 2 and r["blank"]["black"] == 1
    assert r["blank"]["by_split"] == {"train": 1, "val": 1, "test": 0}
    assert r["blank"]["black_by_split"] == {"train": 1, "val": 0, "test": 0}
    assert sorted(r["blank"]["examples"]) == [4, 10]
    assert r["leaks"]["val"] == {"rows": 1, "groups": 1}
    assert r["leaks"]["test"] == {"rows": 1, "groups": 1}
    assert r["leaks"]["total_rows"] == 2
    assert r["val_test_shared"] == {"groups": 1, "val_rows": 1, "test_rows": 1}


def test_leak_free_mask(planted):
    test_mask = leak_free_mask(planted, "test")
    assert test_mask.dtype == torch.bool
    assert test_mask.tolist() == [True, True, False, True]  # rows 7, 8, 9, 11
    assert leak_free_mask(planted, "val").tolist() == [False, True, True]  # rows 5, 6, 10
    clean = planted.split("test").subset(test_mask)
    assert len(clean) == 3 and audit_dataset(clean)["rows"] == 3
    with pytest.raises(ValueError, match="split must be one of val, test"):
        leak_free_mask(planted, "train")


def test_image_groups_follow_exact_bytes(planted):
    group, sizes = image_groups(planted)
    assert group[0] == group[1] == group[5] and group[2] == group[3] == group[9]
    assert group[0] != group[2] and sizes.sum() == 12 and len(sizes) == 7
    # one changed pixel makes a different image
    images = planted.images.clone()
    images[1, 0, 10, 10] ^= 1
    changed = FaceDataset(images=images, labels=planted.labels, splits=planted.splits)
    g2, _ = image_groups(changed)
    assert g2[0] != g2[1] and g2[0] == g2[5]


def test_format_audit_is_readable(planted):
    text = format_audit(audit_dataset(planted))
    assert "planted" in text and "angry" in text and "neutral" in text
    assert "distinct images" in text and " 7 of 12" in text
    assert "with conflicting labels" in text and "covering 3 rows" in text
    assert "entirely black" in text and "test rows copying a training image" in text


def test_audit_through_a_reader(tmp_path):
    faces = random_faces(3, seed=31)
    images = np.stack([faces[0], faces[0], faces[1], faces[2], faces[2]])
    path = write_fer2013(tmp_path / "f.csv", images, [1, 2, 3, 4, 4], [0, 0, 0, 2, 1])
    r = audit_dataset(read_fer2013(path, cache=False))
    assert r["distinct_images"] == 3 and r["conflicts"]["groups"] == 1
    assert r["leaks"]["total_rows"] == 0 and r["val_test_shared"]["groups"] == 1


def test_audit_empty_dataset():
    empty = FaceDataset(images=torch.zeros(0, 1, 48, 48, dtype=torch.uint8), labels=torch.zeros(0, dtype=torch.int64),
                        splits=torch.zeros(0, dtype=torch.int8))
    r = audit_dataset(empty)
    assert r["rows"] == 0 and r["distinct_images"] == 0 and r["duplicates"]["groups"] == 0
    assert "0 rows" in format_audit(r)
