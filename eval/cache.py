"""The index a question set is asked of: the bundled collection's, or one built once per dataset and per index
settings into the cache folder (``EvalSettings.cache_dir``: ``.cache/eval/``, or ``QA_EVAL_CACHE``), keyed by a hash
of the engine's code so that any change to it builds the cached indexes again."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .datasets import ROOT, Dataset
from .settings import EvalSettings

log = logging.getLogger("qa.eval")

CACHE_VERSION = 2  # 2: keyed by the whole engine's code


@dataclass
class Prepared:
    settings: object
    build_seconds: float
    embedded_texts: int
    up_to_date: bool
    prefix: str  # article id prefix to strip to get a dataset document id ("" for the bundled collection)


def index_code_digest() -> str:
    """A hash of the engine's code (every module of the ``qa`` package): no hand-kept list of the modules that
    decide what an index holds can fall behind it. An answer-only change builds the cached indexes again too."""
    import qa

    folder = Path(qa.__file__).parent
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def index_key(ds: Dataset, settings) -> str:
    """Cache key: the dataset files' content, every setting the index depends on, and the indexing code."""
    r = settings.retrieval
    ident = {
        "cache_version": CACHE_VERSION,
        "code": index_code_digest(),
        "dataset": ds.identity(),
        "model": settings.model,
        "backend": settings.backend,
        "chunking": asdict(settings.chunking),
        "bm25": {"k1": r.bm25_k1, "b": r.bm25_b, "epsilon": r.bm25_epsilon},
    }
    if getattr(settings, "dense", None) is not None:  # the dense index's kind and build parameters
        ident["dense"] = asdict(settings.dense)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def _write_corpus(ds: Dataset, corpus_dir: Path) -> None:
    target = corpus_dir / f"{ds.name}.jsonl"
    if target.is_file():
        return
    corpus_dir.mkdir(parents=True, exist_ok=True)
    tmp = corpus_dir / f".{ds.name}.jsonl.tmp-{os.getpid()}"  # dot files are not part of the corpus
    with open(tmp, "w", encoding="utf-8") as f:
        for doc in ds.documents:
            f.write(json.dumps({"id": doc.id, "title": doc.title or None, "text": doc.text}, ensure_ascii=False))
            f.write("\n")
    os.replace(tmp, target)


def prepare_index(ds: Dataset, settings, encoder, *, index_dir: str | Path | None = None,
                  progress: bool = True, eval_settings: EvalSettings | None = None) -> Prepared:
    """Settings pointing at an up-to-date index of the dataset's documents (built once, then reused); a public
    dataset's go under ``eval_settings.cache_dir`` (default: the environment's)."""
    from qa.build import build_index

    if ds.documents is None:  # the bundled collection
        index_dir = Path(index_dir) if index_dir else settings.index_dir  # QA_INDEX_DIR, read by Settings.from_env
        settings = replace(settings, corpus_dir=ROOT / "corpus", index_dir=index_dir)
        prefix = ""
    else:
        # One corpus folder per dataset content; beside it one index per (settings, indexing code) key.
        cache_dir = (eval_settings or EvalSettings.from_env()).cache_dir
        folder = cache_dir / f"{ds.name}-{ds.identity()[:12]}"
        _write_corpus(ds, folder / "corpus")
        settings = replace(settings, corpus_dir=folder / "corpus",
                           index_dir=folder / f"index-{index_key(ds, settings)}")
        prefix = f"{ds.name}#"
    report = build_index(settings, encoder=encoder, progress=progress)
    where = settings.index_dir
    if report.up_to_date:
        log.info("eval: index %s is up to date (%d articles, %d chunks)", where, report.articles, report.chunks)
    else:
        log.info("eval: indexed %d articles into %s: %d chunks, %d texts embedded in %.1f s", report.articles, where,
                 report.chunks, report.embedded_texts, report.seconds)
    return Prepared(settings, report.seconds, report.embedded_texts, report.up_to_date, prefix)
