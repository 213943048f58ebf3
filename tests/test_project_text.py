"""The project describes itself, not the environment it was developed in: no lent machines,
leases, sessions, a "device tool" or "the CI machines' disk" in its README, code, help, tools,
docs or results READMEs (a GPU machine is described generically)."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Where the project speaks of itself (text files only).
PLACES = ("README.md", "Makefile", "gazelib", "tools", "docs", "results/*/README.md", "results/*/*/README.md")
SUFFIXES = {".md", ".py", ".sh", ".txt", ".toml", ".csv", ".cfg", ".yml", ".yaml", ""}
ENVIRONMENT = re.compile(r"lent GPU|lent machine|lease|device tool|session|CI machines", re.IGNORECASE)
#: "release(d)" is the authors' published code and checkpoints, not a lease.
ALLOWED = re.compile(r"releas(e|ed|es|ing)\b", re.IGNORECASE)


def _files() -> list[Path]:
    found = []
    for place in PLACES:
        for path in REPO.glob(place):
            found += [p for p in ([path] if path.is_file() else path.rglob("*"))
                      if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return sorted(set(found))


def environment_mentions(text: str) -> list[str]:
    """The lines of ``text`` that speak of the development environment."""
    return [line.strip() for line in text.splitlines() if ENVIRONMENT.search(ALLOWED.sub("", line))]


def test_the_check_finds_what_it_looks_for():
    text = "run it on the lent GPU\nthe authors' released checkpoints\nsee tools/gpu/session.sh\nlease time"
    assert environment_mentions(text) == ["run it on the lent GPU", "see tools/gpu/session.sh", "lease time"]


def test_the_project_text_never_mentions_the_development_environment():
    files = _files()
    assert any(p.name == "README.md" for p in files) and any(p.suffix == ".py" for p in files)
    hits = [f"{p.relative_to(REPO)}: {line}" for p in files for line in environment_mentions(p.read_text(errors="replace"))]
    assert not hits, "text about the development environment:\n" + "\n".join(hits)
