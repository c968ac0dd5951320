"""A screenshot of a real answer, for the README: ``python -m ui.screenshot [--out docs/screenshot.png]``.

Starts ``qa ui`` on the bundled collection (a copy, with an index built in a temporary folder) unless ``--url``
names a running server, opens the page in headless Chromium (Debian's ``chromium``, driven by Playwright; no browser
download), clicks the first example question, opens the first source and saves the page.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .server import ROOT, serve

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]


def chromium_path() -> str | None:
    """Debian's chromium, or $CHROMIUM; None when neither is there."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch(playwright, executable: str):
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def ask_first_example(page, url: str, timeout_ms: int = 60_000) -> None:
    """Loads the page, clicks the first example question and waits until its answer with sources is shown."""
    page.goto(url, wait_until="domcontentloaded")
    page.locator(".qa-example").first.click(timeout=timeout_ms)
    page.locator("#qa-chat details.qa-source summary").first.wait_for(timeout=timeout_ms)


def shrink(path: Path) -> None:
    """A 256-colour palette: a page of text and flat colours loses nothing visible, the file a good deal."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def capture(url: str, out: Path, width: int = 1400, height: int = 960) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise SystemExit("chromium not found: install Debian's 'chromium' package (apt-get install chromium)")
    with sync_playwright() as p:
        browser = launch(p, executable)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            ask_first_example(page, url)
            page.locator("#qa-chat details.qa-source summary").first.click()
            page.wait_for_timeout(500)  # let the chat's own autoscroll settle first
            # Let the chat grow to its content for the picture (the page itself scrolls it in a fixed height).
            page.add_style_tag(content="#qa-chat, #qa-chat .bubble-wrap { height: auto !important; "
                                       "max-height: none !important; overflow: visible !important; }")
            page.wait_for_timeout(300)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            shrink(out)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--url", help="a running `qa ui` (default: start one on a copy of corpus/)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.url:
        capture(args.url.rstrip("/"), out)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-shot-") as tmp:
            corpus = Path(tmp) / "corpus"
            shutil.copytree(ROOT / "corpus", corpus)
            with serve(corpus, Path(tmp) / "index") as server:
                capture(server.url, out)
    print(f"saved {out} ({out.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
