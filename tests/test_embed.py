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


def test_the_device_is_the_best_there_is_and_recorded_in_the_index(tmp_path, encoder):
    import torch

    from qa.build import build_index
    from qa.config import Settings
    from qa.index import read_manifest

    gpu = torch.cuda.is_available()
    auto = Encoder(DEFAULT_MODEL)
    assert auto.device == ("cuda" if gpu else "cpu") and auto.dtype == ("float16" if gpu else "float32")
    assert Encoder(DEFAULT_MODEL, device="cpu").device == "cpu"
    with pytest.raises(ModelLoadError, match=r"unknown device 'tpu' \(QA_DEVICE\)"):
        Encoder(DEFAULT_MODEL, device="tpu").device
    if not gpu:
        with pytest.raises(ModelLoadError, match="torch sees no CUDA device; use QA_DEVICE=cpu or auto"):
            Encoder(DEFAULT_MODEL, device="cuda").device
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Summit ends\n\nThe summit ended on Friday in Geneva.\n")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, encoder=encoder, progress=False)
    (segment,) = read_manifest(settings.index_dir)["segments"]
    assert segment["encoder"] == {"backend": "torch", "device": encoder.device, "dtype": encoder.dtype}
