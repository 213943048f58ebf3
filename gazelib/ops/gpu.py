"""From here to paper records on an offline GPU machine: the pack, its check, and the runs of a table.

The machine: a bare CUDA torch image (no pydensecrf2, jupytext or papermill), no network, reached by
copying a tree of limited size (``TRANSFER_LIMIT``), with commands of bounded length (minutes).
The pack is that tree: the code and the data, nothing else. The procedure (``tools/gpu/steps.sh``;
README "Paper records on an offline GPU machine"):

1. here: ``gazelib gpu pack`` writes ``.pack/`` (ignored by git), laid out like a data root:

   =================================  ===========================================================
   ``code/``                          the code of the commit checked out (``git archive`` of
                                      HEAD without ``CODE_EXCLUDES``: no records, figures or
                                      notebooks' outputs), from which the machine runs
   ``kvasir-seg/images/*.jpg``        the original Kvasir-SEG JPEGs, byte for byte
   ``kvasir-seg/masks/*.png``         1-bit PNG of the mask the loader uses (grey value > 127):
                                      the same masks, lossless, 15x smaller than the JPEGs
   ``gazemedseg/*_fixation.csv``      the GazeMedSeg fixations, byte for byte
   ``wheels/``                        the pydensecrf2 sdist and the Cython it builds with
   ``MANIFEST.json``                  sha256 of every file, the code's revision, the sizes
   =================================  ===========================================================

   Only ``.pack/`` is copied to the machine; ``pack`` refuses one over the limit.

2. there, in ``code/``: ``steps.sh setup`` checks the pack (``gazelib gpu verify``), builds pydensecrf2 offline
   and builds every training tensor once (``gazelib gpu prepare``: CRF maps with all cores);
   ``steps.sh start`` launches the table's runs, several at once on the one GPU, in the
   background; ``steps.sh wait S`` waits up to S seconds and copies records, logs and bench
   records to ``$OUT``. A run resumes from its checkpoint, so a killed or timed-out command loses at
   most ``checkpoint_every`` iterations.

The masks' bytes differ from the originals, so runs on a pack carry another data fingerprint (the
``d...`` part of the run id) than runs on ``data/``; the arrays they train and score on are equal
(``verify`` decodes every mask and compares it with its source when the source is present).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from gazelib.core import files
from gazelib.core.config import make_config, preset_for
from gazelib.core.methods import get_method
from gazelib.core.targets import build_tensors
from gazelib.data.kvasir import read_mask
from gazelib.experiments.engines import work
from gazelib.papers.table1 import table1_grid
from gazelib.runs.identity import resolve, select_ids
from gazelib.runs.provenance import git_state

#: The most the machine can be sent (the whole pack), in bytes.
TRANSFER_LIMIT = 64 * 2**20
#: What the machine does not need of the code's tree: records, figures, notebooks' outputs (pathspecs).
CODE_EXCLUDES = ("results", "figures", "*.ipynb")
#: Built offline on the GPU machine: pydensecrf2's setup.py insists on this Cython.
SOURCES = ("pydensecrf2==1.1", "Cython==0.29.36")
FIXATIONS = ("kvasir_fixation.csv", "nci-isbi_fixation.csv")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _archive_code(repo: Path, out: Path) -> str:
    """Extract ``git archive`` of ``repo``'s HEAD, less ``CODE_EXCLUDES``, into ``out``; return HEAD's sha.
    Committed code only: what the records will name as their revision."""
    git = ["git", "-C", str(repo)]
    revision = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run([*git, "archive", "--format=tar", "HEAD", "--", ".",
                              *(f":(exclude){spec}" for spec in CODE_EXCLUDES)], capture_output=True, check=True).stdout
    out.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return revision


def _download_sources(target: Path) -> None:
    """The pydensecrf2 sdist (no wheel exists for the machine's Python) and its pinned Cython."""
    target.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(target)]
    subprocess.run([*pip, "--no-binary", ":all:", SOURCES[0]], check=True)
    # the pure-Python Cython wheel (asked for as for the machine's CPython 3.12, which has no binary one)
    subprocess.run([*pip, "--only-binary", ":all:", "--python-version", "3.12", "--implementation", "cp",
                    "--platform", "manylinux2014_x86_64", SOURCES[1]], check=True)


def build_pack(out: Path, data: Path, wheels: bool = True, repo: Path | None = None,
               limit: int = TRANSFER_LIMIT) -> dict:
    """Write the pack to ``out`` from the data root ``data`` and the code of ``repo`` (when given);
    return its manifest. Raises a ValueError when the pack is over ``limit`` bytes (it stays on disk,
    to be looked at)."""
    images, masks = data / "kvasir-seg" / "images", data / "kvasir-seg" / "masks"
    for folder in (images, masks, data / "gazemedseg"):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} does not exist: run `gazelib data fetch` first")
    if out.exists():
        shutil.rmtree(out)
    (out / "kvasir-seg" / "images").mkdir(parents=True)
    (out / "kvasir-seg" / "masks").mkdir()
    (out / "gazemedseg").mkdir()
    sources = sorted(images.glob("*.jpg"))
    for image in tqdm(sources, desc="pack: images and 1-bit masks", unit="image"):
        shutil.copy2(image, out / "kvasir-seg" / "images" / image.name)
        mask = read_mask(masks / image.name)
        Image.fromarray(mask).convert("1").save(out / "kvasir-seg" / "masks" / f"{image.stem}.png", optimize=True)
    for name in FIXATIONS:
        if (data / "gazemedseg" / name).exists():
            shutil.copy2(data / "gazemedseg" / name, out / "gazemedseg" / name)
    revision = _archive_code(repo, out / "code") if repo is not None else None
    if wheels:
        _download_sources(out / "wheels")
    packed = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {"kind": "gazelib-gpu-pack", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "source": git_state(), "code_revision": revision, "data": str(data), "images": len(sources),
                "bytes": sum(p.stat().st_size for p in packed),
                "code_bytes": sum(p.stat().st_size for p in packed if p.parts[len(out.parts)] == "code"),
                "files": {str(p.relative_to(out)): _sha256(p) for p in packed}}
    files.write_text(out / "MANIFEST.json", json.dumps(manifest, indent=1))
    manifest["transfer_bytes"] = manifest["bytes"] + (out / "MANIFEST.json").stat().st_size   # all that is sent
    if manifest["transfer_bytes"] > limit:
        raise ValueError(f"pack {out} is {manifest['transfer_bytes'] / 2**20:.1f} MiB, over the transfer limit of "
                         f"{limit / 2**20:.1f} MiB")
    return manifest


def _manifest_files(manifest_file: Path) -> dict[str, str]:
    """The ``files`` of a pack's manifest (relative path -> sha256), or a ValueError saying what is wrong."""
    if not manifest_file.is_file():
        raise FileNotFoundError(f"{manifest_file} is missing: build the pack with `gazelib gpu pack`")
    try:
        manifest = json.loads(manifest_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{manifest_file} is not JSON ({error}): rebuild the pack with `gazelib gpu pack`") from None
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in listed.items()):
        raise ValueError(f"{manifest_file} has no 'files' (every file of the pack with its sha256): rebuild the "
                         f"pack with `gazelib gpu pack`")
    outside = sorted(n for n in listed if Path(n).is_absolute() or ".." in Path(n).parts)
    if outside:
        raise ValueError(f"{manifest_file} lists files outside the pack: {', '.join(outside[:3])}")
    return listed


def _regular_files(pack: Path) -> tuple[set[str], list[str]]:
    """The regular files of ``pack`` (relative paths), and a problem for every entry that is neither a
    regular file nor a folder: a symbolic link (it could point anywhere), a device, a pipe, a socket."""
    present, problems = set(), []
    for folder, folders, names in os.walk(pack):   # links to folders are listed, not entered
        for name in folders + names:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{path}: a symbolic link (a pack holds regular files only)")
            elif stat.S_ISREG(mode):
                present.add(str(path.relative_to(pack)))
            elif not stat.S_ISDIR(mode):
                problems.append(f"{path}: not a regular file (a pack holds regular files only)")
    return present, problems


def verify_pack(pack: Path, originals: Path | None = None) -> int:
    """Check every file of ``pack`` against its manifest (missing, extra or changed files, links and
    other entries that are no regular files are errors naming the file; so is a manifest without its
    list of files); with ``originals`` (a data root), also that every 1-bit mask decodes to the
    source mask the loader reads. Returns the number of files checked."""
    expected = _manifest_files(pack / "MANIFEST.json")
    present, problems = _regular_files(pack)
    present.discard("MANIFEST.json")
    problems += [f"{pack / n}: missing" for n in sorted(set(expected) - present)]
    problems += [f"{pack / n}: not in the manifest" for n in sorted(present - set(expected))]
    problems += [f"{pack / n}: content differs from the manifest" for n in sorted(present & set(expected))
                 if _sha256(pack / n) != expected[n]]
    if originals is not None:
        for name in sorted(n for n in present if n.startswith("kvasir-seg/masks/") and n.endswith(".png")):
            png = pack / name
            source = originals / "kvasir-seg" / "masks" / f"{png.stem}.jpg"
            if source.exists() and not np.array_equal(read_mask(png), read_mask(source)):
                problems.append(f"{png}: decodes to another mask than {source}")
    if problems:
        raise ValueError(f"{len(problems)} problem(s) in the pack {pack}: " + "; ".join(problems[:5])
                         + (" ..." if len(problems) > 5 else ""))
    return len(expected)


def table_runs(profile: str, dataset: str, seeds, rows=None, stacked: bool = False) -> list[dict]:
    """The runs of ``profile``'s Table 1 (``table1.table1_grid``, or the ``rows`` named), longest first, as
    ``{label, seeds, args}`` with ``args`` the ``gazelib train`` arguments of each: one per seed, or with
    ``stacked`` one per row training its seeds as one stacked model (``gazelib.core.stacked``)."""
    table = table1_grid(profile)
    grid = [e for e in table if rows is None or e.label in rows]
    unknown = set(rows or ()) - {e.label for e in table}
    if unknown:
        raise ValueError(f"unknown Table 1 row(s) {sorted(unknown)}; rows: {[e.label for e in table]}")
    preset = preset_for(profile, dataset)

    runs = []
    for exp in sorted(grid, key=lambda e: work(make_config(e.method, dataset, preset, list(e.overrides))),
                      reverse=True):
        for group in ([list(seeds)] if stacked else [[seed] for seed in seeds]):
            args = [exp.method, "--dataset", dataset, "--profile", profile]
            args += ["--seeds", *map(str, group), "--stacked"] if stacked else ["--seed", str(group[0])]
            args += [a for o in exp.overrides for a in ("--set", o)]
            runs.append({"label": exp.label, "seeds": group, "args": args})
    return runs


def prepare(profile: str, dataset: str, rows=None) -> None:
    """Build every training tensor the table's runs need (gaze maps with all cores), once, before
    several runs start at once and would each build them."""
    for exp in [e for e in table1_grid(profile) if rows is None or e.label in rows]:
        cfg = make_config(exp.method, dataset, preset_for(profile, dataset), list(exp.overrides))
        method, data = resolve(cfg, get_method(cfg.method), None)
        train_ids, test_ids = select_ids(data, cfg)
        build_tensors(data, train_ids, cfg, ("image", *method.targets))
        build_tensors(data, test_ids, cfg, ("image", "mask"))
        print(f"prepared {exp.label}: {len(train_ids)} training and {len(test_ids)} test images", flush=True)
