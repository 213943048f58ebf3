"""Fixation files (GazeMedSeg CSV format) -> one validated :class:`Scanpath` per image.

Columns used: ``IMAGE`` (file name, e.g. ``xxx.jpg``; the image id is its stem),
``CURRENT_FIX_INDEX`` (1-based order), ``CURRENT_FIX_X/Y`` (normalised to [0, 1], origin top-left),
``CURRENT_FIX_DURATION`` (ms), ``CURRENT_FIX_START`` (ms from trial start),
``IMAGE_HEIGHT/WIDTH``. ``CURRENT_FIX_PUPIL`` is not used and not required.

Validation is strict and complete: every problem found is reported (file, CSV line, column) in one
:class:`FixationError`; nothing is dropped silently. Row numbers are CSV line numbers, 1-based,
counting the header as line 1 (so the first fixation is row 2).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ("IMAGE", "CURRENT_FIX_INDEX", "CURRENT_FIX_X", "CURRENT_FIX_Y", "CURRENT_FIX_DURATION",
           "CURRENT_FIX_START", "IMAGE_HEIGHT", "IMAGE_WIDTH")
NUMERIC = COLUMNS[1:]
NA_TOKENS = ("", "nan", "na", "n/a", "null", "none")   # read as "missing value", lower-cased
MAX_LISTED = 20  # problems printed in one error message; the rest are counted


@dataclass(frozen=True)
class Scanpath:
    """One image's fixations, in ``CURRENT_FIX_INDEX`` order."""
    image_id: str          # file stem, e.g. "cju0qkwl35piu0993l0dewei2" or "Prostate3T-01-0027_14"
    x: np.ndarray          # float64, normalised to [0, 1], origin top-left
    y: np.ndarray
    duration: np.ndarray   # float64, ms, > 0
    start: np.ndarray      # float64, ms from trial start, non-decreasing
    height: int            # IMAGE_HEIGHT / IMAGE_WIDTH of the CSV
    width: int

    def __len__(self) -> int:
        return len(self.x)


class FixationError(ValueError):
    """Bad fixation data. ``problems`` lists ``(row, column, message)``; ``str()`` names the file."""

    def __init__(self, path, problems: list[tuple[int | None, str, str]]):
        self.path = Path(path)
        self.problems = problems
        lines = [_format(row, column, message) for row, column, message in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"... and {len(problems) - MAX_LISTED} more")
        super().__init__(f"{len(problems)} problem(s) in fixation file {self.path}:\n  " + "\n  ".join(lines))


def _format(row, column, message) -> str:
    where = f"row {row}, " if row is not None else ""
    return f"{where}column {column}: {message}"


def read_fixations(path, image_sizes: dict[str, tuple[int, int]] | None = None,
                   consecutive: bool = False) -> dict[str, Scanpath]:
    """Read and validate a fixation CSV; returns ``{image_id: Scanpath}`` (ids = file stems).

    With ``image_sizes`` (``{image_id: (height, width)}`` of the actual image files) also checks that
    every fixated image exists and that ``IMAGE_HEIGHT/WIDTH`` agree with the file.
    Raises :class:`FixationError` listing every problem found.

    ``CURRENT_FIX_INDEX`` must be unique positive integers per image. The published GazeMedSeg files
    have gaps (Kvasir: 675 indices missing over 252 images, NCI-ISBI: 47 over 45 images), because the
    authors removed fixations under 50 ms or outside the image after numbering them, so gaps are
    allowed by default; ``consecutive=True`` demands exactly 1..n (for freshly recorded files).
    """
    path = Path(path)
    raw = _read_csv(path)
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise FixationError(path, [(1, c, "missing column (header has: " + ", ".join(raw.columns) + ")")
                                   for c in missing])
    rows = raw.index.to_numpy() + 2          # CSV line numbers (header = line 1)
    problems: list[tuple[int, str, str]] = []

    def flag(mask, column, message):         # message: a function of the flagged row position
        for i in np.flatnonzero(np.asarray(mask)):
            problems.append((int(rows[i]), column, message(i)))

    df = pd.DataFrame({"IMAGE": raw["IMAGE"].str.strip()})
    flag(df["IMAGE"] == "", "IMAGE", lambda i: "empty image name")
    for column in NUMERIC:
        text = raw[column].str.strip()
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        values[~np.isfinite(values)] = np.nan    # "inf" is no coordinate, duration or time either
        flag(values.isna(), column, lambda i, t=text: "missing value (NaN)" if t.iat[i].lower() in NA_TOKENS
             else f"not a number: {t.iat[i]!r}")
        df[column] = values
    ok = df[list(NUMERIC)].notna().all(axis=1) & (df["IMAGE"] != "")

    for column in ("CURRENT_FIX_X", "CURRENT_FIX_Y"):
        v = df[column]
        flag(ok & ((v < 0) | (v > 1)), column, lambda i, v=v: f"{v.iat[i]} is outside [0, 1]")
    for column in ("CURRENT_FIX_DURATION", "IMAGE_HEIGHT", "IMAGE_WIDTH"):
        v = df[column]
        flag(ok & (v <= 0), column, lambda i, v=v: f"{v.iat[i]:g} is not positive")
    for column in ("CURRENT_FIX_INDEX", "IMAGE_HEIGHT", "IMAGE_WIDTH"):
        v = df[column]
        flag(ok & (v != np.round(v)), column, lambda i, v=v: f"{v.iat[i]} is not an integer")

    df["image_id"] = df["IMAGE"].map(lambda name: Path(name).stem)
    df["row"] = rows
    good = df[ok].sort_values(["image_id", "CURRENT_FIX_INDEX", "row"], kind="stable")
    problems += _order_problems(good, consecutive)
    problems += _size_problems(good, image_sizes)
    if problems:
        problems.sort(key=lambda p: (p[0], COLUMNS.index(p[1])))
        raise FixationError(path, problems)
    return _scanpaths(good)


def _read_csv(path: Path) -> pd.DataFrame:
    """The CSV as text cells, column names stripped (``IMAGE, CURRENT_FIX_X`` is accepted); an
    unreadable file (empty, binary, not UTF-8, ragged rows) raises :class:`FixationError` naming it."""
    data = path.read_bytes()
    if b"\0" in data[:65536]:
        raise FixationError(path, [(None, "-", "binary file (NUL bytes), not a CSV text file")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FixationError(path, [(None, "-", f"not UTF-8 text (byte {error.start}: {error.reason}); "
                                    "binary file, or save it as UTF-8")]) from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise FixationError(path, [(None, "-", "the file is empty (expected a header line and fixation rows)")])
    ragged = [(n, len(row)) for n, row in enumerate(lines, 1) if row and len(row) != len(lines[0])]
    if ragged:
        raise FixationError(path, [(n, "-", f"not a well-formed CSV: {count} fields, the header has {len(lines[0])}")
                                   for n, count in ragged])
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def index_gaps(path) -> dict[str, list[int]]:
    """``{image: missing CURRENT_FIX_INDEX values}`` for images whose indices skip numbers (a fixation
    dropped after numbering; the published files have such gaps, see ``read_fixations``)."""
    raw = _read_csv(Path(path))
    index = pd.to_numeric(raw["CURRENT_FIX_INDEX"].str.strip(), errors="coerce")
    gaps = {}
    for image, values in index.groupby(raw["IMAGE"].str.strip()):
        present = set(values.dropna().astype(int))
        missing = sorted(set(range(1, max(present, default=0) + 1)) - present)
        if missing:
            gaps[image] = missing
    return gaps


def _order_problems(df: pd.DataFrame, consecutive: bool) -> list[tuple[int, str, str]]:
    """Indices unique and >= 1 per image (exactly 1..n if ``consecutive``); start times must not go
    backwards in index order."""
    problems = []
    for r in df[df["CURRENT_FIX_INDEX"] < 1].itertuples():
        problems.append((r.row, "CURRENT_FIX_INDEX", f"index {r.CURRENT_FIX_INDEX:g} is below 1"))
    dup = df.duplicated(["image_id", "CURRENT_FIX_INDEX"], keep="first")
    for r in df[dup].itertuples():
        problems.append((r.row, "CURRENT_FIX_INDEX",
                         f"duplicate index {r.CURRENT_FIX_INDEX:g} for image {r.IMAGE!r}"))
    unique = df[~dup]
    expected = unique.groupby("image_id").cumcount() + 1
    wrong = unique[(unique["CURRENT_FIX_INDEX"] != expected) & consecutive].assign(expected=expected)
    for r in wrong.groupby("image_id").head(1).itertuples():   # first gap per image; later ones follow from it
        problems.append((r.row, "CURRENT_FIX_INDEX",
                         f"indices of image {r.IMAGE!r} are not consecutive 1..n: expected {r.expected}, "
                         f"found {r.CURRENT_FIX_INDEX:g}"))
    back = unique.groupby("image_id")["CURRENT_FIX_START"].diff() < 0
    previous = unique.groupby("image_id")["CURRENT_FIX_START"].shift()
    for r, before in zip(unique[back].itertuples(), previous[back]):
        problems.append((r.row, "CURRENT_FIX_START",
                         f"start time goes backwards for image {r.IMAGE!r}: {r.CURRENT_FIX_START:g} after "
                         f"{before:g} (index {r.CURRENT_FIX_INDEX:g})"))
    return problems


def _size_problems(df: pd.DataFrame, image_sizes) -> list[tuple[int, str, str]]:
    """One size per image; with ``image_sizes``, the image must exist and have that size.
    Each problem is reported once per image, at its first line in the file."""
    problems = []
    df = df.sort_values("row")
    known = df["image_id"].isin(image_sizes.keys()) if image_sizes is not None else None
    if known is not None:
        for r in df[~known].groupby("image_id").head(1).itertuples():
            problems.append((r.row, "IMAGE", f"no such image in the data set: {r.IMAGE!r}"))
    for column, axis in (("IMAGE_HEIGHT", 0), ("IMAGE_WIDTH", 1)):
        first = df.groupby("image_id")[column].transform("first")
        for row, image in df.loc[df[column] != first, ["row", "IMAGE"]].groupby(df["image_id"]).head(1).to_numpy():
            problems.append((row, column, f"image {image!r} has more than one {column} in the file"))
        if known is None:
            continue
        actual = df["image_id"].map(lambda i: image_sizes.get(i, (np.nan, np.nan))[axis])
        bad = known & (df[column] != actual)
        table = df.loc[bad, ["row", "IMAGE", column]].assign(actual=actual[bad])
        for row, image, given, size in table.groupby(df.loc[bad, "image_id"]).head(1).to_numpy():
            problems.append((row, column, f"{given:g} but image {image!r} is {int(size)} pixels"))
    return problems


def _scanpaths(df: pd.DataFrame) -> dict[str, Scanpath]:
    """Split the sorted, validated table into one Scanpath per image (no per-row Python loop)."""
    ids = df["image_id"].to_numpy()
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    columns = {c: np.split(df[c].to_numpy(np.float64), cuts) for c in NUMERIC[1:]}
    starts = np.r_[0, cuts] if len(ids) else np.zeros(0, int)
    return {
        str(ids[start]): Scanpath(str(ids[start]), columns["CURRENT_FIX_X"][n], columns["CURRENT_FIX_Y"][n],
                                  columns["CURRENT_FIX_DURATION"][n], columns["CURRENT_FIX_START"][n],
                                  int(columns["IMAGE_HEIGHT"][n][0]), int(columns["IMAGE_WIDTH"][n][0]))
        for n, start in enumerate(starts)
    }


def check_coverage(scanpaths: dict[str, Scanpath], image_ids, fixation_file) -> None:
    """Every image of the data set must have at least one fixation; raises naming the missing ids."""
    missing = sorted(set(image_ids) - set(scanpaths))
    if missing:
        raise FixationError(fixation_file, [(None, "IMAGE", f"image {i!r} has no fixation") for i in missing])


def fixation_statistics(scanpaths: dict[str, Scanpath]) -> dict:
    """Counts and durations of a fixation file, for printing and sanity checks."""
    if not scanpaths:
        return {"images": 0, "fixations": 0}
    counts = np.array([len(s) for s in scanpaths.values()])
    durations = np.concatenate([s.duration for s in scanpaths.values()])
    return {
        "images": len(scanpaths),
        "fixations": int(counts.sum()),
        "fixations_per_image": {"min": int(counts.min()), "median": float(np.median(counts)),
                                "max": int(counts.max())},
        "duration_ms": {"total": float(durations.sum()), "mean": float(durations.mean()),
                        "min": float(durations.min()), "max": float(durations.max())},
        "viewing_time_per_image_ms": float(np.median([s.start[-1] + s.duration[-1] - s.start[0]
                                                      for s in scanpaths.values()])),
        "distinct_image_sizes": len({(s.height, s.width) for s in scanpaths.values()}),
    }
