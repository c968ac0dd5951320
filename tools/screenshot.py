"""Screenshots of real answers, for the README: ``python -m tools.screenshot [--out-dir docs]``.

Starts ``qa ui`` on the bundled collection (a copy, with an index built in a temporary folder) unless ``--url``
names a running server, and drives the page in headless Chromium (Debian's ``chromium``, driven by Playwright; no
browser download). It writes three pictures:

- ``screenshot.png``: a desktop window. The first example question is asked, its ``[2]`` link is clicked (which
  opens source 2), and that source's "Read the article" is opened.
- ``screenshot-phone.png``: a 390 x 844 phone screen after a question and a follow-up, the follow-up's answer
  scrolled into view.
- ``screenshot-dark.png``: a desktop window in the dark colour scheme. A question is asked, and its first source
  is opened with its whole article.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tools.ui_server import ROOT, serve

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]
BOT = "#qa-chat .message.bot"
# Let the chat grow to its content for a whole-page picture (the page itself scrolls it in a fixed height).
CHAT_UNBOUND = ("#qa-chat, #qa-chat .bubble-wrap { height: auto !important; max-height: none !important; "
                "overflow: visible !important; }")
# Scrolls the chat (only the chat) so that an element is at its top, as the page's [n] links do.
SCROLL_CHAT_TO = """el => {
  let box = el.parentElement;
  while (box && !(/(auto|scroll)/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight)) {
    box = box.parentElement;
  }
  if (box) box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 40;
}"""


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
    page.locator("#qa-chat details.qa-source > summary").first.wait_for(timeout=timeout_ms)


def ask(page, question: str) -> None:
    """Asks in the page's question box and waits for the answer (each ends with its confidence line)."""
    before = page.locator(f"{BOT} .qa-meta").count()
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-ask").click()
    page.wait_for_function(f"n => document.querySelectorAll('{BOT} .qa-meta').length > n", arg=before)


def shrink(path: Path) -> None:
    """A 256-colour palette: a page of text and flat colours loses nothing visible, the file a good deal."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def _save(page, out: Path, *, full_page: bool) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=full_page)
    shrink(out)
    return out


def desktop(browser, url: str, out: Path) -> Path:
    page = browser.new_page(viewport={"width": 1400, "height": 960})
    ask_first_example(page, url)
    page.locator(f"{BOT} .qa-answer a.qa-ref", has_text="[2]").first.click()
    source = page.locator(f"{BOT} details.qa-source").nth(1)
    source.locator("details.qa-article > summary").click()
    page.wait_for_timeout(500)  # let the chat's own autoscroll settle first
    page.add_style_tag(content=CHAT_UNBOUND)
    page.wait_for_timeout(300)
    return _save(page, out, full_page=True)


def phone(browser, url: str, out: Path) -> Path:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        ask(page, "Who did Blinken meet on Sunday?")
        ask(page, "How long did it last?")
        page.wait_for_timeout(500)
        page.locator(BOT).last.evaluate(SCROLL_CHAT_TO)
        page.wait_for_timeout(300)
        return _save(page, out, full_page=False)
    finally:
        context.close()


def dark(browser, url: str, out: Path) -> Path:
    context = browser.new_context(viewport={"width": 1400, "height": 960}, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        ask(page, "Who did Blinken meet on Sunday?")
        source = page.locator(f"{BOT} details.qa-source").first
        source.locator("summary").first.click()
        source.locator("details.qa-article > summary").click()
        page.wait_for_timeout(500)
        page.add_style_tag(content=CHAT_UNBOUND)
        page.wait_for_timeout(300)
        return _save(page, out, full_page=True)
    finally:
        context.close()


def capture(url: str, out_dir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise SystemExit("chromium not found: install Debian's 'chromium' package (apt-get install chromium)")
    with sync_playwright() as p:
        browser = launch(p, executable)
        try:
            return [desktop(browser, url, out_dir / "screenshot.png"),
                    phone(browser, url, out_dir / "screenshot-phone.png"),
                    dark(browser, url, out_dir / "screenshot-dark.png")]
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(ROOT / "docs"), help="where the three pictures go (default docs/)")
    parser.add_argument("--url", help="a running `qa ui` (default: start one on a copy of corpus/)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir)
    if args.url:
        saved = capture(args.url.rstrip("/"), out_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="qa-shot-") as tmp:
            corpus = Path(tmp) / "corpus"
            shutil.copytree(ROOT / "corpus", corpus)
            with serve(corpus, Path(tmp) / "index") as server:
                saved = capture(server.url, out_dir)
    for path in saved:
        print(f"saved {path} ({path.stat().st_size // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
