"""Open every page of the built book in headless Chromium (Debian's, driven by Playwright) and check
what a reader would see: the page loads without script errors, every equation is typeset by
MathJax (no raw ``$$`` or ``\\(`` left), every image has loaded (natural width > 0), every internal
link and anchor resolves, and nothing is requested from another host (the book must work offline).
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

# The flags that work on a closed network (no background connections, no sandbox as root).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT_PAGE = "lessons/03_gazemedseg.html"

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
  };
}"""


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


def check_site(html: Path, screenshot: Path | None = None, executable: str | None = None) -> SiteReport:
    """Check every ``*.html`` under ``html``; write a screenshot of lesson 03 to ``screenshot``."""
    from playwright.sync_api import sync_playwright

    executable = executable or chromium()
    if executable is None:
        raise FileNotFoundError("Chromium not found: install Debian's `chromium` (make test does, as root)")
    html = Path(html).resolve()
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
                if name == SCREENSHOT_PAGE and screenshot is not None:
                    _screenshot(page, screenshot)
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


def _screenshot(page, path: Path) -> None:
    """The viewport around the page's first displayed equation: title, text and typeset maths."""
    page.evaluate("""() => { const eq = document.querySelector("div.math");
                             if (eq) { window.scrollTo(0, Math.max(0, eq.getBoundingClientRect().top + window.scrollY - 350)); } }""")
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
