"""What the two trained models (the reranker and the span reader) share: each loads offline from the repository, and
a missing, truncated or garbled one is one line naming its folder and a warning, after which the assistant answers
as with ``--fast`` for that stage."""
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from qa import reader, rerank
from qa.assistant import Assistant
from qa.config import ReaderSettings, RerankerSettings
from qa.lora import WEIGHTS

REPO = Path(__file__).resolve().parent.parent
# module, class, error, the settings that point the assistant at a folder, its attribute, the warning's words
MODELS = {
    "reranker": (rerank, "Reranker", rerank.RerankerError, lambda f: {"reranker": RerankerSettings(True, f)},
                 "answering without the reranker"),
    "reader": (reader, "SpanReader", reader.ReaderError, lambda f: {"reader": ReaderSettings(True, f)},
               "marking answer spans by rules"),
}


@pytest.mark.parametrize("name", MODELS)
def test_loads_without_the_network(tmp_path, name):
    module, cls = MODELS[name][:2]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    code = f"from {module.__name__} import {cls}; m = {cls}(); print(m.model is not None)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "True", run.stderr


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage-config"])
def test_a_damaged_model_is_one_line_and_the_assistant_falls_back(tmp_path, name, damage, bundled_settings, encoder,
                                                                  caplog):
    module, cls, error_type, pointing, warning = MODELS[name]
    folder = tmp_path / name
    shutil.copytree(module.DEFAULT_DIR, folder)
    if damage == "missing":
        (folder / WEIGHTS).unlink()
    elif damage == "truncated":
        data = (folder / WEIGHTS).read_bytes()
        (folder / WEIGHTS).write_bytes(data[:len(data) // 2])
    else:
        (folder / module.CONFIG).write_text("{not json")
    with pytest.raises(error_type) as error:
        getattr(module, cls)(folder)
    assert "\n" not in str(error.value) and str(folder) in str(error.value)

    settings = replace(bundled_settings, **pointing(folder))
    with caplog.at_level(logging.WARNING):
        assistant = Assistant(settings, build_if_missing=False, encoder=encoder)
    assert getattr(assistant, name) is None
    assert any(warning in r.getMessage() for r in caplog.records)
    answer = assistant.ask("How long did Blinken's meeting with Qin Gang last?")
    assert not answer.abstained and "seven and a half hours" in answer.sentences[0].text
