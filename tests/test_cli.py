"""End to end through the `qa` command on the bundled collection: the San Francisco answer, offsets, JSON schema."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def qa(*args, stdin=None, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, input=stdin, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def index_dir(bundled_settings):
    return str(bundled_settings.index_dir)


def test_san_francisco(index_dir):
    run = qa("ask", "--json", "What was agreed in San Francisco?", "--index-dir", index_dir)
    assert run.returncode == 0, run.stderr
    [line] = run.stdout.splitlines()
    answer = json.loads(line)
    assert set(answer) == {"question", "answer", "abstained", "confidence", "sentences", "citations", "timings_ms",
                           "notes", "understood"}
    assert answer["abstained"] is False and 0 <= answer["confidence"] <= 1
    assert set(answer["timings_ms"]) == {"encode", "retrieve", "rerank", "select", "total"}
    text = answer["answer"].lower()
    assert "communication channels" in text
    assert "military contacts" in text
    assert "counter narcotics" in text or "anti-drug" in text or "working group" in text
    cited = {c["article_id"] for c in answer["citations"]}
    assert {"000_98bc07159c41a427", "001_cd19cef5703942ac"} <= cited
    for c in answer["citations"]:
        assert set(c) >= {"n", "article_id", "title", "date", "date_source", "publisher", "file", "passage"}
        assert c["file"] == f"corpus/{c['article_id']}.txt"  # relative to the current directory
    by_n = {c["n"]: c for c in answer["citations"]}
    for s in answer["sentences"]:
        assert set(s) == {"text", "citation", "article_id", "start", "end", "score", "span", "span_text", "date",
                          "date_source"}
        on_disk = open(REPO / by_n[s["citation"]]["file"]).read()
        assert " ".join(on_disk[s["start"]:s["end"]].split()) == s["text"]
        assert f"[{s['citation']}]" in answer["answer"]


def test_plain_output_and_questions_from_stdin(index_dir):
    run = qa("ask", "-", "--index-dir", index_dir, stdin="Who did Blinken meet on Sunday?\n\nWhat is the boiling "
                                                         "point of mercury?\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("Q: ") == 2
    assert "Qin Gang [1]" in out or "Qin Gang" in out.split("Sources:")[0]
    assert "[1] " in out and "corpus/004_853fa212cfd9642b.txt" in out
    assert "The collection does not say." in out


def test_json_lines_for_several_questions(index_dir):
    run = qa("ask", "--json", "Who is Qin Gang?", "When did Blinken visit Beijing?", "--index-dir", index_dir)
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and [json.loads(x)["question"] for x in lines] == ["Who is Qin Gang?",
                                                                               "When did Blinken visit Beijing?"]


def test_empty_question_is_a_usage_error(index_dir):
    run = qa("ask", "  ", "--index-dir", index_dir)
    assert run.returncode == 2 and "empty question" in run.stderr and "Traceback" not in run.stderr


def test_ask_builds_the_index_when_there_is_none(tmp_path, corpus_copy):
    run = qa("ask", "--json", "Where did Xi and Trump meet?", env={"QA_CORPUS": str(corpus_copy),
                                                                 "QA_INDEX_DIR": str(tmp_path / "idx")})
    assert run.returncode == 0, run.stderr
    assert "building it" in run.stderr
    assert "Busan" in json.loads(run.stdout)["answer"]
    again = qa("index", env={"QA_CORPUS": str(corpus_copy), "QA_INDEX_DIR": str(tmp_path / "idx")})
    assert "up to date" in again.stdout


def test_index_reports_skipped_files(tmp_path, corpus_copy):
    (corpus_copy / "empty.txt").write_text("")
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    run = qa("index", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "idx"))
    assert run.returncode == 0, run.stderr
    assert "Indexed 5 articles" in run.stdout
    assert f"skipped {corpus_copy / 'empty.txt'}: empty file" in run.stdout
    assert "broken.pdf: corrupt PDF" in run.stdout
    assert (run.stdout + run.stderr).count("empty.txt: empty file") == 1  # said once, not also logged
    assert "Traceback" not in run.stderr
    asked = qa("ask", "Where did Xi and Trump meet?", "--index-dir", str(tmp_path / "idx2"),
               env={"QA_CORPUS": str(corpus_copy)})
    assert asked.returncode == 0 and asked.stderr.count("empty.txt: empty file") == 1  # a first ask builds, and says


def test_python_m_qa_and_the_qa_script_agree():
    run = qa("--help")
    assert run.returncode == 0 and "index" in run.stdout and "ask" in run.stdout


@pytest.mark.parametrize("env, message", [
    ({"QA_MODEL": "/no/such/model"}, "cannot load embedding model '/no/such/model'"),
    ({"QA_BACKEND": "tensorflow"}, "unknown backend 'tensorflow' (QA_BACKEND)"),
])
def test_model_problems_are_one_line_errors(tmp_path, corpus_copy, env, message):
    run = qa("index", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "idx"), env=env)
    assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_dense_index_parameters_come_from_the_environment(tmp_path, corpus_copy):
    hnsw = {"QA_CORPUS": str(corpus_copy), "QA_DENSE_EXACT_BELOW": "1", "QA_HNSW_M": "8",
            "QA_HNSW_EF_CONSTRUCTION": "40", "QA_HNSW_EF_SEARCH": "16"}
    index_dir = tmp_path / "idx"
    run = qa("ask", "--json", "Where did Xi and Trump meet?", "--index-dir", str(index_dir), env=hnsw)
    assert run.returncode == 0, run.stderr
    assert "Busan" in json.loads(run.stdout)["answer"]
    build = (index_dir / "builds" / (index_dir / "CURRENT").read_text()).resolve()
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["segments"][0]["dense_index"] == {"type": "hnsw", "m": 8, "ef_construction": 40}
    bad = qa("ask", "Where?", "--index-dir", str(index_dir), env={"QA_HNSW_EF_SEARCH": "many"})
    assert bad.returncode == 1 and "QA_HNSW_EF_SEARCH: expected a positive whole number, got 'many'" in bad.stderr
    assert "Traceback" not in bad.stderr
