"""Optional checks on the real FER2013 / FER+ files in ../shared/data (skipped when absent).

The expected numbers come from ../shared/data/README.md. The file is decoded once per test run
(module-scoped fixture) into a temporary cache directory.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from ferganaug.data.audit import audit_dataset, leak_free_mask
from ferganaug.data.dataset import SPLIT_INDEX
from ferganaug.data.fer2013 import read_fer2013
from ferganaug.data.spec import load_dataset

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FER2013 = DATA / "fer2013" / "fer2013.csv.gz"
FERPLUS = DATA / "ferplus" / "fer2013new.csv"

pytestmark = pytest.mark.skipif(not FER2013.is_file(), reason=f"real FER2013 not found at {FER2013}")

DECODE_TARGET_S = 30.0
CACHED_TARGET_S = 2.0

# README table: split -> counts in canonical order (angry .. neutral)
CLASS_COUNTS = {
    "train": [3995, 436, 4097, 7215, 4830, 3171, 4965],
    "val": [467, 56, 496, 895, 653, 415, 607],
    "test": [491, 55, 528, 879, 594, 416, 626],
}


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("fer_cache")
    t0 = time.perf_counter()
    ds = read_fer2013(FER2013, cache_dir=cache_dir)
    decode_s = time.perf_counter() - t0
    return ds, decode_s, cache_dir


@pytest.fixture(scope="module")
def report(real):
    return audit_dataset(real[0])


def test_shape_and_class_counts(real):
    ds, decode_s, _ = real
    assert ds.images.shape == (35887, 1, 48, 48) and ds.images.dtype == torch.uint8
    assert ds.info["usage_counts"] == {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    for split, counts in CLASS_COUNTS.items():
        assert ds.split(split).class_counts() == counts, split
    # first row of the file: '0,70 80 82 72 58 ...,Training'
    assert ds.labels[0] == 0 and ds.images[0, 0, 0, :5].tolist() == [70, 80, 82, 72, 58]
    assert decode_s <= DECODE_TARGET_S, f"decode took {decode_s:.1f} s"


def test_cached_load_is_fast_and_equal(real):
    ds, _, cache_dir = real
    t0 = time.perf_counter()
    again = load_dataset(str(FER2013), cache_dir=cache_dir)
    dt = time.perf_counter() - t0
    assert again.info["cache"] == "hit" and dt <= CACHED_TARGET_S
    assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)
    assert torch.equal(again.splits, ds.splits) and again.source == str(FER2013)


def test_audit_matches_readme(report):
    assert report["distinct_images"] == 34034
    assert report["duplicates"]["groups"] == 1516 and report["duplicates"]["rows"] == 3369
    assert report["conflicts"]["groups"] == 57 and report["conflicts"]["rows"] == 160
    assert report["leaks"]["total_rows"] == 568
    assert report["val_test_shared"]["groups"] == 43
    assert report["blank"]["black"] == 12
    assert report["blank"]["black_by_split"] == {"train": 11, "val": 1, "test": 0}


def test_leak_free_mask_real(real, report):
    ds = real[0]
    val, test = leak_free_mask(ds, "val"), leak_free_mask(ds, "test")
    assert len(val) == len(test) == 3589
    assert int((~val).sum()) == report["leaks"]["val"]["rows"]
    assert int((~test).sum()) == report["leaks"]["test"]["rows"]
    assert int((~val).sum() + (~test).sum()) == 568


@pytest.mark.skipif(not FERPLUS.is_file(), reason=f"FER+ votes not found at {FERPLUS}")
def test_ferplus_real(real):
    ds = load_dataset(str(FERPLUS), cache_dir=real[2])  # pixels found in ../fer2013/
    info = ds.info
    assert info["vote_rows"] == 35887 and info["usage_mismatches"] == 0
    assert len(ds) == 35887 - sum(info["dropped"].values())
    assert info["dropped"]["not_face"] > 0 and info["dropped"]["contempt"] > 0
    assert torch.bincount(ds.splits.long(), minlength=3)[SPLIT_INDEX["train"]] < 28709
    # FER+ keeps FER2013's pixels: every FER+ image is one of FER2013's rows
    fer = real[0]
    assert torch.equal(ds.images[0], fer.images[0])  # row 0 has a clear FER+ majority (neutral)
    assert int(ds.labels[0]) == 6 and int(fer.labels[0]) == 0
