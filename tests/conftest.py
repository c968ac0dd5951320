"""Shared fixtures: the real model, loaded once, and the bundled collection indexed once into a temporary folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.config import Settings
from qa.embed import Encoder
from qa.build import build_index

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(Settings().model)


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory, encoder) -> Settings:
    """Settings whose index holds the bundled collection (read in place; nothing is written to corpus/)."""
    settings = Settings.from_env(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("bundled") / "index")
    build_index(settings, encoder=encoder, progress=False)
    return settings


@pytest.fixture(scope="session")
def assistant(bundled_settings, encoder) -> Assistant:
    return Assistant(bundled_settings, build_if_missing=False, encoder=encoder)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled collection."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


# --- the chat page (tests/test_ui*.py) ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory):
    """The real `qa ui` server, started as a person starts it, on a free port, over a writable copy of the bundled
    collection whose index it builds itself in a temporary folder (uploads go into that copy)."""
    from tools.ui_server import serve

    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    with serve(corpus, root / "index", log_path=root / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def ui_client(ui_server):
    """A gradio_client Client of that server, with the client's defaults (as a user would make it)."""
    from gradio_client import Client

    return Client(ui_server.url, verbose=False)
