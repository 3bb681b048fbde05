"""Open a report in real headless Chromium (Debian `chromium`, driven by Playwright) and watch it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)


@contextlib.contextmanager
def chromium_page(path: Path, *, width: int = 1300, height: int = 900) -> Iterator[tuple[object, list]]:
    """(page, events) with `path` loaded; events collects console messages, page errors, dialogs and
    every request for anything but the file itself (a self-contained report makes none of them)."""
    from playwright.sync_api import sync_playwright

    events: list[tuple[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: events.append(("console." + m.type, m.text)))
            page.on("pageerror", lambda e: events.append(("pageerror", str(e))))
            page.on("dialog", lambda d: (events.append(("dialog", d.message)), d.dismiss()))
            page.on("request", lambda r: r.url != path.as_uri() and events.append(("request", r.url)))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            yield page, events
        finally:
            browser.close()


def images(page) -> list[tuple[str, bool, int]]:
    """(class, complete, natural width) of every image on the page: decoded images have a width."""
    return page.evaluate("Array.from(document.images).map(i => [i.className, i.complete, i.naturalWidth])")
