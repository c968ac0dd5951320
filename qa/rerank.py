"""The reranker stage: a cross-encoder that reads (question, sentence) together and scores how well one answers the
other.

It is the bundled all-MiniLM-L6-v2 with a LoRA adapter (peft) on its attention and feed-forward layers and a linear
head over the mean-pooled tokens. Only the adapter and the head are stored (``qa/models/reranker/``, about 1.4 MB in
half precision, with its model card); the base weights are the ones the encoder already ships, so nothing is
downloaded. At load time the adapter is merged into the base weights and the linear layers are quantized to int8, so
scoring costs one MiniLM forward pass in int8.
The same file holds the combiners fitted with it (``qa.combine``). Training: ``eval/train_reranker.py``.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .candidates import Candidates
from .combine import Combiner
from .embed import resolve_model

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent / "models" / "reranker"
WEIGHTS, CONFIG = "adapter.safetensors", "reranker.json"


class RerankerError(Exception):
    pass


def build_module(base_model: str, lora: dict):
    """The trainable cross-encoder: the base transformer wrapped with a LoRA adapter, and a linear head."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    class CrossEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # No pooler: the head reads the mean of the token states, as the sentence embedding does (so the load
            # report would list the pooler's unused weights: it is silenced).
            verbosity = transformers_logging.get_verbosity()
            transformers_logging.set_verbosity_error()
            try:
                with warnings.catch_warnings():  # and peft's call of a deprecated transformers method
                    warnings.simplefilter("ignore")
                    base = AutoModel.from_pretrained(resolve_model(base_model), add_pooling_layer=False)
                    self.encoder = get_peft_model(base, LoraConfig(**lora))
            finally:
                transformers_logging.set_verbosity(verbosity)
            self.head = torch.nn.Linear(base.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
            return self.head(pooled).squeeze(-1)

    return CrossEncoder()


def trained_state(module) -> dict:
    """The parameters that training changed: the adapter and the head (what is saved)."""
    return {k: v for k, v in module.state_dict().items() if "lora_" in k or k.startswith("head.")}


def save_weights(module, folder: Path) -> None:
    """Writes the adapter and the head, in half precision, atomically."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").half().contiguous() for k, v in trained_state(module).items()}
    tmp = folder / f".{WEIGHTS}.{os.getpid()}"
    save_file(state, str(tmp))
    os.replace(tmp, folder / WEIGHTS)


def save_config(config: dict, folder: Path) -> None:
    """Writes the configuration (base model, LoRA settings, ``max_length``, combiners), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{CONFIG}.{os.getpid()}"
    tmp.write_text(json.dumps(config, indent=1) + "\n")
    os.replace(tmp, folder / CONFIG)


def tokenize_pairs(tokenizer, questions: list[str], texts: list[str], max_length: int):
    """Tokens of (question, text) pairs, padded to the longest pair only; a long text is cut, never the question."""
    return tokenizer(questions, texts, truncation="only_second", max_length=max_length, padding=True,
                     return_tensors="pt")


def half_precision(device: str):
    """bfloat16 autocast for training where the hardware computes it natively (CUDA, or a CPU with AVX-512 BF16/AMX:
    about 1.4x faster here); full precision elsewhere."""
    import torch

    if device == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.autocast(device, dtype=torch.bfloat16)
    return nullcontext()


class Reranker:
    """Scores the best candidates (by the fast score) with the cross-encoder: ``score(candidates)`` adds the
    ``cross`` feature, NaN for the candidates pruned away."""

    def __init__(self, folder: Path | str = DEFAULT_DIR, *, candidates: int = 10):
        self.folder = Path(folder)
        self.candidates = candidates
        try:
            self.config = json.loads((self.folder / CONFIG).read_text())
            self.combiners = {name: Combiner.from_dict(c) for name, c in self.config["combiners"].items()}
        except FileNotFoundError as exc:
            raise RerankerError(f"reranker not found: {exc.filename}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RerankerError(f"reranker configuration {self.folder / CONFIG} is unreadable: {exc}") from None
        self.model, self.tokenizer = self._load()

    def _load(self):
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        path = self.folder / WEIGHTS
        try:
            state = load_file(str(path))
        except FileNotFoundError:
            raise RerankerError(f"reranker weights not found: {path}") from None
        except (SafetensorError, OSError, ValueError) as exc:
            raise RerankerError(f"reranker weights {path} are damaged: {exc}") from None
        module = build_module(self.config["base_model"], self.config["lora"])
        expected = set(trained_state(module))
        if set(state) != expected:
            raise RerankerError(f"reranker weights {path} do not fit its configuration "
                                f"({len(expected & set(state))} of {len(expected)} tensors match)")
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        module.encoder = module.encoder.merge_and_unload()  # scoring then costs a plain forward pass
        module.eval()
        # int8 weights for the linear layers (dynamic quantization): 1.6x faster than bfloat16 here, and the
        # combiners are fitted on these very scores, so their calibration holds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's notice that this API is moving to torchao
            module = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(self.config["base_model"]))
        torch.set_grad_enabled(False)
        return module, tokenizer

    def score_pairs(self, question: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's logit for each (question, text)."""
        import torch

        if not texts:
            return np.zeros(0)
        with torch.inference_mode():
            batch = tokenize_pairs(self.tokenizer, [question] * len(texts), texts, self.config["max_length"])
            return self.model(**batch).float().numpy().astype(np.float64)

    def score(self, cands: Candidates) -> None:
        """Adds the ``cross`` feature to the best candidates. List questions are left to the fast score: the
        cross-encoder learned single-sentence answers, and on the collection's list questions it gathered fewer of
        the parts (list recall 0.73 against 0.875)."""
        if cands.kind.is_list:
            return
        keep = np.argsort(-cands.fast, kind="stable")[:self.candidates]
        cross = np.full(len(cands), np.nan)
        cross[keep] = self.score_pairs(cands.question, [" ".join(cands.sentences[i].text.split()) for i in keep])
        cands.features["cross"] = cross
