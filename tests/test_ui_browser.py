"""The page in a real browser: headless Debian chromium driven by Playwright (no browser download).

In CI (CI=true) a missing chromium or Playwright is a failure, never a skip.
"""
from __future__ import annotations

import os

import pytest

from tools.screenshot import ask_first_example, chromium_path, launch

IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
SF_QUESTION = "What was agreed in San Francisco?"
SF_GOLD = {"000_98bc07159c41a427", "001_cd19cef5703942ac"}

# An article that tries every way of becoming markup: a script, an event handler, a link, Markdown, math.
HOSTILE = """# Zorblat <img src=x onerror="window.__xss='title'"> lantern festival $$x^2$$

The Zorblat lantern festival in Quenton drew 4,200 visitors on its opening night <script>window.__xss = 'script'; alert("xss")</script> according to the organisers.

Organisers said the <b onmouseover="window.__xss='b'">lantern parade</b> would return next spring, [see the programme](http://example.com/evil) and **tickets** cost $$x^2$$ crowns.

The mayor of Quenton, Ilse Varda, opened the Zorblat festival with a speech about the river <img src=x onerror="window.__xss='img'">.
"""


def _browser_or_skip():
    """(sync_playwright, chromium executable); fails in CI, skips with the reason elsewhere."""
    def missing(reason: str):
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the browser test must run; scripts/test installs Debian's chromium)")
        pytest.skip(reason)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (python) is not installed: pip install -e '.[test]'")
    executable = chromium_path()
    if executable is None:
        missing("Debian's chromium is not installed (apt-get install chromium)")
    return sync_playwright, executable


@pytest.fixture(scope="module")
def page(ui_server):
    sync_playwright, executable = _browser_or_skip()
    with sync_playwright() as p:
        browser = launch(p, executable)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page
        context.close()
        browser.close()


def test_first_example_answers_with_the_right_sources(ui_server, ui_client, page, tmp_path):
    ask_first_example(page, ui_server.url)
    assert page.locator(".qa-example").first.inner_text().strip() == SF_QUESTION
    assert page.locator("#qa-chat .qa-question").first.inner_text().strip() == SF_QUESTION

    expected = ui_client.predict(SF_QUESTION, api_name="/ask")  # the same server's answer, as JSON
    assert {c["article_id"] for c in expected["citations"]} <= SF_GOLD
    summaries = [s.strip() for s in page.locator("#qa-chat details.qa-source > summary").all_inner_texts()]
    assert len(summaries) == len(expected["citations"])
    for summary, c in zip(summaries, expected["citations"]):
        assert summary.startswith(f"[{c['n']}] {c['title']}"), summary
        assert f"{c['article_id']}.txt" in summary

    answer = page.locator("#qa-chat .qa-answer").first.inner_text()
    assert "[1]" in answer and expected["sentences"][0]["text"][:60] in answer

    # Opening a source shows the cited passage with the quoted sentences highlighted.
    page.locator("#qa-chat details.qa-source > summary").first.click()
    first_source = page.locator("#qa-chat details.qa-source").first
    quoted = [q.strip() for q in first_source.locator(".qa-passage mark.qa-quote").all_inner_texts()]
    cited = sorted((s for s in expected["sentences"] if s["citation"] == 1), key=lambda s: s["start"])
    assert quoted == [s["text"] for s in cited]  # in document order, inside their context
    assert first_source.locator(".qa-context").count() >= 1  # the article's other sentences around them

    shot = tmp_path / "answer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_uploaded_html_and_markdown_stay_text(ui_server, page, tmp_path):
    article = tmp_path / "zorblat_festival.txt"
    article.write_text(HOSTILE, encoding="utf-8")
    page.goto(ui_server.url, wait_until="domcontentloaded")
    page.locator("#qa-upload input[type=file]").set_input_files(str(article))
    page.wait_for_function("() => (document.querySelector('#qa-upload-report textarea') || {}).value"
                           "?.includes('zorblat_festival.txt: added')")
    assert (ui_server.corpus / "zorblat_festival.txt").exists()

    page.locator("#qa-question textarea").fill("How many visitors did the Zorblat lantern festival draw?")
    page.locator("#qa-ask").click()
    page.locator("#qa-chat details.qa-source > summary").first.wait_for()
    page.locator("#qa-chat details.qa-source > summary").first.click()
    page.locator("#qa-chat details.qa-article > summary").first.click()  # the whole article, as text too
    page.wait_for_timeout(500)  # give anything that might run the chance to

    chat = page.locator("#qa-chat")
    text = chat.inner_text()
    assert "<script>window.__xss = 'script'; alert(\"xss\")</script>" in text  # shown, as text
    assert "<b onmouseover=\"window.__xss='b'\">lantern parade</b>" in chat.locator(".qa-fulltext").first.inner_text()
    assert "[see the programme](http://example.com/evil)" in text and "**tickets**" in text
    assert "$$x^2$$" in text
    assert page.evaluate("() => window.__xss") is None and page.dialogs == []
    assert chat.locator("script, img, b, a[href*='example.com'], .katex, iframe").count() == 0
    summary = page.locator("#qa-chat details.qa-source > summary").first.inner_text()
    assert "Zorblat <img src=x onerror=\"window.__xss='title'\"> lantern festival" in summary
    collection = page.locator("#qa-collection")
    assert "Zorblat <img src=x" in collection.inner_text()
    assert collection.locator("img, .katex").count() == 0
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)

    page.locator("#qa-clear").click()
    page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-question').length === 0")


def test_timeline_tab_lists_events_in_order(ui_server, ui_client, page, tmp_path):
    page.goto(ui_server.url)
    page.get_by_role("tab", name="Timeline").click()
    page.locator("#qa-topic textarea, #qa-topic input").first.fill("China US relations")
    page.locator("#qa-timeline-go").click()
    items = page.locator("#qa-timeline ol.qa-timeline li")
    items.first.wait_for()
    expected = ui_client.predict("China US relations", api_name="/timeline")
    shown = [t.strip() for t in page.locator("#qa-timeline ol.qa-timeline .qa-when").all_inner_texts()]
    assert len(shown) == len(expected["events"]) >= 8
    assert shown[0].startswith("1979") and shown[-1].startswith("2025-11")
    assert page.locator("#qa-timeline details.qa-source").count() == len(expected["citations"])
    last = items.last.locator("a.qa-ref")  # an event's [n] opens its source
    source = page.locator(last.get_attribute("href"))
    assert not source.evaluate("e => e.open")
    last.click()
    page.wait_for_function("id => document.getElementById(id).open", arg=last.get_attribute("href")[1:])
    shot = tmp_path / "timeline.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
