"""Our sparse-matrix BM25 gives rank-bm25's BM25Okapi scores, on a toy corpus and on the bundled collection."""
import numpy as np
from rank_bm25 import BM25Okapi

from qa.bm25 import BM25Index, Postings
from qa.text import tokenize

DOCS = [
    "Biden and Xi agreed to resume military contacts",
    "The summit in San Francisco ended with an agreement on drugs",
    "Blinken met Qin Gang in Beijing for seven hours",
    "Xi and Trump spoke on the phone about Busan",
    "Military leaders from both sides met in Beijing",
]


def test_ranking_on_a_small_corpus(tmp_path):
    tokens = [tokenize(d) for d in DOCS]
    index = BM25Index.build(tokens)
    scores = index.scores(tokenize("military contacts"))
    assert list(np.argsort(-scores)[:2]) == [0, 4]
    assert scores[1] == scores[2] == scores[3] == 0
    index.segments[0].save(tmp_path)
    loaded = BM25Index([Postings.load(tmp_path)], [None])
    assert np.array_equal(loaded.scores(tokenize("Beijing hours")), index.scores(tokenize("Beijing hours")))


def test_scores_equal_rank_bm25(assistant):
    store = assistant.index.store
    docs = [tokenize(store.chunk(i).text) for i in range(len(store.chunk_article))]
    ours, reference = BM25Index.build(docs), BM25Okapi(docs)
    for question in ["What was agreed in San Francisco?", "Blinken Qin Gang Sunday Sunday", "Taiwan", "zebra"]:
        q = tokenize(question)
        a, b = ours.scores(q), reference.get_scores(q)
        assert np.max(np.abs(a - b)) <= 1e-6
        assert list(np.argsort(-a, kind="stable")[:10]) == list(np.argsort(-b, kind="stable")[:10])
        rows, matched = ours.matches(q)  # what a query reads: exactly the chunks rank-bm25 scores above 0
        assert list(rows) == list(np.nonzero(b > 0)[0]) and np.allclose(matched, b[rows], atol=1e-6)


def test_scores_equal_rank_bm25_on_scifact():
    from eval.datasets import load_beir

    scifact = load_beir()  # ../shared/datasets/beir-scifact, read in place
    docs = [tokenize(f"{d.title} {d.text}") for d in scifact.documents]
    queries = [q.question for q in scifact.questions[:50]]
    ours, reference = BM25Index.build(docs), BM25Okapi(docs)
    for query in queries:
        q = tokenize(query)
        a, b = ours.scores(q), reference.get_scores(q)
        assert np.max(np.abs(a - b)) <= 1e-6
        assert list(np.argsort(-a, kind="stable")[:10]) == list(np.argsort(-b, kind="stable")[:10])
        rows, matched = ours.matches(q)  # what a query reads: exactly the chunks rank-bm25 scores above 0
        assert list(rows) == list(np.nonzero(b > 0)[0]) and np.allclose(matched, b[rows], atol=1e-6)
