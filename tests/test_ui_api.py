"""The running `qa ui` server over HTTP, as a script sees it through gradio_client (fixtures in conftest.py)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from ui.render import text

ROOT = Path(__file__).resolve().parents[1]
SF_QUESTION = "What was agreed in San Francisco?"
SF_GOLD = {"000_98bc07159c41a427", "001_cd19cef5703942ac"}  # eval/sets/collection.jsonl c019
KEYS = {"question", "answer", "abstained", "confidence", "sentences", "citations", "timings_ms", "notes",
        "understood"}


def _message_text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content)


def _collection(client) -> dict[str, list]:
    table = client.predict(api_name="/collection")
    return {row[-1]: row for row in table["data"]}  # file -> [title, date, publisher, chunks, file]


def wait_job(client, job_id: str, until=lambda job: job["state"] not in ("queued", "running", "cancelling"),
             timeout: float = 300) -> dict:
    """Polls /jobs until the job satisfies ``until`` (by default: it is over); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        job = next(j for j in client.predict(api_name="/jobs") if j["id"] == job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']} after {timeout} s: {job}"
        time.sleep(0.25)


def _upload(client, files) -> tuple[str, dict]:
    """Uploads, waits for the job; returns its report and the collection table."""
    job = wait_job(client, client.predict(files, api_name="/upload")["id"])
    return job["report"], client.predict(api_name="/collection")


def test_ask_san_francisco_returns_the_cli_json(ui_server, ui_client):
    got = ui_client.predict(SF_QUESTION, api_name="/ask")
    assert set(got) == KEYS
    assert got["question"] == SF_QUESTION and not got["abstained"]
    assert "[1]" in got["answer"]
    low = got["answer"].lower()
    assert any(fact in low for fact in ("communication channels", "military contacts", "counter narcotics",
                                        "anti-drug"))

    # Citations: numbered from 1, from the gold articles, with the titles the collection panel shows.
    citations = got["citations"]
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert {c["article_id"] for c in citations} <= SF_GOLD
    collection = _collection(ui_client)
    for c in citations:
        assert collection[c["article_id"] + ".txt"][0] == c["title"]

    # Every quoted sentence is exactly the text at its offsets in the article file on the server's disk.
    for s in got["sentences"]:
        text = (ui_server.corpus / f"{s['article_id']}.txt").read_text(encoding="utf-8")
        assert " ".join(text[s["start"]:s["end"]].split()) == s["text"]
        assert 1 <= s["citation"] <= len(citations)

    # The same object as `qa ask --json` on the same index (timings aside).
    cli = subprocess.run([sys.executable, "-m", "qa", "ask", "--json", "--index-dir", str(ui_server.index_dir),
                          SF_QUESTION], cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout.splitlines()[0])
    for obj in (got, expected):
        obj.pop("timings_ms")
    assert got == expected


def test_timeline_api_lists_dated_events_in_order(ui_client):
    got = ui_client.predict("China US relations", api_name="/timeline")
    dates = [e["date"] for e in got["events"]]
    assert dates[0].startswith("1979") and dates[-1].startswith("2025-11")
    firsts = [d[:10] if len(d) >= 10 else (d + "-01-01")[:10] for d in dates]
    assert firsts == sorted(firsts)
    assert {c["n"] for c in got["citations"]} == {e["citation"] for e in got["events"]}
    table = _collection(ui_client)
    assert table["003_42fb9e8cdcba927c.txt"][1:3] == ["not before 2024-01-08 (inferred)", "Xinhua"]


def test_ask_with_history_answers_a_follow_up(ui_client):
    got = ui_client.predict("How long did it last?", ["Who did Blinken meet on Sunday?"], api_name="/ask")
    assert got["understood"].startswith("How long did it last?") and "seven and a half hours" in got["answer"]
    assert ui_client.predict("Who did Blinken meet on Sunday?", api_name="/ask")["understood"] is None


def test_plain_http_ask_returns_the_cli_json(ui_server):
    """The two calls of gradio's HTTP API, as the README shows them with curl (every input given: the history
    is null)."""
    body = json.dumps({"data": [SF_QUESTION, None]}).encode()
    request = urllib.request.Request(f"{ui_server.url.rstrip('/')}/gradio_api/call/ask", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{ui_server.url.rstrip('/')}/gradio_api/call/ask/{event}", timeout=120) as response:
        stream = response.read().decode()
    data = next(line[len("data:"):] for line in stream.splitlines() if line.startswith("data:"))
    [answer] = json.loads(data)
    assert set(answer) == KEYS and not answer["abstained"]
    assert all("path" not in c and c["file"].endswith(".txt") for c in answer["citations"])


def test_chat_reads_a_follow_up_against_the_conversation(ui_client):
    history, _ = ui_client.predict("Who did Blinken meet on Sunday?", [], 5, "hybrid", None, None, False, False,
                                   api_name="/chat")
    history, _ = ui_client.predict("How long did it last?", history, 5, "hybrid", None, None, False, False,
                                   api_name="/chat")
    reply = _message_text(history[-1])
    assert "Understood as:" in reply and "seven and a half hours" in reply


def test_ask_rejects_an_empty_question(ui_client):
    with pytest.raises(AppError, match="empty"):
        ui_client.predict("   ", api_name="/ask")


def test_chat_shows_quotes_markers_and_sources(ui_client):
    history, box = ui_client.predict(SF_QUESTION, [], 5, "hybrid", None, None, False, False, api_name="/chat")
    assert box == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    reply = _message_text(history[1])
    assert '<a class="qa-ref" href="#qa-m1-src-1">&#91;1&#93;</a>' in reply  # [1] markers, links to source 1
    assert '<details class="qa-source" id="qa-m1-src-1">' in reply and "<mark" in reply
    assert '<details class="qa-article"><summary>Read the article</summary>' in reply
    assert "qa-scores" not in reply
    # A follow-up is answered on its own; the conversation grows.
    history, _ = ui_client.predict("Where did Biden and Xi hold their talks during the 2023 APEC summit?", history,
                                   5, "hybrid", None, None, False, False, api_name="/chat")
    assert len(history) == 4
    # the place is marked as the answer (either of the collection set's answers to it, c001)
    assert re.search(r"<mark>(?:San Francisco|Filoli[^<]*)</mark>", _message_text(history[3]))
    assert 'id="qa-m2-src-1"' in _message_text(history[3])  # its sources' ids are its own


def test_chat_settings_scores_mode_and_dates(ui_client):
    history, _ = ui_client.predict(SF_QUESTION, [], 3, "bm25", None, None, False, True, api_name="/chat")
    reply = _message_text(history[-1])
    assert '<p class="qa-scores">' in reply and "BM25" in reply and "fused" in reply
    assert "dense \u2014 (not in its top candidates)" in reply  # BM25 mode: no dense scores

    history, _ = ui_client.predict(SF_QUESTION, [], 5, "hybrid", None, "1970-12-31", False, False, api_name="/chat")
    assert "No article matched" in _message_text(history[-1])
    # An inferred date is kept in view where it may fall in the range, and shown as inferred.
    history, _ = ui_client.predict("What did the Track 1.5 Dialogue agree?", [], 5, "hybrid", "2030-01-01", None,
                                   False, False, api_name="/chat")
    reply = _message_text(history[-1])
    assert text("not before 2024-01-08 (inferred)") in reply and "Xinhua" in reply

    history, _ = ui_client.predict(SF_QUESTION, [], 5, "hybrid", "soon", None, False, False, api_name="/chat")
    assert "not a date" in _message_text(history[-1])


FACT_ARTICLE = """# Velmora harbour council approves tide barrier

The Velmora harbour council approved a tide barrier costing 38 million euros at its meeting on Tuesday.
Construction of the barrier is due to start in the spring and take three years.
Fishermen in Velmora had asked for protection from winter storm surges for a decade.
"""


def test_upload_a_file_and_ask_about_it(ui_server, ui_client, tmp_path):
    path = tmp_path / "velmora_barrier.md"
    path.write_text(FACT_ARTICLE, encoding="utf-8")
    report, table = _upload(ui_client, [handle_file(str(path))])
    assert "\u2713 velmora_barrier.md: added" in report and "1 of 1 file added" in report
    rows = {row[-1]: row for row in table["data"]}
    assert rows["velmora_barrier.md"][0] == "Velmora harbour council approves tide barrier"
    assert rows["velmora_barrier.md"][3] >= 1  # chunks
    assert (ui_server.corpus / "velmora_barrier.md").read_text(encoding="utf-8") == FACT_ARTICLE

    got = ui_client.predict("How much will the Velmora tide barrier cost?", api_name="/ask")
    assert not got["abstained"]
    assert got["citations"][0]["article_id"] == "velmora_barrier"
    assert "38 million euros" in got["answer"]


def test_upload_bad_files_each_get_a_reason_and_the_good_one_goes_in(ui_server, ui_client, tmp_path):
    files = {
        "empty.txt": b"",
        "binary.txt": b"\x00\x01\x02\x03\x04 not text",
        "broken.pdf": b"%PDF-1.4\nthis is not a pdf",
        "program.exe": b"MZ\x90\x00\x03",
        "quarry.html": (b"<html><head><title>Quarry</title></head><body><h1>Dunmore quarry to close</h1>"
                        b"<p>The Dunmore quarry will close in March after ninety years of work, its owners said.</p>"
                        b"</body></html>"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    report, table = _upload(ui_client, [handle_file(str(tmp_path / n)) for n in files])
    lines = report.splitlines()
    assert "\u2717 empty.txt: empty file" in lines
    assert "\u2717 binary.txt: binary file, not text" in lines
    assert any(line.startswith("\u2717 broken.pdf: corrupt PDF") for line in lines)
    assert any(line.startswith("\u2717 program.exe: unsupported file type (.exe)") for line in lines)
    assert any(line.startswith("\u2713 quarry.html: added") for line in lines)
    assert lines[-1].startswith("1 of 5 files added")
    on_disk = {p.name for p in ui_server.corpus.iterdir()}
    assert "quarry.html" in on_disk and not on_disk & {"empty.txt", "binary.txt", "broken.pdf", "program.exe"}
    assert "Dunmore quarry to close" in {row[0] for row in table["data"]}
    got = ui_client.predict("When will the Dunmore quarry close?", api_name="/ask")
    assert got["citations"][0]["article_id"] == "quarry" and "March" in got["answer"]


def test_upload_same_name_other_content_is_kept_apart(ui_server, ui_client, tmp_path):
    first, second = tmp_path / "a" / "ferry.txt", tmp_path / "b" / "ferry.txt"
    for path, day in ((first, "Monday"), (second, "Friday")):
        path.parent.mkdir()
        path.write_text(f"# Ferry timetable\n\nThe new island ferry timetable starts on {day} next week.\n")
    _upload(ui_client, [handle_file(str(first))])
    report, _ = _upload(ui_client, [handle_file(str(second))])
    assert "saved as ferry-1.txt" in report
    assert "Monday" in (ui_server.corpus / "ferry.txt").read_text()
    assert "Friday" in (ui_server.corpus / "ferry-1.txt").read_text()
    report, _ = _upload(ui_client, [handle_file(str(first))])
    assert "unchanged \u2014 already in the collection as ferry.txt" in report and "0 of 1 file added" in report


def test_auth_is_required_when_asked_for(ui_server, tmp_path):
    """`qa ui --auth user:password`: nothing without the login, everything with it (the same index, reopened)."""
    from gradio_client import Client

    from tools.ui_server import serve

    with serve(ui_server.corpus, ui_server.index_dir, auth="alice:s3cret", log_path=tmp_path / "auth.log") as server:
        with pytest.raises(Exception, match="(?i)credentials|login|401"):
            Client(server.url, verbose=False).predict(SF_QUESTION, api_name="/ask")
        client = Client(server.url, auth=("alice", "s3cret"), verbose=False)
        got = client.predict(SF_QUESTION, api_name="/ask")
        assert {c["article_id"] for c in got["citations"]} <= SF_GOLD


# --- uploads as background jobs ----------------------------------------------------------------------------------------

ACTIVE = ("queued", "running", "cancelling")
BRIDGE_ARTICLE = """# Orlen river footbridge reopens

The Orlen river footbridge reopened on Saturday after repairs that cost 2.4 million crowns.
The bridge had been closed since a barge struck one of its piers in March.
"""


def long_article(topic: str, sentences: int) -> str:
    """An article whose embedding takes many seconds on a CPU (distinct sentences, in paragraphs)."""
    lines = [f"# The {topic} ledger", ""]
    for n in range(sentences):
        lines.append(f"Entry {n} of the {topic} ledger records that crate {n * 37 % 1009} left dock {n % 89} "
                     f"for the {topic} depot on day {n % 365} with {n % 13 + 2} crew aboard.")
        if n % 8 == 7:
            lines.append("")
    return "\n".join(lines) + "\n"


def corpus_state(corpus: Path) -> list[tuple[str, bytes]]:
    """Every entry under the corpus folder, hidden ones included, with its bytes."""
    return sorted((p.relative_to(corpus).as_posix(), p.read_bytes() if p.is_file() else b"")
                  for p in corpus.rglob("*"))


def index_state(index_dir: Path) -> tuple[str, list[str]]:
    """The live build's name and every build folder."""
    return (index_dir / "CURRENT").read_text(), sorted(p.name for p in (index_dir / "builds").iterdir())


def _job(client, job_id: str) -> dict:
    return next(j for j in client.predict(api_name="/jobs") if j["id"] == job_id)


def _indexing(job: dict) -> bool:
    return job["state"] == "running" and all(f["state"] == "indexing" for f in job["files"])


def test_upload_returns_a_job_at_once_and_is_answered_after_it_completes(ui_server, ui_client, tmp_path):
    path = tmp_path / "orlen_footbridge.md"
    path.write_text(BRIDGE_ARTICLE, encoding="utf-8")
    job = ui_client.predict([handle_file(str(path))], api_name="/upload")
    assert job["state"] in ("queued", "running")  # returned before the work, not after it
    assert set(job) >= {"id", "state", "position", "files", "report"}
    assert [f["name"] for f in job["files"]] == ["orlen_footbridge.md"]

    done = wait_job(ui_client, job["id"])
    assert done["state"] == "done", done
    assert "\u2713 orlen_footbridge.md: added" in done["report"] and "1 of 1 file added" in done["report"]
    assert done["files"][0] == {"name": "orlen_footbridge.md", "state": "added", "note": "saved as orlen_footbridge.md",
                                "saved_as": "orlen_footbridge.md"}
    assert "orlen_footbridge.md" in _collection(ui_client)
    assert not (ui_server.corpus / ".uploads").exists()  # the staging folder goes once no job needs it
    got = ui_client.predict("How much did the Orlen footbridge repairs cost?", api_name="/ask")
    assert got["citations"][0]["article_id"] == "orlen_footbridge" and "2.4 million crowns" in got["answer"]


def test_a_cancelled_upload_leaves_the_corpus_and_the_index_as_they_were(ui_server, ui_client, tmp_path):
    corpus_before, index_before = corpus_state(ui_server.corpus), index_state(ui_server.index_dir)
    collection_before = _collection(ui_client)
    path = tmp_path / "ledger_cancel.txt"
    path.write_text(long_article("Halvard", 1500), encoding="utf-8")
    job = ui_client.predict([handle_file(str(path))], api_name="/upload")
    wait_job(ui_client, job["id"], until=_indexing)  # in the corpus folder, being embedded

    asked = ui_client.predict(job["id"], api_name="/cancel")
    assert asked["state"] in ("cancelling", "cancelled")
    over = wait_job(ui_client, job["id"])
    assert over["state"] == "cancelled", over
    assert "\u2717 ledger_cancel.txt: cancelled, not added" in over["report"]
    assert corpus_state(ui_server.corpus) == corpus_before  # staging folder included: nothing left anywhere
    assert index_state(ui_server.index_dir) == index_before  # the same live build, no partial build beside it
    assert _collection(ui_client) == collection_before
    with pytest.raises(AppError, match="no upload job"):
        ui_client.predict("no-such-job", api_name="/cancel")


def test_a_second_upload_waits_its_turn_and_questions_are_answered_meanwhile(ui_server, ui_client, tmp_path):
    corpus_before = corpus_state(ui_server.corpus)
    big, small = tmp_path / "ledger_first.txt", tmp_path / "ledger_second.md"
    big.write_text(long_article("Marrow", 1500), encoding="utf-8")
    small.write_text(BRIDGE_ARTICLE.replace("Orlen", "Pellis"), encoding="utf-8")
    first = ui_client.predict([handle_file(str(big))], api_name="/upload")
    wait_job(ui_client, first["id"], until=_indexing)

    second = ui_client.predict([handle_file(str(small))], api_name="/upload")
    assert second["state"] == "queued" and second["position"] == 1, second
    listed = ui_client.predict(api_name="/jobs")
    assert [j["id"] for j in listed[:2]] == [first["id"], second["id"]]  # the running job, then the queue
    assert listed[1]["position"] == 1 and listed[1]["files"][0]["state"] == "waiting"

    started = time.monotonic()
    got = ui_client.predict(SF_QUESTION, api_name="/ask")  # answered from the live index while the job runs
    assert not got["abstained"] and {c["article_id"] for c in got["citations"]} <= SF_GOLD
    assert _job(ui_client, first["id"])["state"] == "running", "the question waited for the upload job"
    assert time.monotonic() - started < 60

    assert ui_client.predict(second["id"], api_name="/cancel")["state"] == "cancelled"  # queued: at once
    ui_client.predict(first["id"], api_name="/cancel")
    assert wait_job(ui_client, first["id"])["state"] == "cancelled"
    assert corpus_state(ui_server.corpus) == corpus_before


def test_user_errors_are_one_line_in_the_server_log(ui_server, ui_client):
    tracebacks = ui_server.log().count("Traceback")
    with pytest.raises(AppError, match="empty"):
        ui_client.predict("", api_name="/ask")
    with pytest.raises(AppError, match="greater than maximum"):
        ui_client.predict(SF_QUESTION, [], 99, "hybrid", None, None, False, False, api_name="/chat")
    history, _ = ui_client.predict(SF_QUESTION, [], 5, "hybrid", "2024-13-45", None, False, False, api_name="/chat")
    assert "not a date" in _message_text(history[-1])
    log = ui_server.log()
    assert "question refused: the question is empty" in log
    assert "setting refused: Number of sources: Value 99 is greater than maximum value 20." in log
    assert "question refused: from date '2024-13-45' is not a date (YYYY-MM-DD)" in log
    assert log.count("Traceback") == tracebacks


# --- removing articles and re-indexing --------------------------------------------------------------------------------

KILN_ARTICLE = """# Brannock kiln museum opens

The Brannock kiln museum opened on Thursday in a brickworks that closed in 1974.
Its first exhibition shows roof tiles made in the town for two centuries.
"""


def test_remove_takes_a_file_out_of_the_collection_into_the_trash(ui_server, ui_client, tmp_path):
    path = tmp_path / "brannock_kiln.md"
    path.write_text(KILN_ARTICLE, encoding="utf-8")
    _upload(ui_client, [handle_file(str(path))])
    question = "When did the Brannock kiln museum open?"
    assert ui_client.predict(question, api_name="/ask")["citations"][0]["article_id"] == "brannock_kiln"

    job = ui_client.predict(["brannock_kiln.md", "no_such_article.txt"], api_name="/remove")
    assert job["kind"] == "removal" and job["state"] in ("queued", "running")  # returned at once
    done = wait_job(ui_client, job["id"])
    assert done["state"] == "done", done
    assert "\u2713 brannock_kiln.md: removed" in done["report"]
    assert "\u2717 no_such_article.txt: no such file in the corpus folder" in done["report"]
    assert "1 of 2 files removed" in done["report"]
    assert "brannock_kiln.md" not in _collection(ui_client)
    assert not (ui_server.corpus / "brannock_kiln.md").exists()
    assert (ui_server.corpus / ".trash" / "brannock_kiln.md").read_text(encoding="utf-8") == KILN_ARTICLE
    got = ui_client.predict(question, api_name="/ask")
    assert "brannock_kiln" not in {c["article_id"] for c in got["citations"]}
    with pytest.raises(AppError, match="no files to remove"):
        ui_client.predict([], api_name="/remove")


def test_reindex_takes_in_a_file_put_into_the_corpus_folder_by_hand(ui_server, ui_client):
    (ui_server.corpus / "brannock_kiln_by_hand.md").write_text(KILN_ARTICLE.replace("Thursday", "Saturday"),
                                                                encoding="utf-8")
    try:
        job = ui_client.predict(api_name="/reindex")
        assert job["kind"] == "reindex" and job["files"] == []
        done = wait_job(ui_client, job["id"])
        assert done["state"] == "done" and done["report"].startswith("Index updated: "), done
        assert "brannock_kiln_by_hand.md" in _collection(ui_client)
        assert "Saturday" in ui_client.predict("When did the Brannock kiln museum open?", api_name="/ask")["answer"]

        again = wait_job(ui_client, ui_client.predict(False, api_name="/reindex")["id"])
        assert "(it was up to date)" in again["report"]
    finally:
        (ui_server.corpus / "brannock_kiln_by_hand.md").unlink(missing_ok=True)
        wait_job(ui_client, ui_client.predict(api_name="/reindex")["id"])
    assert "brannock_kiln_by_hand.md" not in _collection(ui_client)
