"""BM25 as a sparse term x chunk weight matrix.

The scores are rank-bm25's ``BM25Okapi`` (idf ``log(N - df + 0.5) - log(df + 0.5)`` with negative values floored at
``epsilon * mean idf``; k1, b and document lengths as there), precomputed per (term, chunk), so a query is the sum of
a few sparse rows instead of a Python loop over every chunk. Stored as plain arrays, never pickled.
"""
from __future__ import annotations

import json
from array import array
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class BM25Index:
    def __init__(self, vocab: dict[str, int], weights: sp.csr_matrix, idf: np.ndarray):
        self.vocab = vocab
        self.weights = weights  # terms x chunks, CSR: a term's row holds its weight in every chunk containing it
        self.idf = idf

    @property
    def size(self) -> int:
        return self.weights.shape[1]

    @classmethod
    def build(cls, docs: list[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> "BM25Index":
        builder = BM25Builder()
        for doc in docs:
            builder.add(Counter(doc))
        return builder.build(k1, b, epsilon)

    def matches(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The chunks with a positive BM25 score (ascending rows) and their scores; a repeated query term counts each
        time, as in rank-bm25. Only the posting rows of the query's terms are read."""
        counts = Counter(self.vocab[t] for t in query_tokens if t in self.vocab)
        total = np.zeros(self.size)
        w = self.weights
        for term, count in counts.items():
            lo, hi = w.indptr[term], w.indptr[term + 1]
            total[w.indices[lo:hi]] += count * w.data[lo:hi]  # a chunk appears once per row: no collisions
        rows = np.flatnonzero(total > 0)
        return rows, total[rows]

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (rank-bm25's ``get_scores``)."""
        out = np.zeros(self.size)
        rows, scores = self.matches(query_tokens)
        out[rows] = scores
        return out

    def save(self, folder: Path) -> None:
        for name in ("indptr", "indices", "data"):
            np.save(folder / f"bm25_{name}.npy", getattr(self.weights, name))
        np.save(folder / "bm25_idf.npy", self.idf)
        terms = sorted(self.vocab, key=self.vocab.get)
        (folder / "bm25_vocab.json").write_text(json.dumps(terms, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, n_chunks: int) -> "BM25Index":
        # Memory-mapped: a query touches only the rows of its terms.
        arrays = {name: np.load(folder / f"bm25_{name}.npy", mmap_mode="r", allow_pickle=False)
                  for name in ("indptr", "indices", "data", "idf")}
        terms = json.loads((folder / "bm25_vocab.json").read_text())
        weights = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                shape=(len(terms), n_chunks), copy=False)
        idf = arrays["idf"]
        return cls({t: i for i, t in enumerate(terms)}, weights, idf)


class BM25Builder:
    """Collects chunks' term counts as flat integer arrays (not token lists, which take gigabytes at a million
    chunks)."""

    def __init__(self):
        self.vocab: dict[str, int] = {}
        self.terms = array("i")  # term ids, chunk after chunk
        self.counts = array("i")  # their counts in the chunk
        self.ends = array("q")  # where each chunk's entries end in the two arrays above
        self.lengths = array("q")  # chunk lengths in tokens

    def add(self, term_counts: Counter) -> None:
        setdefault = self.vocab.setdefault
        self.terms.extend(setdefault(t, len(self.vocab)) for t in term_counts)
        self.counts.extend(term_counts.values())
        self.ends.append(len(self.terms))
        self.lengths.append(sum(term_counts.values()))

    def build(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> BM25Index:
        n_docs, n_terms = len(self.ends), len(self.vocab)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        indptr[1:] = np.frombuffer(self.ends, dtype=np.int64)
        tf = sp.csr_matrix((np.frombuffer(self.counts, dtype=np.int32).astype(np.float64),
                            np.frombuffer(self.terms, dtype=np.int32), indptr), shape=(n_docs, n_terms))
        tf = tf.T.tocsr()  # terms x chunks: a query term's weights are one contiguous row
        lengths = np.frombuffer(self.lengths, dtype=np.int64)
        df = np.diff(tf.indptr).astype(np.float64)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        if len(idf):
            idf[idf < 0] = epsilon * idf.mean()
        avgdl = lengths.sum() / max(n_docs, 1)
        norm = k1 * (1 - b + b * lengths / avgdl) if n_docs else lengths
        rows = np.repeat(np.arange(n_terms), np.diff(tf.indptr))
        tf.data = idf[rows] * tf.data * (k1 + 1) / (tf.data + norm[tf.indices])
        return BM25Index(self.vocab, tf, idf)
