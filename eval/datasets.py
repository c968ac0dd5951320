"""Question sets for ``qa eval``, loaded into one common shape.

- ``collection``: the hand-written questions over the bundled ``corpus/`` (eval/sets/collection.jsonl).
- ``squad``: SQuAD v1.1 dev in the open setting: every paragraph is a document (titled by its Wikipedia article)
  and every question is asked against all of them. The first 24 articles (file order) are the ``tune`` half, the
  other 24 the ``heldout`` half.
- ``scifact``: BEIR SciFact, retrieval only: the queries of ``qrels/test.tsv`` with their graded judgements;
  a document is its title and abstract.
- ``feedback``: the chat page's thumbs-up answers (``qa/feedback.py``), asked again of the bundled ``corpus/``.

Datasets are read in place (never copied into the repository); the public ones are indexed from a ``.jsonl`` file
written into a cache folder (see ``eval.cache.prepare_index``).
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from .settings import ROOT, EvalSettings

log = logging.getLogger(__name__)

SETS_DIR = ROOT / "eval" / "sets"
COLLECTION_SET = SETS_DIR / "collection.jsonl"
# The public sets (squad, scifact) are read in place from EvalSettings.datasets_dir (QA_DATASETS).
SQUAD_TUNE_ARTICLES = 24  # questions of the first 24 articles tune the defaults; the other 24 are held out
SPLITS = ("all", "tune", "heldout")


@dataclass
class Document:
    id: str
    title: str
    text: str


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]  # acceptable answer strings (for "list" questions: the separate facts)
    gold: list[str]  # ids of the documents that answer it; empty when it is unanswerable
    kind: str  # collection kinds, "factoid" (SQuAD) or "claim" (SciFact)
    qrels: dict[str, float] = field(default_factory=dict)  # graded relevance of judged documents
    group: str | None = None  # SQuAD: "tune" or "heldout"
    history: list[str] = field(default_factory=list)  # the questions asked before it in a conversation

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass
class Dataset:
    name: str
    questions: list[Question]
    documents: list[Document] | None  # None: the dataset is asked of the bundled corpus/ folder
    corpus_files: list[Path]  # the files whose content identifies the document collection
    has_answers: bool = True  # False: retrieval only
    graded: bool = False  # recall@k the BEIR way (share of relevant documents) instead of any-gold hit
    split: str = "all"

    def identity(self) -> str:
        """A digest of the name and the bytes of the files the documents come from."""
        h = hashlib.sha256(self.name.encode())
        for path in self.corpus_files:
            h.update(b"\0" + path.name.encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        return h.hexdigest()


def _open_text(path: Path):
    """A text stream of a plain or gzip-compressed file."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8"))


def _first_existing(*paths: Path, eval_settings: EvalSettings | None = None) -> Path:
    for path in paths:
        if path.is_file():
            return path
    shared = (eval_settings or EvalSettings.from_env()).datasets_dir
    raise FileNotFoundError(f"none of {', '.join(str(p) for p in paths)} exists (the public datasets are read from "
                            f"{shared}; set QA_DATASETS to the folder holding squad-v1.1/ and beir-scifact/)")


def _default_data(dataset: str, eval_settings: EvalSettings | None) -> Path:
    """A public dataset's file or folder under the datasets folder (the environment's when no settings are given)."""
    return (eval_settings or EvalSettings.from_env()).data_path(dataset)


def load_collection(path: Path | None = None) -> Dataset:
    path = Path(path or COLLECTION_SET)
    questions = []
    with _open_text(path) as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            gold = list(obj.get("articles") or [])
            questions.append(Question(obj["id"], obj["question"], list(obj.get("answers") or []), gold,
                                      obj.get("kind", "factoid"), {g: 1.0 for g in gold},
                                      history=list(obj.get("history") or [])))
    return Dataset("collection", questions, None, [path])


def squad_doc_id(article: int, paragraph: int) -> str:
    return f"a{article:02d}p{paragraph:03d}"


def load_squad(path: Path | None = None, split: str = "all", *, eval_settings: EvalSettings | None = None) -> Dataset:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    path = Path(path or _default_data("squad", eval_settings))
    with _open_text(path) as f:
        data = json.load(f)["data"]
    documents, questions = [], []
    for a, article in enumerate(data):
        title = article["title"].replace("_", " ")
        group = "tune" if a < SQUAD_TUNE_ARTICLES else "heldout"
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = squad_doc_id(a, p)
            documents.append(Document(doc_id, title, paragraph["context"]))
            if split != "all" and group != split:
                continue
            for qa in paragraph["qas"]:
                answers = list(dict.fromkeys(ans["text"] for ans in qa["answers"]))
                questions.append(Question(qa["id"], " ".join(qa["question"].split()), answers, [doc_id], "factoid",
                                          {doc_id: 1.0}, group))
    return Dataset("squad", questions, documents, [path], split=split)


def load_beir(folder: Path | None = None, qrels_split: str = "test", name: str = "scifact", *,
              eval_settings: EvalSettings | None = None) -> Dataset:
    folder = Path(folder or _default_data("scifact", eval_settings))
    corpus_path = _first_existing(folder / "corpus.jsonl.gz", folder / "corpus.jsonl", eval_settings=eval_settings)
    queries_path = _first_existing(folder / "queries.jsonl.gz", folder / "queries.jsonl", eval_settings=eval_settings)
    qrels_path = folder / "qrels" / f"{qrels_split}.tsv"
    documents = []
    with _open_text(corpus_path) as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                title, text = (obj.get("title") or "").strip(), (obj.get("text") or "").strip()
                documents.append(Document(str(obj["_id"]), title, text or title))
    queries = {}
    with _open_text(queries_path) as f:
        for line in f:
            if line.strip():
                obj = json.loads(line)
                queries[str(obj["_id"])] = obj["text"]
    qrels: dict[str, dict[str, float]] = {}
    with _open_text(qrels_path) as f:
        rows = csv.reader(f, delimiter="\t")
        for row in rows:
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = float(row[2])
    questions = []
    for qid, judged in qrels.items():  # the order of the qrels file
        if qid not in queries:
            raise ValueError(f"{qrels_path}: query {qid} is not in {queries_path}")
        gold = [d for d, grade in judged.items() if grade > 0]
        questions.append(Question(qid, " ".join(queries[qid].split()), [], gold, "claim", judged))
    return Dataset(name, questions, documents, [corpus_path], has_answers=False, graded=True)


def load_feedback(path: Path | None = None) -> Dataset:
    """The thumbs-up records of the feedback file as questions over the bundled collection: gold articles are the
    answer's cited ones, the accepted answer is its first quoted sentence. A thumbs-up on an answer that abstained
    becomes an unanswerable question. Thumbs-down records, unreadable lines and answers citing articles that are not
    in ``corpus/`` (uploads) are left out and counted in the log (a Dataset has no place for notes). The latest
    rating of a question wins: rated up, then down, it is left out."""
    from qa.config import Settings
    from qa.feedback import feedback_path, read
    from qa.ingest import list_corpus

    path = Path(path or feedback_path(Settings.from_env()))
    records, problems = read(path)  # FeedbackError (a ValueError, one line) when the file cannot be read
    bundled = {f.rel_id for f in list_corpus(ROOT / "corpus")}
    latest: dict[str, dict] = {}
    for obj in records:
        latest.pop(obj["question"].strip().lower(), None)  # re-inserted: the dict keeps the order of last ratings
        latest[obj["question"].strip().lower()] = obj
    down = sum(obj["rating"] == "down" for obj in records)
    questions, elsewhere = [], 0
    for obj in latest.values():
        if obj["rating"] != "up":
            continue
        answer = obj["answer"]
        sentences = [s for s in answer.get("sentences") or [] if isinstance(s, dict) and s.get("text")]
        if answer.get("abstained") or not sentences:
            gold, answers, kind = [], [], "unanswerable"
        else:
            gold = list(dict.fromkeys(c["article_id"] for c in answer.get("citations") or []
                                      if isinstance(c, dict) and c.get("article_id")))
            gold = gold or list(dict.fromkeys(s["article_id"] for s in sentences if s.get("article_id")))
            answers, kind = [sentences[0]["text"]], "feedback"
            if not gold or any(g.split("#")[0] not in bundled for g in gold):
                elsewhere += 1
                continue
        qid = "fb-" + hashlib.sha256(obj["question"].strip().lower().encode()).hexdigest()[:10]
        questions.append(Question(qid, obj["question"], answers, gold, kind, {g: 1.0 for g in gold}))
    log.info("feedback %s: %d question%s from thumbs-up answers; left out: %d thumbs-down, %d citing articles not in "
             "corpus/, %d unreadable line%s", path, len(questions), "s" if len(questions) != 1 else "", down,
             elsewhere, len(problems), "s" if len(problems) != 1 else "")
    return Dataset("feedback", questions, None, [path])


def load_dataset(name: str, data: str | Path | None = None, split: str = "all", *,
                 eval_settings: EvalSettings | None = None) -> Dataset:
    """A question set by name; ``eval_settings`` says where the public ones are (default: from the environment)."""
    if name == "collection":
        return load_collection(data)
    if name == "feedback":
        return load_feedback(data)
    if name == "squad":
        return load_squad(data, split, eval_settings=eval_settings)
    if name == "scifact":
        return load_beir(data, eval_settings=eval_settings)
    raise ValueError(f"unknown dataset {name!r}")
