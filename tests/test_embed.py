"""The optional encoder backends: a clear error without their extra; with it, vectors that agree with torch's."""
import importlib.util
import logging

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL
from qa.embed import Encoder, ModelLoadError

OPENVINO = importlib.util.find_spec("openvino") is not None and importlib.util.find_spec("optimum") is not None
TEXTS = ["Xi and Trump met in Busan.", "The two sides agreed to resume military-to-military communication.",
         "Counter-narcotics cooperation was restored after talks in San Francisco."]


@pytest.mark.skipif(OPENVINO, reason="openvino is installed here")
def test_openvino_without_its_extra_says_what_to_install():
    with pytest.raises(ModelLoadError, match=r"pip install 'news-qa\[openvino\]'"):
        Encoder(DEFAULT_MODEL, backend="openvino").encode(TEXTS)


@pytest.mark.skipif(not OPENVINO, reason="needs the openvino extra (pip install 'news-qa[openvino]')")
def test_openvino_exports_once_and_agrees_with_torch(tmp_path, monkeypatch, caplog, encoder):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="qa.embed"):
        vectors = Encoder(DEFAULT_MODEL, backend="openvino").encode(TEXTS)
        assert "exporting all-MiniLM-L6-v2 to openvino" in caplog.text
        caplog.clear()
        again = Encoder(DEFAULT_MODEL, backend="openvino").encode(TEXTS)
        assert "exporting" not in caplog.text  # loaded from the cached export
    assert (vectors * encoder.encode(TEXTS)).sum(axis=1).min() > 0.999
    assert len(list(tmp_path.glob("news-qa/openvino/*/openvino/openvino_model.xml"))) == 1
    assert not list(tmp_path.glob("news-qa/openvino/.*"))  # no partial export left
    assert np.allclose(again, vectors, atol=1e-3)
