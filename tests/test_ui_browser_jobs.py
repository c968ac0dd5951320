"""Upload jobs in the page: progress shown while the job runs, the Cancel button, the collection left as it was."""
from __future__ import annotations

from tests.test_ui_api import corpus_state, long_article
from tests.test_ui_browser import page  # noqa: F401 (the same browser page fixture)

REPORT = "document.querySelector('#qa-upload-report textarea')"



def test_the_page_shows_a_running_job_and_cancels_it(ui_server, page, tmp_path):
    corpus_before = corpus_state(ui_server.corpus)
    article = tmp_path / "ledger_in_the_page.txt"
    article.write_text(long_article("Tamsin", 1500), encoding="utf-8")
    page.goto(ui_server.url, wait_until="domcontentloaded")
    page.wait_for_function("() => document.querySelector('#qa-collection')?.innerText"
                           ".includes('000_98bc07159c41a427.txt')")
    rows_before = page.locator("#qa-collection").inner_text()

    page.locator("#qa-upload input[type=file]").set_input_files(str(article))
    page.wait_for_function(f"() => ({REPORT} || {{}}).value?.includes('ledger_in_the_page.txt: indexing')")
    report = page.evaluate(f"() => {REPORT}.value")  # refreshed by the page's poll; the running job comes first
    head, first_file = report.splitlines()[:2]
    assert head.endswith(": running (1 file)") and "ledger_in_the_page.txt: indexing" in first_file
    job_id = head.split()[1].rstrip(":")

    page.locator("#qa-cancel").click()  # the picker holds the running job
    page.wait_for_function(f"() => ({REPORT} || {{}}).value?.includes('Job {job_id}: cancelled')")
    report = page.evaluate(f"() => {REPORT}.value")
    ours = report[report.index(f"Job {job_id}: cancelled"):].split("\n\n")[0]
    assert "ledger_in_the_page.txt: cancelled, not added" in ours and "Cancelled: nothing was added" in ours
    assert corpus_state(ui_server.corpus) == corpus_before
    assert page.locator("#qa-collection").inner_text() == rows_before
