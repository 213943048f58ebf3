"""Open every page of the built book in headless Chromium (Debian's, driven by Playwright) and check
what a reader would see: the page loads without script errors, every equation is typeset by
MathJax (no raw ``$$`` or ``\\(`` left), every image has loaded (natural width > 0), every internal
link and anchor resolves, and nothing is requested from another host (the book must work offline).
What a lesson's page must not show: papermill's injected parameters cell, a path of the machine
that built it, a text progress bar, a table header with a machine name (``dice_mean``), a column of
row numbers, a table running off the page. Nothing is executed: the check reads the built site.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

# The flags that work on a closed network (no background connections, no sandbox as root).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The pages photographed (page, file name, what to scroll to: None for the top of the page).
SCREENSHOTS = [("index.html", "screenshot-index.png", None),
               ("lessons/04_gradtrack.html", "screenshot-lesson-04.png", ".tag_parameters"),
               ("lessons/04_gradtrack.html", "screenshot-lesson-04-table.png", ".cell_output table"),
               ("results/table1.html", "screenshot-table1.png", None)]

# Runs in the page: wait for MathJax, then report what the checks need.
_INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  await Promise.all(images.map(img => { img.loading = "eager"; return img.decode().catch(() => null); }));
  const main = document.querySelector("main") || document.body;
  return {
    math: document.querySelectorAll(".math").length,
    typeset: [...document.querySelectorAll(".math")].filter(e => e.querySelector("mjx-container")).length,
    texErrors: document.querySelectorAll("mjx-merror").length,
    rawMath: (main.innerText.match(/\\$\\$|\\\\\\(|\\\\\\[/g) || []).length,
    images: images.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id),
    injected: document.querySelectorAll(".tag_injected-parameters").length,
    paths: main.innerText.match(/(?:^|[\\s'"(=:])\\/(?:[\\w.-]+\\/)+[\\w.-]*/gm) || [],
    bars: main.innerText.match(/^.*\\[\\d+:\\d+(?::\\d+)?(?:<[\\d:?]+)?(?:, *[^\\]\\n]*)?\\].*$/gm) || [],
    headers: [...main.querySelectorAll("table th")].map(th => th.innerText.trim()),
    rowNumbers: [...main.querySelectorAll("table")].filter(t => {
      const heads = [...t.querySelectorAll("tbody tr > th:first-child")].map(th => th.innerText.trim());
      return heads.length > 1 && heads.every((h, k) => h === String(k));
    }).length,
    clipped: [...main.querySelectorAll("table")].filter(t => {
      let box = t;
      while (box && box !== main) {
        if (["auto", "scroll"].includes(getComputedStyle(box).overflowX) && box.scrollWidth > box.clientWidth - 1) return false;
        box = box.parentElement;
      }
      return t.getBoundingClientRect().right > main.getBoundingClientRect().right + 1;
    }).length,
  };
}"""
# Machine names of the summary columns (``summary.summarize``), never a published table's header.
MACHINE_HEADER = re.compile(r"^(dice|iou|hd95)_(mean|std|ci_low|ci_high)|^p_value$|^paper_dice$")


@dataclass
class SiteReport:
    pages: dict[str, dict] = field(default_factory=dict)   # page -> what _INSPECT returned
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, key: str) -> int:
        return sum(len(p[key]) if isinstance(p[key], list) else p[key] for p in self.pages.values())

    def summary(self) -> str:
        head = (f"{len(self.pages)} pages, {self.count('typeset')}/{self.count('math')} equations typeset, "
                f"{self.count('images')} images, {self.count('links')} links")
        return head + ("" if self.ok else "\n" + "\n".join(f"  - {p}" for p in self.problems))


def chromium() -> str | None:
    """Debian's Chromium (``$CHROMIUM`` overrides), or None when it is not installed."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve(root: Path) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_site(html: Path, screenshots: Path | None = None, executable: str | None = None) -> SiteReport:
    """Check every ``*.html`` under ``html``; write the ``SCREENSHOTS`` into the folder ``screenshots``."""
    from playwright.sync_api import sync_playwright

    executable = executable or chromium()
    if executable is None:
        raise FileNotFoundError("Chromium not found: install Debian's `chromium` (make test does, as root)")
    html = Path(html).resolve()
    if not (html / "index.html").is_file():
        raise FileNotFoundError(f"no built book in {html} (no index.html): build it first with `make book`")
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html") if "_static" not in p.parts)
    report = SiteReport()
    server = _serve(html)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            current = {"name": ""}

            def guard(route) -> None:
                if route.request.url.startswith(origin + "/") or route.request.url.startswith("data:"):
                    route.continue_()
                else:
                    report.problems.append(f"{current['name']}: requests another host: {route.request.url}")
                    route.abort()

            page.route("**/*", guard)
            page.on("pageerror", lambda e: report.problems.append(f"{current['name']}: script error: {e}"))
            page.on("response", lambda r: r.status >= 400 and report.problems.append(
                f"{current['name']}: HTTP {r.status} for {r.url}"))
            for name in pages:
                current["name"] = name
                response = page.goto(f"{origin}/{name}", wait_until="load")
                if response is None or not response.ok:
                    report.problems.append(f"{name}: did not load")
                    continue
                report.pages[name] = info = page.evaluate(_INSPECT)
                _check_page(name, info, report)
                for shot_page, file, target in SCREENSHOTS:
                    if shot_page == name and screenshots is not None:
                        _screenshot(page, screenshots / file, target)
            browser.close()
    finally:
        server.shutdown()
    _check_links(html, origin, report)
    return report


def _check_page(name: str, info: dict, report: SiteReport) -> None:
    if info["typeset"] < info["math"]:
        report.problems.append(f"{name}: {info['math'] - info['typeset']} of {info['math']} equations not typeset")
    if info["texErrors"]:
        report.problems.append(f"{name}: {info['texErrors']} TeX errors")
    if info["rawMath"]:
        report.problems.append(f"{name}: {info['rawMath']} raw maths delimiters left in the text")
    for image in info["images"]:
        if image["width"] == 0:
            report.problems.append(f"{name}: image did not load: {image['src']}")
    if info["injected"]:
        report.problems.append(f"{name}: papermill's injected parameters cell is shown")
    for path in info["paths"]:
        report.problems.append(f"{name}: a machine path is shown: {path.strip()}")
    for bar in info["bars"]:
        report.problems.append(f"{name}: a text progress bar is shown: {bar.strip()}")
    for header in info["headers"]:
        if MACHINE_HEADER.search(header):
            report.problems.append(f"{name}: a table header is a machine name: {header}")
    if info["rowNumbers"]:
        report.problems.append(f"{name}: {info['rowNumbers']} table(s) with a column of row numbers (the pandas index)")
    if info["clipped"]:
        report.problems.append(f"{name}: {info['clipped']} table(s) run off the page without a scroll bar")


def _check_links(html: Path, origin: str, report: SiteReport) -> None:
    """Every same-site link points at a file of the site, and its #anchor at an id on that page."""
    for name, info in report.pages.items():
        for link in info["links"]:
            if not link.startswith(origin + "/"):
                continue
            url, anchor = urldefrag(link)
            target = unquote(urlparse(url).path).lstrip("/") or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (html / target).is_file():
                report.problems.append(f"{name}: broken link {link}")
            elif anchor and target in report.pages and anchor not in report.pages[target]["ids"]:
                report.problems.append(f"{name}: link to a missing anchor {link}")


def _screenshot(page, path: Path, target: str | None) -> None:
    """The viewport at the top of the page, or with the first element matching ``target`` near its top."""
    page.evaluate("""(target) => { const e = target && document.querySelector(target);
                                   window.scrollTo(0, e ? Math.max(0, e.getBoundingClientRect().top + window.scrollY - 80) : 0); }""",
                  target)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
