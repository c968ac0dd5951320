"""BM25 over segments: each segment stores raw postings (a term x chunk matrix of term counts, the chunks' lengths and
its vocabulary); the collection-wide statistics (chunk count, average length, document frequencies, all minus deleted
chunks) are combined when the index is opened, so a query scores every segment's chunks exactly as one build of the
whole collection would.

The scores are rank-bm25's ``BM25Okapi`` (idf ``log(N - df + 0.5) - log(df + 0.5)`` with negative values floored at
``epsilon * mean idf``; k1, b and document lengths as there). A query reads only the posting rows of its terms, and
scores them with numpy: no Python loop over chunks. Stored as plain arrays, never pickled.
"""
from __future__ import annotations

import json
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

POSTING_FILES = ("tf_indptr", "tf_indices", "tf_data", "lengths")


@dataclass
class Postings:
    """One segment's raw postings: ``tf`` (terms x chunks, CSR: a term's row holds its count in every chunk that
    has it), the chunks' lengths in tokens, and the terms in row order."""

    terms: list[str]
    tf: sp.csr_matrix
    lengths: np.ndarray

    def __post_init__(self):
        self.vocab = {t: i for i, t in enumerate(self.terms)}

    @property
    def n_chunks(self) -> int:
        return self.tf.shape[1]

    def save(self, folder: Path) -> None:
        for name, values in (("tf_indptr", self.tf.indptr), ("tf_indices", self.tf.indices),
                             ("tf_data", self.tf.data), ("lengths", self.lengths)):
            np.save(folder / f"{name}.npy", values)
        (folder / "vocab.json").write_text(json.dumps(self.terms, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> "Postings":
        # Memory-mapped: a query touches only the rows of its terms.
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in POSTING_FILES}
        terms = json.loads((folder / "vocab.json").read_text())
        tf = sp.csr_matrix((arrays["tf_data"], arrays["tf_indices"], arrays["tf_indptr"]),
                           shape=(len(terms), len(arrays["lengths"])), copy=False)
        return cls(terms, tf, arrays["lengths"])

    def score(self, query: dict[str, tuple[int, float]], norm: np.ndarray, alive: np.ndarray | None, k1: float,
              out: np.ndarray) -> None:
        """Adds the BM25 score of each of this segment's chunks to ``out``, for a query given as term -> (count in
        the query, collection-wide idf); ``norm`` is each chunk's ``k1 * (1 - b + b * length / avgdl)``."""
        for term, (count, idf) in query.items():
            row = self.vocab.get(term)
            if row is None:
                continue
            lo, hi = self.tf.indptr[row], self.tf.indptr[row + 1]
            chunks, tf = np.asarray(self.tf.indices[lo:hi]), np.asarray(self.tf.data[lo:hi], dtype=np.float64)
            weight = idf * tf * (k1 + 1) / (tf + norm[chunks])
            if alive is not None:
                weight *= alive[chunks]
            out[chunks] += count * weight  # a chunk appears once per row: no collisions

    def chunk_terms(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk, term row, count) of every posting of the given chunks, in term order: one pass over the data."""
        wanted = np.zeros(self.n_chunks, dtype=bool)
        wanted[chunks] = True
        at = np.flatnonzero(wanted[self.tf.indices])
        rows = np.searchsorted(self.tf.indptr, at, side="right") - 1
        return np.asarray(self.tf.indices[at]), rows, np.asarray(self.tf.data[at])


class PostingsBuilder:
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

    def extend(self, postings: Postings, chunks: np.ndarray) -> None:
        """Appends the given chunks of another segment's postings, in that order, in bulk (a merge)."""
        if not len(chunks):
            return
        sub = postings.tf[:, chunks].T.tocsr()  # the chunks x their term rows
        used = np.unique(sub.indices)
        ids = np.full(postings.tf.shape[0], -1, dtype=np.int64)
        setdefault = self.vocab.setdefault
        ids[used] = [setdefault(postings.terms[r], len(self.vocab)) for r in used]
        end = self.ends[-1] if self.ends else 0
        self.terms.frombytes(ids[sub.indices].astype(np.int32).tobytes())
        self.counts.frombytes(np.asarray(sub.data, dtype=np.int32).tobytes())
        self.ends.frombytes((end + sub.indptr[1:]).astype(np.int64).tobytes())
        self.lengths.frombytes(np.asarray(postings.lengths[chunks], dtype=np.int64).tobytes())

    def postings(self) -> Postings:
        n_docs, n_terms = len(self.ends), len(self.vocab)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        indptr[1:] = np.frombuffer(self.ends, dtype=np.int64)
        tf = sp.csr_matrix((np.frombuffer(self.counts, dtype=np.int32), np.frombuffer(self.terms, dtype=np.int32),
                            indptr), shape=(n_docs, n_terms))
        tf = tf.T.tocsr()  # terms x chunks: a query term's counts are one contiguous row
        tf.sort_indices()
        terms = sorted(self.vocab, key=self.vocab.get)
        return Postings(terms, tf, np.frombuffer(self.lengths, dtype=np.int64).copy())


class BM25Index:
    """The collection's BM25 over the postings of its segments. Chunk rows are global: segment ``i``'s rows start at
    ``offsets[i]``; a chunk whose ``alive`` entry is False (its article was deleted) counts nowhere."""

    def __init__(self, segments: list[Postings], alive: list[np.ndarray | None], k1: float = 1.5, b: float = 0.75,
                 epsilon: float = 0.25):
        self.segments, self.alive, self.k1 = segments, alive, k1
        self.scorer = None  # where the postings are scored, when not here: qa.distributed.Shards
        self.offsets = np.concatenate([[0], np.cumsum([p.n_chunks for p in segments])]).astype(np.int64)
        n_docs = sum(p.n_chunks if a is None else int(a.sum()) for p, a in zip(segments, alive))
        total_length = sum(int(p.lengths.sum() if a is None else p.lengths[a].sum()) for p, a in zip(segments, alive))
        self.n_docs = n_docs  # live chunks
        avgdl = total_length / max(n_docs, 1)
        self.norms = [k1 * (1 - b + b * np.asarray(p.lengths) / avgdl) if n_docs else np.asarray(p.lengths, float)
                      for p in segments]
        # One vocabulary for the collection; each segment's term rows mapped into it.
        self.vocab: dict[str, int] = {}
        self.term_ids = []
        for p in segments:
            setdefault = self.vocab.setdefault
            self.term_ids.append(np.fromiter((setdefault(t, len(self.vocab)) for t in p.terms), dtype=np.int64,
                                             count=len(p.terms)))
        df = np.zeros(len(self.vocab))
        for p, a, ids in zip(segments, alive, self.term_ids):
            np.add.at(df, ids, np.diff(p.tf.indptr))
            if a is not None and not a.all():
                _, rows, _ = p.chunk_terms(np.flatnonzero(~a))
                np.subtract.at(df, ids[rows], 1)
        idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
        present = df > 0  # a term only deleted chunks held is not in the collection
        if present.any():
            idf[present & (idf < 0)] = epsilon * idf[present].mean()
        self.idf = idf

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    @classmethod
    def build(cls, docs: list[list[str]], k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> "BM25Index":
        """One segment of the given token lists (for tests and benchmarks)."""
        builder = PostingsBuilder()
        for doc in docs:
            builder.add(Counter(doc))
        return cls([builder.postings()], [None], k1, b, epsilon)

    def matches(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The chunks with a positive BM25 score (ascending rows) and their scores; a repeated query term counts each
        time, as in rank-bm25. Only the posting rows of the query's terms are read."""
        query = self.query(query_tokens)
        if self.scorer is not None:
            return self.scorer.bm25_matches(query)
        total = np.zeros(self.size)
        for p, alive, norm, offset in zip(self.segments, self.alive, self.norms, self.offsets):
            p.score(query, norm, alive, self.k1, total[offset:offset + p.n_chunks])
        rows = np.flatnonzero(total > 0)
        return rows, total[rows]

    def query(self, query_tokens: list[str]) -> dict[str, tuple[int, float]]:
        """The query's terms that the collection holds, with their counts and collection-wide idf."""
        return {t: (n, float(self.idf[self.vocab[t]])) for t, n in Counter(query_tokens).items() if t in self.vocab}

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk (rank-bm25's ``get_scores``)."""
        out = np.zeros(self.size)
        rows, scores = self.matches(query_tokens)
        out[rows] = scores
        return out
