"""The bundled MiniLM with a trained LoRA adapter and a small head: what the reranker (``qa.rerank``) and the span
reader (``qa.reader``) are made of.

Only the adapter and the head are stored (a folder holding ``adapter.safetensors`` in half precision and a JSON
configuration); the base weights are the ones the encoder already ships, so nothing is downloaded. At load time the
adapter is merged into the base weights and the linear layers are quantized to int8, so a model costs one plain
MiniLM forward pass in int8.

Two heads: ``"pooled"`` (one score per input, over the mean of the token states: the reranker) and ``"tokens"``
(two scores per token, where an answer starts and ends: the reader).
"""
from __future__ import annotations

import json
import os
import warnings
from contextlib import nullcontext
from pathlib import Path

from .embed import resolve_model

WEIGHTS = "adapter.safetensors"


class ModelFileError(Exception):
    """A missing, damaged or mismatched model file (one line, naming it)."""


def build_module(base_model: str, lora: dict, head: str = "pooled"):
    """The trainable module: the base transformer wrapped with a LoRA adapter, and a linear head."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    if head not in ("pooled", "tokens"):
        raise ValueError(f"unknown head {head!r}")

    class LoraModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # No pooler: the heads read the token states (so the load report would list the pooler's unused weights:
            # it is silenced).
            verbosity = transformers_logging.get_verbosity()
            transformers_logging.set_verbosity_error()
            try:
                with warnings.catch_warnings():  # and peft's call of a deprecated transformers method
                    warnings.simplefilter("ignore")
                    base = AutoModel.from_pretrained(resolve_model(base_model), add_pooling_layer=False)
                    self.encoder = get_peft_model(base, LoraConfig(**lora))
            finally:
                transformers_logging.set_verbosity(verbosity)
            self.head = torch.nn.Linear(base.config.hidden_size, 1 if head == "pooled" else 2)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            if head == "tokens":  # (batch, tokens, 2): start and end scores
                return self.head(states)
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            return self.head(pooled).squeeze(-1)

    return LoraModel()


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


def save_config(config: dict, folder: Path, name: str) -> None:
    """Writes the configuration (base model, LoRA settings, ``max_length``, what was fitted), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}"
    tmp.write_text(json.dumps(config, indent=1) + "\n")
    os.replace(tmp, folder / name)


def read_config(folder: Path, name: str) -> dict:
    try:
        return json.loads((folder / name).read_text())
    except FileNotFoundError as exc:
        raise ModelFileError(f"not found: {exc.filename}") from None
    except (ValueError, OSError) as exc:
        raise ModelFileError(f"configuration {folder / name} is unreadable: {exc}") from None


def load_module(folder: Path, config: dict, head: str = "pooled"):
    """The trained module, merged and quantized for inference, and its tokenizer."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    path = folder / WEIGHTS
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        raise ModelFileError(f"weights not found: {path}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"weights {path} are damaged: {exc}") from None
    try:
        module = build_module(config["base_model"], config["lora"], head)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"configuration in {folder} is unusable: {exc}") from None
    expected = set(trained_state(module))
    if set(state) != expected:
        raise ModelFileError(f"weights {path} do not fit its configuration "
                             f"({len(expected & set(state))} of {len(expected)} tensors match)")
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise ModelFileError(f"weights {path} do not fit its configuration: {str(exc).splitlines()[-1]}") from None
    module.encoder = module.encoder.merge_and_unload()  # inference then costs a plain forward pass
    module.eval()
    # int8 weights for the linear layers (dynamic quantization): 1.6x faster than bfloat16 here; what is fitted on a
    # model's outputs (combiners, thresholds) is fitted on these very outputs, so it holds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that this API is moving to torchao
        module = torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(config["base_model"]))
    torch.set_grad_enabled(False)
    return module, tokenizer


def tokenize_pairs(tokenizer, questions: list[str], texts: list[str], max_length: int, **options):
    """Tokens of (question, text) pairs, padded to the longest pair only; a long text is cut, never the question."""
    return tokenizer(questions, texts, truncation="only_second", max_length=max_length, padding=True,
                     return_tensors="pt", **options)


def half_precision(device: str):
    """bfloat16 autocast for training where the hardware computes it natively (CUDA, or a CPU with AVX-512 BF16/AMX:
    about 1.4x faster here); full precision elsewhere."""
    import torch

    if device == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.autocast(device, dtype=torch.bfloat16)
    return nullcontext()
