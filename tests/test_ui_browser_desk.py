"""The research desk in a real browser (headless Debian chromium, the real server of conftest.py): follow-up
questions, [n] links to the sources, Read the article, removing an article, thumbs up and down, the Markdown
export, and a phone-sized screen."""
from __future__ import annotations

import json
import os
from pathlib import Path

from tests.test_ui_browser import SF_QUESTION, page  # noqa: F401 (the same browser page fixture)
from tools.screenshot import BOT, ask

BLINKEN = "Who did Blinken meet on Sunday?"
FOLLOW_UP = "How long did it last?"
REPORT = "document.querySelector('#qa-upload-report textarea')"
LIGHTHOUSE = """# Skerrin lighthouse keeper retires

Maud Ferrow retired on Friday after thirty-one years as keeper of the Skerrin lighthouse.
The lighthouse will be run from the mainland from next month.
"""
# The source of a [n] link is open, and its top is inside the visible part of the box that scrolls it.
SOURCE_IN_VIEW = """id => {
  const source = document.getElementById(id);
  let box = source.parentElement;
  while (box && !(/(auto|scroll)/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight)) {
    box = box.parentElement;
  }
  const top = source.getBoundingClientRect().top, shown = box.getBoundingClientRect();
  return source.open && top >= shown.top - 1 && top < shown.bottom - 40 && top >= 0 && top < innerHeight;
}"""


def feedback_records(ui_server) -> list[dict]:
    path = Path(os.environ.get("QA_FEEDBACK") or ui_server.index_dir.parent / "feedback.jsonl")  # as qa.feedback
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_a_follow_up_is_read_with_the_question_before_it(ui_server, page):
    page.goto(ui_server.url, wait_until="domcontentloaded")
    ask(page, BLINKEN)
    ask(page, FOLLOW_UP)
    answers = page.locator(BOT)
    assert answers.count() == 2
    assert answers.first.locator(".qa-understood").count() == 0
    second = answers.nth(1)
    assert second.locator(".qa-understood").inner_text().startswith(f"Understood as: {FOLLOW_UP}")
    assert "seven and a half hours" in second.locator(".qa-answer").first.inner_text()


def test_a_citation_link_opens_its_source_and_scrolls_to_it(ui_server, page):
    page.goto(ui_server.url, wait_until="domcontentloaded")
    ask(page, SF_QUESTION)
    answer = page.locator(BOT).last
    # Drawn from two articles: one group per source, in the order of the sources, each headed by its title.
    titles = answer.locator("details.qa-source .qa-title").all_inner_texts()
    assert len(titles) >= 2
    assert answer.locator(".qa-group-head .qa-title").all_inner_texts() == titles
    assert answer.locator(".qa-group").nth(1).locator(".qa-answer a.qa-ref").first.inner_text() == "[2]"

    source = answer.locator("details.qa-source").nth(1)
    source_id = source.get_attribute("id")
    assert source_id.endswith("-src-2") and not source.evaluate("e => e.open")
    page.locator(f"#qa-chat .qa-answer a.qa-ref[href='#{source_id}']").last.click()
    page.wait_for_function(SOURCE_IN_VIEW, arg=source_id)
    assert answer.locator("details.qa-source").first.evaluate("e => !e.open")  # only the one asked for
    assert len(page.context.pages) == 1 and "#" not in page.url  # no new tab, no jump of the page

    # A second answer has sources of its own: its [1] opens its own, not the first answer's.
    ask(page, SF_QUESTION)
    ids = page.locator(f"{BOT} details.qa-source").evaluate_all("els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)) == 2 * len(titles)
    page.locator(BOT).last.locator(".qa-answer a.qa-ref").first.click()
    page.wait_for_function(SOURCE_IN_VIEW, arg=ids[len(titles)])


def test_read_the_article_highlights_the_quotes_and_strikes_out_furniture(ui_server, ui_client, page):
    page.goto(ui_server.url, wait_until="domcontentloaded")
    ask(page, BLINKEN)
    expected = ui_client.predict(BLINKEN, api_name="/ask")
    first = expected["citations"][0]
    assert first["article_id"].startswith("004_")  # The Independent's page, with its newsletter furniture
    source = page.locator(f"{BOT} details.qa-source").first
    source.locator("summary").first.click()
    source.locator("details.qa-article > summary").click()
    article = source.locator("details.qa-article .qa-fulltext")
    article.wait_for()
    quoted = [q.strip() for q in article.locator("mark.qa-quote").all_inner_texts()]
    cited = sorted((s for s in expected["sentences"] if s["citation"] == 1), key=lambda s: s["start"])
    assert quoted == [s["text"] for s in cited]
    furniture = article.locator("del.qa-furniture")
    assert furniture.count() >= 1 and "breaking news alerts" in " ".join(furniture.all_inner_texts())
    assert "line-through" in furniture.first.evaluate("e => getComputedStyle(e).textDecorationLine")
    # The whole article: much more than the cited passage.
    text = (ui_server.corpus / first["file"].split("/")[-1]).read_text(encoding="utf-8")
    assert len(article.inner_text()) > 0.8 * len(" ".join(text.split()))


def test_removing_an_article_takes_it_out_of_the_answers(ui_server, ui_client, page, tmp_path):
    article, empty = tmp_path / "desk_lighthouse.md", tmp_path / "desk_empty.txt"
    article.write_text(LIGHTHOUSE, encoding="utf-8")
    empty.write_bytes(b"")
    page.goto(ui_server.url, wait_until="domcontentloaded")
    page.locator("#qa-upload input[type=file]").set_input_files([str(article), str(empty)])
    page.wait_for_function(f"() => ({REPORT} || {{}}).value?.includes('desk_lighthouse.md: added')")
    skipped = page.locator("#qa-skipped")
    skipped.get_by_text("desk_empty.txt: empty file").wait_for()  # under the table, until the next upload
    assert "Not added by the last upload" in skipped.inner_text()
    page.wait_for_function("() => document.querySelector('#qa-collection').innerText.includes('desk_lighthouse.md')")
    question = "Who was the keeper of the Skerrin lighthouse?"
    assert ui_client.predict(question, api_name="/ask")["citations"][0]["article_id"] == "desk_lighthouse"

    picker = page.locator("#qa-remove-file input")
    picker.click()
    picker.fill("desk_lighthouse")
    page.get_by_role("option", name="desk_lighthouse.md").click()
    page.locator("#qa-remove").click()
    page.wait_for_function(f"() => ({REPORT} || {{}}).value?.includes('desk_lighthouse.md: removed')")
    report = page.evaluate(f"() => {REPORT}.value")
    assert "(removal of 1 file)" in report and "1 of 1 file removed" in report
    page.wait_for_function("() => !document.querySelector('#qa-collection').innerText.includes('desk_lighthouse')")
    assert not (ui_server.corpus / "desk_lighthouse.md").exists()
    assert (ui_server.corpus / ".trash" / "desk_lighthouse.md").read_text(encoding="utf-8") == LIGHTHOUSE
    got = ui_client.predict(question, api_name="/ask")
    assert "desk_lighthouse" not in {c["article_id"] for c in got["citations"]}


def test_reindex_takes_in_the_corpus_folder_and_lists_what_it_skipped(ui_server, page):
    broken = ui_server.corpus / "desk_broken.pdf"
    broken.write_bytes(b"%PDF-1.4 put here by hand, not a PDF")
    page.goto(ui_server.url, wait_until="domcontentloaded")
    try:
        page.locator("#qa-reindex").click()
        page.locator("#qa-skipped").get_by_text("desk_broken.pdf: corrupt PDF").wait_for()  # from the new build
        assert "Skipped by the last index build" in page.locator("#qa-skipped").inner_text()
        page.wait_for_function(f"() => {REPORT}.value.split('\\n')[0].endsWith(': done (reindex)')")
        assert page.evaluate(f"() => {REPORT}.value.split('\\n')[1]").startswith("Index updated: ")
    finally:
        broken.unlink()
    page.locator("#qa-reindex").click()  # and the list follows the next build
    page.wait_for_function("() => !document.querySelector('#qa-skipped').innerText.includes('desk_broken.pdf')")
    page.wait_for_function(f"() => {REPORT}.value.split('\\n')[0].endsWith(': done (reindex)')")  # over


def test_thumbs_up_and_down_are_recorded_with_the_note(ui_server, page):
    before = len(feedback_records(ui_server))
    page.goto(ui_server.url, wait_until="domcontentloaded")
    ask(page, BLINKEN)
    ask(page, FOLLOW_UP)
    page.locator("#qa-chat button[aria-label='Like']").first.click()
    page.locator("#qa-feedback-status").get_by_text("Thumbs up recorded").wait_for()
    page.locator("#qa-feedback-note textarea").fill("Right length, but say who said it")
    page.locator("#qa-chat button[aria-label='Dislike']").last.click()
    page.locator("#qa-feedback-status").get_by_text("Thumbs down recorded").wait_for()
    assert page.locator("#qa-feedback-note textarea").input_value() == ""  # the note went with its rating

    up, down = feedback_records(ui_server)[before:]
    assert (up["rating"], up["question"], up["note"], up["history"]) == ("up", BLINKEN, None, None)
    assert (down["rating"], down["question"], down["note"]) == ("down", FOLLOW_UP, "Right length, but say who said it")
    assert down["history"] == [BLINKEN]
    assert "seven and a half hours" in down["answer"]["answer"] and down["answer"]["citations"]


def test_export_downloads_the_conversation_as_markdown(ui_server, ui_client, page, tmp_path):
    page.goto(ui_server.url, wait_until="domcontentloaded")
    assert page.locator("#qa-export").is_disabled()  # nothing to export yet
    ask(page, BLINKEN)
    ask(page, FOLLOW_UP)
    page.wait_for_function("() => !document.querySelector('#qa-export').disabled")
    with page.expect_download() as download:
        page.locator("#qa-export").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".md"
    text = saved.read_text(encoding="utf-8")
    assert f"## 1. {BLINKEN}" in text and f"## 2. {FOLLOW_UP}" in text and "seven and a half hours" in text
    cited = ui_client.predict(FOLLOW_UP, [BLINKEN], api_name="/ask")["citations"][0]
    assert cited["date"] in text and f"file {cited['article_id'].replace('_', chr(92) + '_')}.txt" in text
    assert cited["publisher"] in text and "### Sources" in text and "\n> " in text  # the passage, quoted


def test_a_phone_shows_the_question_box_on_the_first_screen(ui_server, page, tmp_path):
    context = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                               has_touch=True)
    try:
        phone = context.new_page()
        phone.set_default_timeout(60_000)
        phone.goto(ui_server.url, wait_until="domcontentloaded")
        box = phone.locator("#qa-question textarea")
        box.wait_for()
        phone.wait_for_timeout(500)  # the settings panel would be sliding in by now
        place = box.bounding_box()
        assert place["y"] >= 0 and place["y"] + place["height"] <= 844, place
        assert phone.locator(".sidebar.open").count() == 0
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
        # The collection table scrolls sideways instead of squeezing: a file name keeps a readable column.
        phone.wait_for_function("() => document.querySelector('#qa-collection')?.innerText.includes('000_98bc')")
        cell = phone.locator("#qa-collection [data-testid='cell-0-4']")
        assert cell.bounding_box()["width"] >= 150
        phone.screenshot(path=str(tmp_path / "phone.png"))
    finally:
        context.close()
