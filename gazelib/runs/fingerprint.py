"""Content fingerprints: which data and which code a cache entry or a run was made from.

* ``file_digest(path)``: sha256 of a file's bytes, memoised per (path, size, mtime) in the process,
  so fingerprinting all 1000 Kvasir images and masks costs one read of each per process.
* ``sample_digest(dataset, id)``: the image and mask files of a sample (``dataset.files(id)``), or the
  decoded arrays for in-memory data sets without files (tests, notebooks).
* ``scanpath_digest(dataset, id)``: the fixation rows of one image as parsed (x, y, durations, starts,
  size): editing another image's rows, or the file's formatting, changes nothing.
* ``data_fingerprint(dataset, ids, gaze)``: all of that over a list of ids (run ids, tensor caches).
* ``code_fingerprint()``: ``{source file: digest}`` of the code on the training path (each paper's
  folder but its experiment grids, the shared networks, losses, gaze maps, targets, trainer,
  evaluation, metrics); run records keep it, and a reused record made by other code is reported
  (``runs.warn_if_other_code``).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

PACKAGE = Path(__file__).resolve().parents[1]
#: The sources that decide what a training run computes (the config decides the rest).
CODE_ON_TRAINING_PATH = ("papers/*/*.py", "gaze/cache.py", "gaze/heatmap.py", "gaze/crf.py", "core/methods.py",
                         "core/networks.py", "core/losses.py", "core/targets.py", "core/device.py", "core/train.py",
                         "core/evaluate.py", "core/metrics.py", "core/selection.py", "core/augment.py")
#: Files in those folders that only list experiments, measure finished runs or run commands.
NOT_ON_TRAINING_PATH = ("experiments.py", "soft_labels.py", "__init__.py")

_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path) -> str:
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        _FILE_DIGESTS[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_DIGESTS[key]


def arrays_digest(*arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def sample_digest(dataset, image_id: str, mask: bool = True) -> str:
    """The image (and with ``mask`` the mask) of a sample: its files where the data set names them
    (``dataset.files(id)`` = [image, mask]), else the decoded arrays."""
    files = getattr(dataset, "files", None)
    if files is not None:
        chosen = files(image_id)[:2 if mask else 1]
        return hashlib.sha256("".join(file_digest(f) for f in chosen).encode()).hexdigest()
    return arrays_digest(dataset.image(image_id), *([dataset.mask(image_id)] if mask else []))


def scanpath_digest(dataset, image_id: str) -> str:
    sp = dataset.scanpath(image_id)
    return arrays_digest(sp.x, sp.y, sp.duration, sp.start, np.array([sp.height, sp.width]))


def data_fingerprint(dataset, ids, gaze: bool) -> str:
    """16 hex digits over the ids (in order), their images and masks, and with ``gaze`` their fixations."""
    digest = hashlib.sha256(dataset.name.encode())
    for image_id in ids:
        digest.update(f"\n{image_id}:{sample_digest(dataset, image_id)}".encode())
        if gaze:
            digest.update(scanpath_digest(dataset, image_id).encode())
    return digest.hexdigest()[:16]


def code_fingerprint() -> dict[str, str]:
    """``{path relative to the package: sha256[:12]}`` of ``CODE_ON_TRAINING_PATH``."""
    files = sorted({p for pattern in CODE_ON_TRAINING_PATH for p in PACKAGE.glob(pattern)
                    if p.name not in NOT_ON_TRAINING_PATH})
    return {str(p.relative_to(PACKAGE)): file_digest(p)[:12] for p in files}
