"""The evaluation shell's settings: read from the environment in one place, with today's defaults, and listed with
those defaults in the --help of ``qa eval`` and ``qa train-reranker``."""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.command import register  # noqa: E402
from eval.settings import EvalSettings  # noqa: E402

VARS = ("QA_DATASETS", "QA_EVAL_CACHE", "QA_EVAL_SPLIT")


def test_defaults(monkeypatch):
    for var in VARS:
        monkeypatch.setenv(var, "")  # empty: the default, as when unset
    s = EvalSettings.from_env()
    assert s == EvalSettings()
    assert s.datasets_dir == ROOT.parent / "shared" / "datasets"
    assert s.cache_dir == ROOT / ".cache" / "eval" and s.split == "all"
    assert s.data_path("squad") == s.datasets_dir / "squad-v1.1" / "dev-v1.1.json.gz"
    assert s.data_path("scifact") == s.datasets_dir / "beir-scifact"


def test_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_DATASETS", str(tmp_path / "data"))
    monkeypatch.setenv("QA_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("QA_EVAL_SPLIT", "heldout")
    assert EvalSettings.from_env() == EvalSettings(tmp_path / "data", tmp_path / "cache", "heldout")


def test_loaders_read_the_settings_folder(tmp_path):
    from eval.datasets import load_beir

    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_beir(eval_settings=EvalSettings(datasets_dir=tmp_path))


@pytest.mark.parametrize("command", ["eval", "train-reranker"])
def test_help_lists_the_variables_with_defaults(command):
    parser = argparse.ArgumentParser(prog="qa")
    register(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices[command]
    text = sub.format_help()
    assert "QA_INDEX_DIR" in text  # the engine's settings too
    lines = {line.split()[0]: line for line in text.splitlines() if line.split() and line.split()[0] in VARS}
    assert set(lines) == set(VARS)
    assert "../shared/datasets" in lines["QA_DATASETS"] and ".cache/eval" in lines["QA_EVAL_CACHE"]
    assert lines["QA_EVAL_SPLIT"].endswith("(all)")


def test_no_module_level_environment_reads():
    """Only EvalSettings.from_env reads the environment in eval/, and never at import time."""
    for path in sorted((ROOT / "eval").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            assert "os.environ" not in ast.unparse(node) and "getenv" not in ast.unparse(node), path
    for path in sorted((ROOT / "eval").glob("*.py")):
        if path.name != "settings.py":
            assert "os.environ" not in path.read_text() and "getenv" not in path.read_text(), path
