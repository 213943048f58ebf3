"""Kvasir-SEG: 1000 polyp images (RGB JPEG, various sizes) and masks (JPEG; foreground = value > 127,
as in the GazeMedSeg authors' code), with GazeMedSeg gaze on every image.

The masks may also be 1-bit PNGs of that thresholded foreground (``gazelib pack``: the same masks,
lossless, a fifteenth of the size); a folder holds one kind or the other."""
from __future__ import annotations

from functools import cached_property

import numpy as np
from PIL import Image

from gazelib.data.base import DATASETS, Dataset, check_shapes, decode, require
from gazelib.data.fixations import check_coverage

MASK_THRESHOLD = 127


def read_image(path) -> np.ndarray:
    """uint8 (H, W, 3)."""
    return decode(path, "RGB")


def read_mask(path) -> np.ndarray:
    """bool (H, W): grey value > 127 (the JPEG masks have compression noise around 0 and 255)."""
    return decode(path, "L") > MASK_THRESHOLD


def _mask_suffix(masks_dir) -> str:
    """``.jpg`` (the original masks) or ``.png`` (a pack's 1-bit masks); both at once is an error."""
    kinds = [suffix for suffix in (".jpg", ".png") if next(masks_dir.glob(f"*{suffix}"), None)]
    if len(kinds) > 1:
        raise ValueError(f"{masks_dir} holds both .jpg and .png masks; keep one kind")
    return kinds[0] if kinds else ".jpg"


class KvasirDataset(Dataset):
    name = "kvasir"
    in_channels = DATASETS["kvasir"].channels

    def __init__(self, root):
        super().__init__(root)
        self.images_dir = require(self.root / "kvasir-seg" / "images", "Kvasir-SEG")
        self.masks_dir = require(self.root / "kvasir-seg" / "masks", "Kvasir-SEG masks")
        self.fixation_file = self.root / "gazemedseg" / "kvasir_fixation.csv"
        self.ids = sorted(p.stem for p in self.images_dir.glob("*.jpg"))
        self.mask_suffix = _mask_suffix(self.masks_dir)
        masks = {p.stem for p in self.masks_dir.glob(f"*{self.mask_suffix}")}
        if set(self.ids) != masks:
            odd = sorted(set(self.ids) ^ masks)
            raise ValueError(f"images and masks of {self.root / 'kvasir-seg'} differ: {len(odd)} ids, e.g. {odd[:3]}")

    def image(self, id: str) -> np.ndarray:
        return read_image(self.images_dir / f"{id}.jpg")

    def mask(self, id: str) -> np.ndarray:
        path = self.masks_dir / f"{id}{self.mask_suffix}"
        mask = read_mask(path)
        with Image.open(self.images_dir / f"{id}.jpg") as im:   # the header only
            check_shapes(path, mask.shape, (im.height, im.width))
        return mask

    def files(self, id: str) -> list:
        """The files sample ``id`` is read from (its content fingerprint, ``gazelib.runs.fingerprint``)."""
        return [self.images_dir / f"{id}.jpg", self.masks_dir / f"{id}{self.mask_suffix}"]

    def image_sizes(self) -> dict[str, tuple[int, int]]:
        sizes = {}
        for id in self.ids:
            with Image.open(self.images_dir / f"{id}.jpg") as im:   # reads the header only
                sizes[id] = (im.height, im.width)
        return sizes

    @cached_property
    def scanpaths(self):
        """Validated against the image sizes, and every image must have gaze."""
        scanpaths = super().scanpaths
        check_coverage(scanpaths, self.ids, self.fixation_file)
        return scanpaths
