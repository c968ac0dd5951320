"""The engine points one way: qa/ imports neither the evaluation nor the UI shell, not even by name at run time; the
shells add their `qa` subcommands themselves."""
import ast
from pathlib import Path

from qa.cli import main

QA = Path(__file__).resolve().parent.parent / "qa"


def test_qa_never_names_its_shells():
    for path in QA.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] not in ("eval", "ui"), path
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] not in ("eval", "ui") for a in node.names), path
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not node.value.startswith(("eval.", "ui.")), (path, node.value)


def test_shell_commands_register_themselves(capsys):
    try:
        main(["--help"])
    except SystemExit:
        pass
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("eval", "train-reranker", "ui", "ask", "timeline", "chat"))
