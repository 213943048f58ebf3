"""Kvasir-SEG loader, committed split and k-fold."""
import json

import numpy as np
import pytest
from PIL import Image

from gazelib.data import splits
from gazelib.data.datasets import DataMissingError, load_dataset
from gazelib.data.fixations import FixationError
from gazelib.data.kvasir import read_mask


def test_make_split_hand_computed():
    # default_rng(0).permutation(5) == [2, 4, 3, 0, 1] -> the first two positions are the test set
    assert np.random.default_rng(0).permutation(5).tolist() == [2, 4, 3, 0, 1]
    assert splits.make_split(["e", "d", "c", "b", "a"], 2, seed=0) == {"train": ["a", "b", "d"], "test": ["c", "e"]}


def test_kfold_partitions():
    ids = [f"i{j:02d}" for j in range(10)]
    folds = [splits.kfold(ids, k, 3) for k in (1, 2, 3)]
    tests = [f["test"] for f in folds]
    assert sorted(sum(tests, [])) == ids and sorted(len(t) for t in tests) == [3, 3, 4]
    for f in folds:
        assert sorted(f["train"] + f["test"]) == ids and not set(f["train"]) & set(f["test"])
    assert splits.kfold(ids, 1, 3) == folds[0] and splits.kfold(ids, 1, 3, seed=1) != folds[0]
    grouped = splits.kfold(ids, 1, 2, group=lambda i: int(i[1:]) % 2)     # two groups: even, odd
    assert grouped["test"] in (ids[0::2], ids[1::2])
    with pytest.raises(ValueError, match="fold4of3"):
        splits.kfold(ids, 4, 3)


def test_committed_kvasir_split(mirror):
    ds = load_dataset("kvasir", mirror)
    assert len(ds.ids) == 1000 and ds.ids == sorted(ds.ids) and ds.in_channels == 3
    split = ds.split()
    assert (len(split["train"]), len(split["test"])) == (900, 100)
    assert not set(split["train"]) & set(split["test"]) and sorted(split["train"] + split["test"]) == ds.ids
    record = json.loads((splits.SPLITS_DIR / "kvasir.json").read_text())
    assert record["seed"] == 0 and "make_split" in record["made_by"]
    assert splits.make_split(ds.ids, 100, seed=0) == split          # reproducible from its record
    folds = [ds.split(f"fold{k}of5") for k in range(1, 6)]
    assert sorted(sum((f["test"] for f in folds), [])) == ds.ids and {len(f["test"]) for f in folds} == {200}


def test_kvasir_images_masks_scanpaths(mirror):
    ds = load_dataset("kvasir", mirror)
    id = ds.ids[0]
    image, mask = ds.image(id), ds.mask(id)
    assert image.dtype == np.uint8 and image.shape[2] == 3 and mask.dtype == bool
    assert image.shape[:2] == mask.shape
    grey = np.asarray(Image.open(mirror / "kvasir-seg" / "masks" / f"{id}.jpg").convert("L"))
    assert mask.sum() == (grey > 127).sum() > 0
    assert len(ds.scanpaths) == 1000
    assert (ds.scanpath(id).height, ds.scanpath(id).width) == mask.shape
    with pytest.raises(KeyError, match="nope.*kvasir_fixation.csv"):
        ds.scanpath("nope")


def test_mask_threshold_is_strictly_above_127(tmp_path):
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").tolist() == [[False, False, True, True]]


def test_missing_data_says_to_fetch(tmp_path):
    with pytest.raises(DataMissingError, match="gazelib data fetch"):
        load_dataset("kvasir", tmp_path)
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("brats", tmp_path)


def test_kvasir_gaze_is_checked_against_image_sizes(tmp_path):
    root = tmp_path / "d"
    for sub in ("images", "masks"):
        (root / "kvasir-seg" / sub).mkdir(parents=True)
        for name, size in (("a", (5, 3)), ("b", (6, 4))):
            Image.fromarray(np.zeros(size[::-1], np.uint8)).save(root / "kvasir-seg" / sub / f"{name}.jpg")
    (root / "gazemedseg").mkdir()
    (root / "gazemedseg" / "kvasir_fixation.csv").write_text(
        "IMAGE,CURRENT_FIX_INDEX,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,CURRENT_FIX_START,IMAGE_HEIGHT,IMAGE_WIDTH\n"
        "a.jpg,1,0.5,0.5,100,0,3,6\n")
    ds = load_dataset("kvasir", root)
    with pytest.raises(FixationError) as info:
        ds.scanpath("a")
    assert "row 2, column IMAGE_WIDTH: 6 but image 'a.jpg' is 5 pixels" in str(info.value)
    (root / "gazemedseg" / "kvasir_fixation.csv").write_text(
        "IMAGE,CURRENT_FIX_INDEX,CURRENT_FIX_X,CURRENT_FIX_Y,CURRENT_FIX_DURATION,CURRENT_FIX_START,IMAGE_HEIGHT,IMAGE_WIDTH\n"
        "a.jpg,1,0.5,0.5,100,0,3,5\n")
    with pytest.raises(FixationError, match="image 'b' has no fixation"):
        load_dataset("kvasir", root).scanpaths
