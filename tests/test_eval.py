"""Tests for the evaluation runner: the dataset loaders on tiny files, the collection set end to end through
``qa eval`` (JSON shape, values in range, the HTML report), and tiny SQuAD- and BEIR-shaped sets through the cache."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval import datasets  # noqa: E402
from eval.datasets import load_beir, load_collection, load_squad  # noqa: E402
from eval.configs import METRIC_KEYS  # noqa: E402
from eval.format import format_summary  # noqa: E402
from eval.questions import sample  # noqa: E402

ANSWER_CONFIGS = ["bm25", "dense", "hybrid-rrf", "hybrid-convex", "baseline-cosine", "fast", "reader", "cross-encoder",
                  "full", "full-calibrated"]
RETRIEVAL_ONLY = ["bm25", "dense", "hybrid-rrf", "hybrid-convex"]

SQUAD = {"version": "1.1", "data": [
    {"title": "Lake_Vostok", "paragraphs": [
        {"context": "Lake Vostok is the largest subglacial lake in Antarctica. It lies under four kilometres of ice "
                    "near the Russian Vostok Station. Scientists first drilled into the lake in 2012.",
         "qas": [{"id": "q1", "question": "In what year did scientists first drill into <Lake Vostok>?",
                  "answers": [{"answer_start": 0, "text": "2012"}, {"answer_start": 0, "text": "2012"}]},
                 {"id": "q2", "question": "Which station is Lake Vostok near?",
                  "answers": [{"answer_start": 0, "text": "Russian Vostok Station"},
                              {"answer_start": 0, "text": "Vostok Station"}]}]},
        {"context": "The lake water is thought to be about fifteen million years old. Its temperature is about "
                    "minus three degrees Celsius.",
         "qas": [{"id": "q3", "question": "How old is the water of the lake thought to be?",
                  "answers": [{"answer_start": 0, "text": "fifteen million years"}]}]}]},
    {"title": "Basalt", "paragraphs": [
        {"context": "Basalt is a fine-grained volcanic rock formed from the rapid cooling of lava. Most of the ocean "
                    "floor is made of basalt.",
         "qas": [{"id": "q4", "question": "What is most of the ocean floor made of?",
                  "answers": [{"answer_start": 0, "text": "basalt"}]}]}]},
]}

BEIR_CORPUS = [
    {"_id": "d1", "title": "Vitamin D and bone density", "text": "Vitamin D supplements increase bone mineral "
     "density in older adults. The effect was largest in women.", "metadata": {}},
    {"_id": "d2", "title": "Coffee and sleep", "text": "Caffeine taken late in the day delays sleep onset.",
     "metadata": {}},
    {"_id": "d3", "title": "Exercise and memory", "text": "", "metadata": {}},
    {"_id": "d4", "title": "Gut bacteria", "text": "The gut microbiome changes with diet within days.",
     "metadata": {}},
]
BEIR_QUERIES = [{"_id": "1", "text": "Vitamin D improves bone density.", "metadata": {}},
                {"_id": "2", "text": "Caffeine delays sleep.", "metadata": {}},
                {"_id": "3", "text": "Diet changes gut bacteria quickly.", "metadata": {}}]
BEIR_QRELS = "query-id\tcorpus-id\tscore\n1\td1\t2\n1\td3\t1\n2\td2\t1\n2\td4\t0\n"


@pytest.fixture
def squad_file(tmp_path) -> Path:
    path = tmp_path / "dev-tiny.json.gz"
    path.write_bytes(gzip.compress(json.dumps(SQUAD).encode()))
    return path


@pytest.fixture
def beir_folder(tmp_path) -> Path:
    folder = tmp_path / "beir-tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in BEIR_CORPUS))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in BEIR_QUERIES))
    (folder / "qrels" / "test.tsv").write_text(BEIR_QRELS)
    return folder


# --- loaders (no model needed) --------------------------------------------------------------------------------------


def test_load_squad(squad_file):
    ds = load_squad(squad_file)
    assert [d.id for d in ds.documents] == ["a00p000", "a00p001", "a01p000"]
    assert ds.documents[0].title == "Lake Vostok"
    assert [q.id for q in ds.questions] == ["q1", "q2", "q3", "q4"]
    q1, q2 = ds.questions[:2]
    assert q1.answers == ["2012"]  # duplicates removed, order kept
    assert q2.answers == ["Russian Vostok Station", "Vostok Station"]
    assert q1.gold == ["a00p000"] and q1.qrels == {"a00p000": 1.0} and q1.answerable
    assert {q.group for q in ds.questions} == {"tune"}  # fewer than 24 articles: all in the tune half
    assert ds.has_answers and not ds.graded


def test_load_squad_splits(squad_file, monkeypatch):
    monkeypatch.setattr(datasets, "SQUAD_TUNE_ARTICLES", 1)
    tune, held = load_squad(squad_file, "tune"), load_squad(squad_file, "heldout")
    assert [q.id for q in tune.questions] == ["q1", "q2", "q3"]
    assert [q.id for q in held.questions] == ["q4"]
    assert len(tune.documents) == len(held.documents) == 3  # the corpus is always every paragraph
    with pytest.raises(ValueError):
        load_squad(squad_file, "dev")


def test_load_beir(beir_folder):
    ds = load_beir(beir_folder)
    assert [d.id for d in ds.documents] == ["d1", "d2", "d3", "d4"]
    assert ds.documents[2].text == "Exercise and memory"  # an empty abstract falls back to the title
    assert [q.id for q in ds.questions] == ["1", "2"]  # only the queries with judgements, in qrels order
    q1, q2 = ds.questions
    assert q1.qrels == {"d1": 2.0, "d3": 1.0} and q1.gold == ["d1", "d3"]
    assert q2.gold == ["d2"] and q2.qrels["d4"] == 0.0  # judged irrelevant: not gold
    assert not ds.has_answers and ds.graded
    gz = beir_folder / "corpus.jsonl.gz"
    gz.write_bytes(gzip.compress((beir_folder / "corpus.jsonl").read_bytes()))
    assert len(load_beir(beir_folder).documents) == 4  # the compressed corpus is read too


def test_load_collection():
    ds = load_collection()
    assert len(ds.questions) == 90 and ds.documents is None
    kinds = {q.kind for q in ds.questions}
    assert {"factoid", "list", "unanswerable"} <= kinds
    assert all(q.answerable == (q.kind != "unanswerable") for q in ds.questions)


def test_report_lists_failures_evenly():
    from eval.report import _spread

    assert _spread(list(range(5)), 10) == [0, 1, 2, 3, 4]
    assert _spread(list(range(1000)), 4) == [0, 250, 500, 750]


def test_sample_is_reproducible():
    items = list(range(100))
    a, b = sample(items, 10, seed=3), sample(items, 10, seed=3)
    assert a == b and len(a) == 10 and a == sorted(a)
    assert sample(items, 10, seed=4) != a
    assert sample(items, None, 0) == items and sample(items, 500, 0) == items


# --- end to end -----------------------------------------------------------------------------------------------------


def _check_configs(configs: dict, names: list[str]) -> None:
    assert list(configs) == names
    for name, metrics in configs.items():
        for key, value in metrics.items():
            assert isinstance(value, (int, float)), (name, key)
            if key.endswith("_ms") or key.endswith("_n") or key == "noise":  # times, counts
                assert value >= 0, (name, key)
            else:
                assert 0.0 <= value <= 1.0, (name, key, value)
        for key in METRIC_KEYS:
            if key not in metrics:
                continue
            assert metrics[key] == metrics[key]  # no NaN


def test_collection_end_to_end(tmp_path):
    """``qa eval --dataset collection --json --report`` on a fresh index of the bundled corpus."""
    report = tmp_path / "report.html"
    env = {**os.environ, "QA_EVAL_CACHE": str(tmp_path / "cache")}
    env.pop("QA_INDEX_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "eval", "--dataset", "collection", "--json", "--report", str(report),
         "--index-dir", str(tmp_path / "index")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["dataset"] == "collection" and out["n"] == 90
    _check_configs(out["configs"], ANSWER_CONFIGS)
    for name in RETRIEVAL_ONLY:
        m = out["configs"][name]
        assert {"recall@1", "recall@5", "recall@20", "chunk_recall@5", "mrr@10", "ndcg@10", "p50_ms",
                "p95_ms"} <= set(m)
        assert "recall@100" not in m  # five articles: not measured
        assert m["recall@1"] <= m["recall@5"] <= m["recall@20"]
    full = out["configs"]["full"]
    assert {"hit@1", "hit@3", "noise", "list_recall", "citation_precision", "abstain_precision", "abstain_recall",
            "wrong_abstain_rate", "abstain_auroc", "p50_ms", "p95_ms", "retrieve_p50_ms", "rerank_p50_ms",
            "select_p50_ms"} <= set(full)
    assert full["hit@1"] <= full["hit@3"]
    assert out["configs"]["fast"]["rerank_p50_ms"] < full["rerank_p50_ms"]  # --fast skips the cross-encoder
    base = out["configs"]["baseline-cosine"]
    assert base["abstain_recall"] == 0.0 and "em" not in base  # never abstains, returns no span
    assert out["counts"] == {"answerable": 76, "unanswerable": 14, "list": 16}
    assert out["kinds"]["temporal"]["n"] == 27 and "hit@1" in out["kinds"]["temporal"]["configs"]["fast"]

    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page
    assert "Recall@k" in page and "Latency distribution" in page
    questions = {json.loads(line)["id"]: json.loads(line)["question"]
                 for line in (ROOT / "eval/sets/collection.jsonl").read_text().splitlines() if line.strip()}
    failed = [qid for qid in questions if f"<tr><td>{qid}<br>" in page]
    if full["hit@1"] < 1.0 or full["abstain_recall"] < 1.0:
        assert failed, "the report lists no failed question"
    from html import escape
    for qid in failed:
        assert escape(questions[qid], quote=True) in page


def test_public_dataset_shapes_and_cache(tmp_path, squad_file, beir_folder, monkeypatch, capsys):
    """Tiny SQuAD- and BEIR-shaped sets: indexed into the cache once, reused, and evaluated with the right rows."""
    from eval.report import render
    from eval.runner import evaluate

    monkeypatch.setenv("QA_EVAL_CACHE", str(tmp_path / "cache"))
    run = evaluate("squad", data=squad_file, progress=False, keep_records=True)
    s = run.summary
    assert s["dataset"] == "squad" and s["n"] == 4 and not s["index"]["up_to_date"]
    _check_configs(s["configs"], ANSWER_CONFIGS)
    assert s["configs"]["bm25"]["recall@5"] == 1.0  # three paragraphs: every gold one is in the top 5
    assert "abstain_recall" not in s["configs"]["full"]  # every SQuAD question is answerable
    assert "wrong_abstain_rate" in s["configs"]["full"]
    # Asked with its gold paragraph withheld, a question whose answer is nowhere else is unanswerable: measured.
    assert s["configs"]["full"]["withheld_n"] >= 1 and "withheld_auroc" in s["configs"]["full"]
    assert len(list((tmp_path / "cache").glob("squad-*/corpus/squad.jsonl"))) == 1
    page = render(run)
    assert "&lt;Lake Vostok&gt;" in page or "q1" not in page  # the question text is escaped where it is listed
    assert "<Lake Vostok>" not in page

    again = evaluate("squad", data=squad_file, limit=2, seed=1, progress=False)
    assert again["index"]["up_to_date"] and again["n"] == 2
    assert format_summary(again).startswith("squad: 2 questions")

    # `qa eval` reads --split from the Namespace when the CLI defines it (else $QA_EVAL_SPLIT)
    from argparse import Namespace

    from eval.runner import run as run_cli

    monkeypatch.setattr(datasets, "SQUAD_TUNE_ARTICLES", 1)
    args = Namespace(dataset="squad", data=str(squad_file), limit=None, seed=0, json=True, report=None,
                     index_dir=None, split="heldout")
    capsys.readouterr()
    assert run_cli(args) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["n"] == 1 and held["split"] == "heldout" and "splits" not in held
    monkeypatch.setenv("QA_EVAL_SPLIT", "tune")
    del args.split
    assert run_cli(args) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3

    sci = evaluate("scifact", data=beir_folder, progress=False, keep_records=True)
    assert sci.summary["n"] == 2
    _check_configs(sci.summary["configs"], RETRIEVAL_ONLY)
    for metrics in sci.summary["configs"].values():
        assert "ndcg@10" in metrics and "hit@1" not in metrics and "chunk_recall@5" not in metrics
    assert "<svg" in render(sci)
