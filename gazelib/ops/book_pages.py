"""The book's own pages (MyST Markdown): the index, and the results, one page per paper.

The results pages show the tables and figures of the book's profile: Table 1 (lesson 06; the
README's block when the README shows this profile), then one page per lesson of a paper (02
baselines, 03 GazeMedSeg, 04 GradTrack, 05 selective attention) with that lesson's tables, read
from their CSV files and shown with the headers a reader sees (``report.tables.readable_frame``),
and its figures, numbered.
"""
from __future__ import annotations

import re
from pathlib import Path

from gazelib.ops.readme import README, README_END, README_START
from gazelib.report.tables import markdown_table

TABLE1_PAGE = "table1"
TABLE1_LESSON = "06"


def readme_intro() -> str:
    """The README up to its first second-level heading: title, the three papers, what is measured."""
    text = README.read_text()
    return text[: text.index("\n## ")].strip()


def readme_results() -> str:
    """The README's generated results block (between its markers)."""
    text = README.read_text()
    return text[text.index(README_START) + len(README_START): text.index(README_END)].strip()


def lesson_title(notebook: Path) -> str:
    """The lesson's short title: its first heading up to the colon ("03 · GazeMedSeg")."""
    import nbformat

    for cell in nbformat.read(notebook, as_version=4).cells:
        heading = re.search(r"^# (.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if heading:
            return heading[1].split(":")[0].strip()
    raise ValueError(f"{notebook}: no level-1 heading to title its results page")


def _outputs(folder: Path, prefix: str, dataset: str, profile: str, suffix: str) -> list[Path]:
    """The lesson's files of this profile (``<prefix>_*_<dataset>_<profile>``) and those made for
    every profile (``<prefix>_*_<dataset>``: the training batches)."""
    return sorted(p for p in folder.glob(f"{prefix}_*{suffix}")
                  if p.stem.endswith(f"_{dataset}_{profile}") or p.stem.endswith(f"_{dataset}"))


def _caption(stem: str, lesson: str, dataset: str, profile: str) -> str:
    """``03_gazemedseg_weight_kvasir_laptop`` -> ``weight``; the lesson's main output -> ``main result``."""
    name = stem.removeprefix(lesson).removesuffix(f"_{dataset}_{profile}").removesuffix(f"_{dataset}")
    return name.strip("_").replace("_", " ") or "main result"


def _table(csv: Path) -> str:
    import pandas as pd

    return markdown_table(pd.read_csv(csv))


def _figure(picture: Path, caption: str) -> str:
    return "\n".join([f"```{{figure}} ../figures/{picture.name}", f":name: {picture.stem}", ":width: 100%", "",
                      caption, "```", ""])


def lesson_results_page(lesson: Path, dataset: str, profile: str, results: Path, figures: Path) -> str:
    prefix = lesson.stem[:2]
    tables = _outputs(results / "tables", prefix, dataset, profile, ".csv")
    pictures = _outputs(figures, prefix, dataset, profile, ".png")
    parts = [f"# Results · {lesson_title(lesson)}", "",
             f"The tables and figures of {{doc}}`the lesson <../lessons/{lesson.stem}>` (profile `{profile}`, "
             f"data set `{dataset}`), generated from the run records. Dice, IoU and their intervals in percent, "
             "HD95 in pixels; each row's p-value is the paired Wilcoxon test against the row it is compared with.", ""]
    parts += [f"## {_caption(t.stem, lesson.stem, dataset, profile)}\n\n{_table(t)}\n" for t in tables]
    parts += ["## Figures", ""] if pictures else []
    parts += [_figure(p, _caption(p.stem, lesson.stem, dataset, profile)) for p in pictures]
    return "\n".join(parts) + "\n"


def table1_page(lesson: Path, dataset: str, profile: str, results: Path, figures: Path) -> str:
    """Table 1: the README's block when it shows this profile, else the profile's Table 1 from lesson 06."""
    block = readme_results()
    shown = re.search(r"profile `(\w+)`", block)
    if shown and shown[1] == profile:
        table = re.sub(r"\n!\[[^\]]*\]\([^)]*\)", "", block)   # its figure is among the figures below
    else:
        csv = results / "tables" / f"table1_{dataset}_{profile}.csv"
        table = _table(csv) if csv.is_file() else f"(no Table 1 for the `{profile}` profile yet)"
    pictures = _outputs(figures, TABLE1_LESSON, dataset, profile, ".png")
    parts = ["# Table 1: every method, measured and quoted", "",
             f"GradTrack's Table 1 rebuilt from the run records by {{doc}}`lesson 06 <../lessons/{lesson.stem}>` "
             f"(profile `{profile}`, data set `{dataset}`).", "", table, ""]
    parts += ["## Figures", ""] if pictures else []
    parts += [_figure(p, _caption(p.stem, lesson.stem, dataset, profile)) for p in pictures]
    return "\n".join(parts) + "\n"


def results_pages(lessons: list[Path], dataset: str, profile: str, results: Path, figures: Path) -> dict[str, str]:
    """Page name -> MyST text: Table 1 first, then one page per lesson that has tables or figures."""
    pages = {}
    for lesson in lessons:
        prefix = lesson.stem[:2]
        if prefix == TABLE1_LESSON:
            pages = {TABLE1_PAGE: table1_page(lesson, dataset, profile, results, figures), **pages}
        elif _outputs(results / "tables", prefix, dataset, profile, ".csv"):
            pages[lesson.stem] = lesson_results_page(lesson, dataset, profile, results, figures)
    return pages


def index_page(profile: str, from_reports: bool, results: list[str]) -> str:
    source = (f"executed by `make reproduce PROFILE={profile}`" if from_reports
              else f"executed by `make book` under the `{profile}` profile"
              + (" (trained now, in seconds)" if profile == "smoke" else ", from the run records: nothing trained"))
    return "\n".join([
        readme_intro(), "",
        f"This book holds the lessons {source}, and their results, one page per paper. "
        "Build it with `make book`; it works offline.", "",
        "```{toctree}", ":caption: Lessons", ":maxdepth: 1", ":glob:", "", "lessons/*", "```", "",
        "```{toctree}", ":caption: Results", ":maxdepth: 1", "", *(f"results/{name}" for name in results), "```", ""])
