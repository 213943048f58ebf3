"""Getting the data: official downloads or a local mirror, every file checked against
``gazelib/data/checksums.json``.

Layout of the data root (the same as ``../shared/data``)::

    kvasir-seg/images/*.jpg, kvasir-seg/masks/*.jpg, kvasir-seg/kavsir_bboxes.json
    gazemedseg/kvasir_fixation.csv, gazemedseg/nci-isbi_fixation.csv
    nci-isbi/labels/*.nrrd, nci-isbi/examples/*.dcm      (optional: from a mirror only)

``fetch`` is idempotent (files already present with the right sha256 are skipped) and writes every
file through a temporary file (``core.files.replacing``) renamed into place only after its checksum matched.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gazelib.core import files

CHECKSUMS_FILE = Path(__file__).resolve().parent / "checksums.json"
GAZEMEDSEG_COMMIT = "cf3aa2a"
GAZEMEDSEG_RAW = f"https://raw.githubusercontent.com/med-air/GazeMedSeg/{GAZEMEDSEG_COMMIT}/GazeMedSEg"


@dataclass(frozen=True)
class Source:
    """Where a group of files of the layout comes from."""
    pattern: str            # files of the layout it provides (fnmatch on the relative path)
    url: str | None         # official download; None = mirror only
    kind: str               # "file": the URL is the file itself; "kvasir-zip": the official Kvasir-SEG zip
    optional: bool = False  # optional groups are not required by ``verify``
    citation: str = ""


SOURCES = (
    Source("kvasir-seg/*", "https://datasets.simula.no/downloads/kvasir-seg.zip", "kvasir-zip",
           citation="Jha et al., Kvasir-SEG: A Segmented Polyp Dataset, MMM 2020 (research and education use)"),
    Source("gazemedseg/kvasir_fixation.csv", f"{GAZEMEDSEG_RAW}/kvasir_fixation.csv", "file",
           citation="Zhong et al., Weakly-supervised medical image segmentation with gaze annotations, MICCAI 2024"),
    Source("gazemedseg/nci-isbi_fixation.csv", f"{GAZEMEDSEG_RAW}/nci-isbi_fixation.csv", "file",
           citation="Zhong et al., MICCAI 2024"),
    Source("nci-isbi/*", None, "mirror", optional=True,
           citation="Bloch et al., NCI-ISBI 2013 Challenge: Automated Segmentation of Prostate Structures, TCIA"),
)


class DataError(RuntimeError):
    """Missing, corrupted or undownloadable data; the message names the file."""


@cache
def checksums() -> dict[str, str]:
    """``{relative path: sha256}`` of every file of the layout (committed reference values)."""
    return json.loads(CHECKSUMS_FILE.read_text())["files"]


def source_of(relpath: str) -> Source:
    return next(s for s in SOURCES if fnmatch.fnmatch(relpath, s.pattern))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _selected(expected: dict[str, str], only) -> dict[str, str]:
    """Restrict to the paths matching any of the fnmatch patterns ``only`` (None = all)."""
    if only is None:
        return expected
    patterns = [only] if isinstance(only, str) else list(only)
    return {p: h for p, h in expected.items() if any(fnmatch.fnmatch(p, q) for q in patterns)}


def verify(root, only=None, include_optional: bool = False, expected: dict[str, str] | None = None) -> list[str]:
    """Problems of the data under ``root``: one line per missing or mismatching file (empty = all good).

    Optional groups (NCI-ISBI, mirror only) are checked when present; their absence is a problem only
    with ``include_optional``.
    """
    root = Path(root)
    problems = []
    for rel, digest in sorted(_selected(expected or checksums(), only).items()):
        path = root / rel
        if not path.is_file():
            if include_optional or not source_of(rel).optional or path.parent.is_dir():
                problems.append(f"missing: {path}")
        elif sha256(path) != digest:
            problems.append(f"checksum mismatch: {path} (expected sha256 {digest}, got {sha256(path)})")
    return problems


def fetch(root, mirror=None, progress: bool = True, only=None,
          expected: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Put the data under ``root``: copy from ``mirror`` (argument or ``$GAZELIB_MIRROR``, a folder laid
    out like ``../shared/data``), otherwise download from the official sources.

    ``only``: fnmatch pattern(s) on the relative paths to restrict to (default: everything).
    ``expected``: ``{relative path: sha256}`` (default: ``gazelib/data/checksums.json``).
    Returns ``{"skipped", "copied", "downloaded", "unavailable"}`` lists of relative paths
    (``unavailable``: optional files neither in a mirror nor downloadable). Raises :class:`DataError`
    naming the file on a checksum mismatch or a required file missing from the mirror.
    """
    root = Path(root)
    mirror = mirror if mirror is not None else os.environ.get("GAZELIB_MIRROR") or None
    wanted = _selected(expected or checksums(), only)
    report = {"skipped": [], "copied": [], "downloaded": [], "unavailable": []}
    todo = {}
    for rel, digest in sorted(wanted.items()):
        target = root / rel
        if target.is_file() and sha256(target) == digest:
            report["skipped"].append(rel)
        else:
            todo[rel] = digest
    if mirror is not None:
        mirror = Path(mirror).expanduser()
        for rel, digest in todo.items():
            src = mirror / rel
            if not src.is_file():
                if source_of(rel).optional:
                    report["unavailable"].append(rel)
                    continue
                raise DataError(f"{src} is missing from the mirror {mirror}")
            _install(root / rel, digest, lambda part, src=src: shutil.copyfile(src, part))
            report["copied"].append(rel)
        return report
    for source in SOURCES:
        group = {rel: d for rel, d in todo.items() if source_of(rel) is source}
        if not group:
            continue
        if source.url is None:
            report["unavailable"] += sorted(group)
        elif source.kind == "file":
            for rel, digest in group.items():   # one file per source of this kind
                _install(root / rel, digest, lambda part: download(source.url, part, progress, atomic=False))
        else:
            archive = root / ".downloads" / Path(source.url).name
            if not archive.is_file():
                download(source.url, archive, progress)
            extract_kvasir_zip(archive, root, group)
        report["downloaded"] += [rel for rel in group if source.url is not None]
    return report


def _install(target: Path, digest: str, write) -> None:
    """Write ``target`` through a temporary file with ``write(part)``; it replaces ``target`` only when
    its sha256 matches, and is removed otherwise."""
    with files.replacing(target) as part:
        write(part)
        got = sha256(part)
        if got != digest:
            raise DataError(f"checksum mismatch for {target}: expected sha256 {digest}, got {got}")


def download(url: str, dest, progress: bool = True, atomic: bool = True) -> Path:
    """Download ``url`` (any scheme urllib knows, ``file://`` included) to ``dest`` with a tqdm bar.

    With ``atomic`` the bytes go to a temporary file first (``core.files.replacing``), renamed to
    ``dest`` when complete, so an interrupted download never looks finished.
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with files.replacing(dest) if atomic else contextlib.nullcontext(dest) as part:
        try:
            with urllib.request.urlopen(url) as response, open(part, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        bar.update(len(block))
        except OSError as error:   # URLError is an OSError; a full disk is reported as one (files.replacing)
            part.unlink(missing_ok=True)
            if files.out_of_space(error):
                raise
            raise DataError(f"could not download {url} to {dest}: {error}") from error
    return dest


def extract_kvasir_zip(archive, root, expected: dict[str, str]) -> list[str]:
    """Unpack the official Kvasir-SEG zip into ``root/kvasir-seg/{images,masks,kavsir_bboxes.json}``.

    Members are matched by their last path parts (``.../images/x.jpg``, ``.../masks/x.jpg``,
    ``.../kavsir_bboxes.json``) whatever the zip's top folder is called. Only the files in ``expected``
    are written, each checked against its sha256. Returns the relative paths written.
    """
    root = Path(root)
    written = []
    with zipfile.ZipFile(archive) as z:
        members = {}
        for name in z.namelist():
            parts = Path(name).parts
            if len(parts) >= 2 and parts[-2] in ("images", "masks") and not name.endswith("/"):
                members[f"kvasir-seg/{parts[-2]}/{parts[-1]}"] = name
            elif parts and parts[-1] == "kavsir_bboxes.json":
                members["kvasir-seg/kavsir_bboxes.json"] = name
        for rel, digest in sorted(expected.items()):
            if rel not in members:
                raise DataError(f"{rel} is not in the archive {archive}")
            _install(root / rel, digest, lambda part, name=members[rel]: part.write_bytes(z.read(name)))
            written.append(rel)
    return written
