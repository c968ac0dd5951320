"""Retrieval on the bundled collection: each retriever, both fusions, and the date filter."""
import numpy as np
import pytest

from qa.retrieve import DateRange, Retriever, _minmax


def articles(hits):
    return [h.chunk.article_id[:3] for h in hits]


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_blinken_article(assistant, mode):
    hits = assistant.pipeline.retriever.search("How long did Blinken talk with Qin Gang?", 3, mode=mode)
    assert articles(hits)[0] == "004"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_dense_finds_a_paraphrase_that_shares_no_words(assistant):
    hits = assistant.pipeline.retriever.search("narcotics trafficking collaboration", 3, mode="dense")
    assert "001" in articles(hits)


def test_hits_keep_each_component(assistant):
    hits = assistant.pipeline.retriever.search("Busan meeting Trump", 5, mode="hybrid")
    top = hits[0]
    assert top.chunk.article_id.startswith("002")
    assert top.bm25_rank == 1 and top.dense_rank is not None
    assert top.bm25_score > 0 and -1 <= top.dense_score <= 1


def test_convex_fusion_is_the_weighted_sum_of_normalised_scores(assistant):
    retriever = assistant.pipeline.retriever
    hits = retriever.search("military contacts", 25, fusion="convex")
    bm25 = np.array([h.bm25_score for h in hits])
    dense = np.array([h.dense_score for h in hits])
    alpha = retriever.settings.alpha
    # Normalisation is over the candidate set, which here is every chunk.
    expected = alpha * _minmax(dense) + (1 - alpha) * _minmax(bm25)
    assert np.allclose([h.score for h in hits], expected)


def test_rrf_fusion(assistant):
    hits = assistant.pipeline.retriever.search("military contacts", 5, fusion="rrf")
    k = assistant.settings.retrieval.rrf_k
    for h in hits:
        expected = sum(1 / (k + r) for r in (h.bm25_rank, h.dense_rank) if r is not None)
        assert h.score == pytest.approx(expected)


def test_date_range_filters_articles(assistant):
    hits = assistant.pipeline.retriever.search("Xi", 25, dates=DateRange("2025-01-01", None))
    assert hits and set(articles(hits)) == {"002", "003"}  # 003: "not before 2024-01-08" (inferred) may be in it
    hits = assistant.pipeline.retriever.search("Xi", 25, mode="dense", dates=DateRange(None, "2023-12-31"))
    # 000 (2024, inferred) is kept for its sentences that state 1979 and 2022; 002 and 003 are out.
    assert set(articles(hits)) <= {"000", "001", "004"} and {"001", "004"} <= set(articles(hits))
    assert DateRange().admits(None) and not DateRange("2020-01-01").admits(None)


def test_admitted_articles_are_those_a_range_admits_by_date_or_by_a_dated_sentence(assistant):
    retriever, store = assistant.pipeline.retriever, assistant.index.store
    for dates in (DateRange("2025-01-01", None), DateRange(None, "2023-12-31"), DateRange("2024-01-01", "2024-12-31"),
                  DateRange("2023-06-18", "2023-06-18"), DateRange("1990-01-01", "1990-12-31")):
        by_date = np.array([dates.admits(d) for d in store.article_dates])
        admitted = retriever.admitted(dates)
        assert (admitted >= by_date).all(), dates
        rescued = set(store.dated_sentence_article.tolist())  # only a sentence's date admits any more
        assert all(a in rescued for a in np.flatnonzero(admitted & ~by_date)), dates
    # a report datelined a day (004: 2023-06-19) may be of the day before
    assert retriever.admitted(DateRange("2023-06-18", "2023-06-18"))[store.article_index("004_853fa212cfd9642b")]


def test_unknown_mode_is_refused(assistant):
    with pytest.raises(ValueError):
        Retriever(assistant.index, assistant.encoder, assistant.settings.retrieval).search("x", 3, mode="magic")


def test_date_range_matching_nothing_gives_no_hits_and_an_abstention(assistant):
    nothing = DateRange("1990-01-01", "1990-12-31")
    for mode in ("hybrid", "bm25", "dense"):
        assert assistant.pipeline.retriever.search("Xi", 5, mode=mode, dates=nothing) == []
    answer = assistant.ask("What did Xi say?", dates=nothing)
    assert answer.abstained and answer.sentences == []
