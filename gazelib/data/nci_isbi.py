"""NCI-ISBI 2013 prostate T2 MR: label volumes -> slice ids, TCIA download -> prepared 2D slices, loader.

Slice ids are ``{case}_{k}`` with ``k`` 1-based along the third NRRD axis: slice ``k`` is
``volume[:, :, k-1]``, and the 2D mask is its transpose (``mask = volume[:, :, k-1].T``, as in the
reference preprocessing), i.e. (rows, columns) = (y, x) like a DICOM ``pixel_array``.

Geometry (checked on the two example slices of the mirror): the NRRD axes 0, 1, 2 run along the DICOM
row direction, column direction and slice normal (``ImageOrientationPatient``), so the NRRD volume is
the stack of ``pixel_array.T``; the image of slice ``k`` is therefore the ``pixel_array`` of the
``k``-th DICOM of the series ordered by position along the slice normal, ``ImagePositionPatient .
(row x column)`` (equal to ``InstanceNumber`` order in the examples: instance 13 <-> ``volume[:, :, 12]``).
The label header's third direction decides the sense when the normal points the other way.

Prepared layout (``prepare_nci_isbi``; what :class:`NciIsbiDataset` reads)::

    <out>/images/{id}.npy   float32 (H, W), the raw DICOM pixel values (no rescaling, no clipping)
    <out>/masks/{id}.png    uint8 0/255, foreground = label > 0 (central gland + peripheral zone)
    <out>/split.json        {"train": [...], "test": [...], ...}: label folder names say which is which
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from gazelib.core import files
from gazelib.data import splits
from gazelib.data.base import DATASETS, Dataset, DataMissingError, check_shapes, decode
from gazelib.data.fixations import read_fixations

PREPARED = Path("nci-isbi") / "prepared"
SPLIT_FOLDERS = ("train", "test", "leaderboard")   # label folder name (lower case) contains one of these


class NciIsbiError(ValueError):
    """A raw NCI-ISBI download that cannot be prepared; the message names the case and the files."""


def case_of(label_file) -> str:
    """Case name of a label file: its stem up to the first ``_`` (``ProstateDx-01-0006_correctedLabels``
    -> ``ProstateDx-01-0006``)."""
    return Path(label_file).name.split(".")[0].split("_")[0]


def read_label(path) -> tuple[np.ndarray, dict]:
    import nrrd

    volume, header = nrrd.read(str(path))
    if volume.ndim != 3:
        raise NciIsbiError(f"{path}: expected a 3D label volume, got shape {volume.shape}")
    return volume, header


def foreground_slices(volume: np.ndarray) -> np.ndarray:
    """1-based ``k`` of the slices ``volume[:, :, k-1]`` holding any foreground (label > 0)."""
    return np.flatnonzero((volume > 0).any(axis=(0, 1))) + 1


def slice_ids_from_labels(labels_dir) -> list[str]:
    """Sorted ids ``{case}_{k}`` of every label slice with prostate, over the ``*.nrrd`` of ``labels_dir``."""
    files = sorted(Path(labels_dir).glob("*.nrrd"))
    if not files:
        raise NciIsbiError(f"no *.nrrd label files in {labels_dir}")
    return sorted(f"{case_of(f)}_{k}" for f in files for k in foreground_slices(read_label(f)[0]))


def _split_of(path: Path, raw_dir: Path) -> str:
    for part in reversed(path.relative_to(raw_dir).parts[:-1]):
        for name in SPLIT_FOLDERS:
            if name in part.lower():
                return name
    raise NciIsbiError(f"cannot tell whether {path} is a training or a test label: no folder name on its path "
                       f"below {raw_dir} contains one of {SPLIT_FOLDERS}")


def find_labels(raw_dir) -> dict[str, tuple[Path, str]]:
    """``{case: (label file, split)}`` for every ``*.nrrd`` below ``raw_dir``."""
    raw_dir = Path(raw_dir)
    labels = {}
    for path in sorted(raw_dir.rglob("*.nrrd")):
        case = case_of(path)
        if case in labels:
            raise NciIsbiError(f"two label files for case {case}: {labels[case][0]} and {path}")
        labels[case] = (path, _split_of(path, raw_dir))
    if not labels:
        raise NciIsbiError(f"no *.nrrd label files below {raw_dir}")
    return labels


def find_series(raw_dir) -> dict[str, dict[str, list]]:
    """``{PatientID: {SeriesInstanceUID: [headers]}}`` of every DICOM file below ``raw_dir`` (any name,
    any folder structure; headers only, pixels are read later)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    found: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(Path(raw_dir).rglob("*")):
        if not path.is_file() or path.suffix.lower() in (".nrrd", ".json", ".txt", ".csv", ".xml", ".md"):
            continue
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except InvalidDicomError:
            continue   # not a DICOM file (TCIA downloads hold manifests and licences too)
        if "PixelData" not in header and "ImagePositionPatient" not in header:
            continue   # DICOMDIR and other non-image objects
        header.filename = str(path)
        found[str(header.PatientID)][str(header.SeriesInstanceUID)].append(header)
    return found


def order_slices(headers: list, label_header: dict | None = None) -> list:
    """DICOM headers of one series in NRRD third-axis order: ascending ``ImagePositionPatient`` along the
    slice normal ``n = row x column`` (from ``ImageOrientationPatient``), reversed when the label's third
    ``space direction`` points against ``n``. Without positions, ``InstanceNumber`` order."""
    if all("ImagePositionPatient" in h and "ImageOrientationPatient" in h for h in headers):
        orientation = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        position = np.array([np.dot(np.asarray(h.ImagePositionPatient, float), normal) for h in headers])
        if len(np.unique(np.round(position, 3))) != len(headers):
            raise NciIsbiError(f"series of {headers[0].filename} has two slices at the same position")
        ordered = [headers[i] for i in np.argsort(position)]
        direction = (label_header or {}).get("space directions")
        if direction is not None and np.dot(np.asarray(direction, float)[2], normal) < 0:
            ordered.reverse()
        return ordered
    return sorted(headers, key=lambda h: int(h.InstanceNumber))


def _pick_series(case: str, label_file: Path, shape: tuple, series: dict[str, list]) -> list:
    """The T2 series of a case: as many slices as the label volume, rows x columns matching it."""
    if not series:
        raise NciIsbiError(f"case {case} has labels ({label_file}) but no DICOM images were found for "
                           f"PatientID {case}")
    fits = {uid: hs for uid, hs in series.items()
            if len(hs) == shape[2] and (int(hs[0].Rows), int(hs[0].Columns)) == (shape[1], shape[0])}
    if len(fits) > 1:
        fits = {uid: hs for uid, hs in fits.items() if "t2" in str(hs[0].get("SeriesDescription", "")).lower()}
    if len(fits) != 1:
        found = ", ".join(f"{len(hs)} x {hs[0].Rows}x{hs[0].Columns} '{hs[0].get('SeriesDescription', '')}'"
                          for hs in series.values())
        raise NciIsbiError(f"case {case}: need exactly one DICOM series of {shape[2]} slices of "
                           f"{shape[1]}x{shape[0]} to match {label_file}; found {found}")
    return next(iter(fits.values()))


def prepare_nci_isbi(raw_dir, out_dir) -> dict:
    """Turn a TCIA NCI-ISBI 2013 download (T2 DICOM series + NRRD labels, any folder structure below
    ``raw_dir``) into the prepared 2D layout under ``out_dir`` (see the module docstring).

    Every prostate slice (label > 0) of every labelled case is written; a labelled case without its
    images is an error. Returns ``{"out": out_dir, "cases": n, "slices": {split: n}}``.
    """
    import pydicom

    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    labels = find_labels(raw_dir)
    series = find_series(raw_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "masks").mkdir(parents=True, exist_ok=True)
    lists: dict[str, list[str]] = defaultdict(list)
    for case, (label_file, split_name) in sorted(labels.items()):
        volume, header = read_label(label_file)
        slices = order_slices(_pick_series(case, label_file, volume.shape, series.get(case, {})), header)
        for k in foreground_slices(volume):
            image = pydicom.dcmread(slices[k - 1].filename).pixel_array.astype(np.float32)
            mask = (volume[:, :, k - 1] > 0).T
            if image.shape != mask.shape:
                raise NciIsbiError(f"{case}_{k}: image {image.shape} and mask {mask.shape} differ")
            np.save(out_dir / "images" / f"{case}_{k}.npy", image)
            Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / "masks" / f"{case}_{k}.png")
            lists[split_name].append(f"{case}_{k}")
    record = {"made_by": "gazelib.data.nci_isbi.prepare_nci_isbi", "raw_dir": str(raw_dir),
              **{name: sorted(ids) for name, ids in sorted(lists.items())}}
    files.write_text(out_dir / "split.json", json.dumps(record, indent=1) + "\n")   # last: marks the data prepared
    return {"out": str(out_dir), "cases": len(labels), "slices": {k: len(v) for k, v in sorted(lists.items())}}


class NciIsbiDataset(Dataset):
    """Prepared NCI-ISBI slices. Split ``"default"`` is the papers': train = the training slices that
    have gaze (789 slices of 59 cases; ProstateDx-01-0055 is labelled but has no gaze), test = the test
    slices. ``"labelled"``: every labelled training slice. ``"fold{k}of{K}"``: k-fold by case over all ids."""
    name = "nci_isbi"
    in_channels = DATASETS["nci_isbi"].channels

    def __init__(self, root):
        super().__init__(root)
        self.dir = self.root / PREPARED
        if not (self.dir / "split.json").is_file():
            raise DataMissingError(
                f"prepared NCI-ISBI slices are missing: {self.dir / 'split.json'} does not exist. Download the "
                "TCIA collection 'NCI-ISBI 2013 Prostate Challenge' (T2 DICOM + NRRD labels) and run "
                f"`gazelib data prepare-nci-isbi RAW --out {self.dir}`.")
        self.fixation_file = self.root / "gazemedseg" / "nci-isbi_fixation.csv"
        self.ids = sorted(p.stem for p in (self.dir / "images").glob("*.npy"))
        self.lists = json.loads((self.dir / "split.json").read_text())

    def image(self, id: str) -> np.ndarray:
        path = self.dir / "images" / f"{id}.npy"
        try:
            return np.load(path)
        except (ValueError, OSError, EOFError) as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise ValueError(f"cannot read {path}: {error}; run `gazelib data prepare-nci-isbi` again") from error

    def mask(self, id: str) -> np.ndarray:
        path = self.dir / "masks" / f"{id}.png"
        mask = decode(path) > 127
        check_shapes(path, mask.shape, np.load(self.dir / "images" / f"{id}.npy", mmap_mode="r").shape)
        return mask

    def files(self, id: str) -> list:
        """The files sample ``id`` is read from (its content fingerprint, ``gazelib.runs.fingerprint``)."""
        return [self.dir / "images" / f"{id}.npy", self.dir / "masks" / f"{id}.png"]

    def image_sizes(self) -> dict[str, tuple[int, int]]:
        return {id: np.load(self.dir / "images" / f"{id}.npy", mmap_mode="r").shape for id in self.ids}

    @staticmethod
    def case(id: str) -> str:
        return id.rsplit("_", 1)[0]

    def split(self, name: str = "default") -> dict[str, list[str]]:
        if name == "default":
            return {"train": [i for i in self.lists["train"] if i in self.scanpaths], "test": self.lists["test"]}
        if name == "labelled":
            return {"train": self.lists["train"], "test": self.lists["test"]}
        if splits.FOLD.fullmatch(name):
            return splits.split(self.name, name, self.ids, group=self.case)
        raise ValueError(f"unknown split {name!r} for nci_isbi: use 'default', 'labelled' or 'fold<k>of<K>'")


class NciIsbiLabels:
    """NCI-ISBI gaze slices with masks from the NRRD labels (the T2 images are not needed, nor here).

    ``mask(id)`` = ``volume[:, :, k-1].T > 0`` of the case's label file (``gazelib.data.nci_isbi``);
    scanpaths from the GazeMedSeg fixation file. ``image`` raises: no CRF without images.
    """
    name = "nci_isbi"
    has_images = False

    def __init__(self, root):
        root = Path(root)
        self.labels_dir = root / "nci-isbi" / "labels"
        self.fixation_file = root / "gazemedseg" / "nci-isbi_fixation.csv"
        self.scanpaths = read_fixations(self.fixation_file)
        self.ids = sorted(self.scanpaths)
        self._volumes: dict[str, np.ndarray] = {}

    def scanpath(self, id: str):
        return self.scanpaths[id]

    def mask(self, id: str) -> np.ndarray:
        case, k = id.rsplit("_", 1)
        if case not in self._volumes:
            files = sorted(self.labels_dir.glob(f"{case}*.nrrd"))
            if not files:
                raise FileNotFoundError(f"no label file for case {case!r} (id {id!r}) in {self.labels_dir}")
            self._volumes = {case: read_label(files[0])[0]}   # ids are sorted: one case at a time
        return self._volumes[case][:, :, int(k) - 1].T > 0

    def image(self, id: str):
        raise FileNotFoundError(f"NCI-ISBI T2 images are not available here (id {id!r}); only labels")
