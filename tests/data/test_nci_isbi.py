"""NCI-ISBI: slice ids from the real labels, and the DICOM -> prepared-slices path on the two real
example slices (each placed in a full synthetic series of its case, shuffled on disk)."""
import json
import shutil

import numpy as np
import pandas as pd
import pydicom
import pytest
from PIL import Image

from gazelib.data.datasets import DataMissingError, load_dataset
from gazelib.data.nci_isbi import NciIsbiError, foreground_slices, prepare_nci_isbi, read_label, slice_ids_from_labels

EXAMPLES = {"Prostate3T-01-0001": 13, "Prostate3T-01-0002": 16}


def test_foreground_slices_are_one_based():
    volume = np.zeros((2, 3, 4), np.int16)
    volume[1, 2, 0] = 2
    volume[0, 0, 2] = 1
    assert foreground_slices(volume).tolist() == [1, 3]


def test_slice_ids_equal_the_gazed_slices(mirror):
    ids = slice_ids_from_labels(mirror / "nci-isbi" / "labels")
    gazed = set(pd.read_csv(mirror / "gazemedseg" / "nci-isbi_fixation.csv")["IMAGE"].str.removesuffix(".jpg"))
    assert len(gazed) == 789 and len({i.rsplit("_", 1)[0] for i in gazed}) == 59
    # 60 labelled cases; the one without gaze is ProstateDx-01-0055, every other slice matches exactly
    ungazed = {i for i in ids if i.startswith("ProstateDx-01-0055_")}
    assert set(ids) - ungazed == gazed
    assert len(ungazed) == 16


def make_raw(mirror, tmp_path, rng):
    """raw/Training/{labels,dicom/<shuffled names>} with a full series per example case: the real slice
    at its place, the others copies of it carrying the constant pixel value 1000 + NRRD index."""
    raw = tmp_path / "raw"
    (raw / "Training" / "labels").mkdir(parents=True)
    for case, k in EXAMPLES.items():
        shutil.copy(mirror / "nci-isbi" / "labels" / f"{case}.nrrd", raw / "Training" / "labels")
        volume, header = read_label(mirror / "nci-isbi" / "labels" / f"{case}.nrrd")
        step = np.asarray(header["space directions"], float)[2]
        real = pydicom.dcmread(mirror / "nci-isbi" / "examples" / f"{case}_{k}.dcm")
        folder = raw / "Training" / "dicom" / case
        folder.mkdir(parents=True)
        for index, name in zip(range(volume.shape[2]), rng.permutation(volume.shape[2])):
            ds = pydicom.dcmread(mirror / "nci-isbi" / "examples" / f"{case}_{k}.dcm")
            if index != k - 1:
                ds.PixelData = np.full((ds.Rows, ds.Columns), 1000 + index, np.uint16).tobytes()
                ds.ImagePositionPatient = list(np.asarray(real.ImagePositionPatient, float) + (index - (k - 1)) * step)
                ds.InstanceNumber = index + 1
                ds.SOPInstanceUID = pydicom.uid.generate_uid()
            ds.save_as(folder / f"IM{name:04d}")
    return raw


@pytest.fixture
def prepared(mirror, tmp_path):
    raw = make_raw(mirror, tmp_path, np.random.default_rng(1))
    out = tmp_path / "data" / "nci-isbi" / "prepared"
    return raw, out, prepare_nci_isbi(raw, out)


def test_prepare_reads_pixels_in_slice_order(mirror, prepared):
    raw, out, report = prepared
    expected = slice_ids_from_labels(raw / "Training" / "labels")
    assert report["cases"] == 2 and report["slices"] == {"train": len(expected)}
    assert json.loads((out / "split.json").read_text())["train"] == expected
    for case, k in EXAMPLES.items():
        real = pydicom.dcmread(mirror / "nci-isbi" / "examples" / f"{case}_{k}.dcm").pixel_array
        image = np.load(out / "images" / f"{case}_{k}.npy")
        assert image.dtype == np.float32
        np.testing.assert_array_equal(image, real.astype(np.float32))
        volume, _ = read_label(mirror / "nci-isbi" / "labels" / f"{case}.nrrd")
        mask = np.asarray(Image.open(out / "masks" / f"{case}_{k}.png"))
        assert mask.shape == image.shape and set(np.unique(mask)) == {0, 255}
        np.testing.assert_array_equal(mask > 0, volume[:, :, k - 1].T > 0)
    for id in expected:                          # every other slice came from its own position
        case, k = id.rsplit("_", 1)
        if int(k) != EXAMPLES[case]:
            assert np.all(np.load(out / "images" / f"{id}.npy") == 1000 + int(k) - 1)


def test_loader_reads_prepared_layout(prepared):
    raw, out, _ = prepared
    ds = load_dataset("nci_isbi", out.parent.parent)
    assert ds.ids == slice_ids_from_labels(raw / "Training" / "labels") and ds.in_channels == 1
    assert ds.image("Prostate3T-01-0001_13").shape == ds.mask("Prostate3T-01-0001_13").shape == (320, 320)
    assert ds.mask("Prostate3T-01-0001_13").dtype == bool
    folds = [ds.split(f"fold{k}of2") for k in (1, 2)]
    assert {i.rsplit("_", 1)[0] for i in folds[0]["test"]} != {i.rsplit("_", 1)[0] for i in folds[1]["test"]}
    assert sorted(folds[0]["test"] + folds[1]["test"]) == ds.ids   # by case: one case per fold


def test_case_with_labels_but_no_images(mirror, tmp_path):
    raw = tmp_path / "raw" / "Training"
    raw.mkdir(parents=True)
    shutil.copy(mirror / "nci-isbi" / "labels" / "Prostate3T-01-0001.nrrd", raw)
    with pytest.raises(NciIsbiError, match="case Prostate3T-01-0001 has labels .* but no DICOM images"):
        prepare_nci_isbi(tmp_path / "raw", tmp_path / "out")


def test_incomplete_series_is_an_error(mirror, tmp_path):
    raw = tmp_path / "raw" / "Training"
    raw.mkdir(parents=True)
    shutil.copy(mirror / "nci-isbi" / "labels" / "Prostate3T-01-0001.nrrd", raw)
    shutil.copy(mirror / "nci-isbi" / "examples" / "Prostate3T-01-0001_13.dcm", raw)
    with pytest.raises(NciIsbiError, match=r"need exactly one DICOM series of 15 slices .* found 1 x 320x320"):
        prepare_nci_isbi(tmp_path / "raw", tmp_path / "out")


def test_unprepared_data_says_what_to_run(tmp_path):
    with pytest.raises(DataMissingError, match="gazelib data prepare-nci-isbi"):
        load_dataset("nci_isbi", tmp_path)


@pytest.mark.parametrize("case, k", EXAMPLES.items())
def test_example_slice_sits_at_label_index_k_minus_1(mirror, case, k):
    """Real geometry: the DICOM position of slice k is the centre of voxel (0, 0, k-1) of the label
    volume (the NRRD origin is its corner), so id ``{case}_{k}`` <-> ``volume[:, :, k-1]``."""
    _, header = read_label(mirror / "nci-isbi" / "labels" / f"{case}.nrrd")
    directions = np.asarray(header["space directions"], float)
    centre = np.asarray(header["space origin"], float) + directions.sum(axis=0) / 2 + (k - 1) * directions[2]
    ds = pydicom.dcmread(mirror / "nci-isbi" / "examples" / f"{case}_{k}.dcm", stop_before_pixels=True)
    np.testing.assert_allclose(np.asarray(ds.ImagePositionPatient, float), centre, atol=0.01)
    assert int(ds.InstanceNumber) == k
