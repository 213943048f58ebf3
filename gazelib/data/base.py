"""The :class:`Dataset` contract (docs/ARCHITECTURE.md), the facts of each data set, and the helpers
its loaders share (decoding, shape checks, missing-file errors)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from gazelib.data import splits
from gazelib.data.fixations import Scanpath, read_fixations


@dataclass(frozen=True)
class DatasetFacts:
    channels: int         # image channels: Kvasir-SEG RGB, NCI-ISBI T2 (each Dataset class's ``in_channels``)
    train_images: int     # the papers' training-set size (GradTrack's epochs -> iterations)


#: The data sets, by name: the one list of them.
DATASETS = {"kvasir": DatasetFacts(channels=3, train_images=900),
            "nci_isbi": DatasetFacts(channels=1, train_images=789)}
NAMES = tuple(DATASETS)


class DataMissingError(FileNotFoundError):
    """Data files are not where they should be (the message says how to get them)."""


class Dataset:
    """Images, masks, scanpaths and splits of one data set. Subclasses set ``name``, ``in_channels``,
    ``fixation_file`` and implement ``ids``, ``image``, ``mask`` and ``image_sizes``."""
    name: str
    in_channels: int
    fixation_file: Path
    ids: list[str]

    def __init__(self, root):
        self.root = Path(root)

    def image(self, id: str) -> np.ndarray:
        raise NotImplementedError

    def mask(self, id: str) -> np.ndarray:
        raise NotImplementedError

    def image_sizes(self) -> dict[str, tuple[int, int]]:
        """``{id: (height, width)}`` read from file headers (no decoding)."""
        raise NotImplementedError

    @cached_property
    def scanpaths(self) -> dict[str, Scanpath]:
        """Every scanpath of the fixation file, validated against the image files (read once)."""
        require(self.fixation_file, "the fixation file")
        return read_fixations(self.fixation_file, image_sizes=self.image_sizes())

    def scanpath(self, id: str) -> Scanpath:
        try:
            return self.scanpaths[id]
        except KeyError:
            raise KeyError(f"no fixations for {id!r} in {self.fixation_file}") from None

    def split(self, name: str = "default") -> dict[str, list[str]]:
        return splits.split(self.name, name, self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, {len(self.ids)} ids)"


def decode(path: Path, mode: str | None = None) -> np.ndarray:
    """An image file as an array (converted to PIL ``mode`` if given); any decode error names the file."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode) if mode else im)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, SyntaxError) as error:   # truncated / corrupt files, unknown formats
        raise ValueError(f"cannot decode {path}: {error}; restore it with `gazelib data fetch`") from error


def check_shapes(mask_file: Path, mask_shape: tuple, image_shape: tuple) -> None:
    """A mask must have its image's height and width (else it would be scored at the wrong size)."""
    if tuple(mask_shape[:2]) != tuple(image_shape[:2]):
        raise ValueError(f"mask {mask_file} is {mask_shape[0]}x{mask_shape[1]} but its image is "
                         f"{image_shape[0]}x{image_shape[1]}; restore it with `gazelib data fetch`")


def require(path: Path, what: str) -> Path:
    """``path`` if it exists, else a :class:`DataMissingError` saying how to get it."""
    if not Path(path).exists():
        raise DataMissingError(f"{what} is missing: {path} does not exist. Run `gazelib data fetch` "
                               "(or `make data`; set GAZELIB_DATA to choose the data root).")
    return Path(path)
