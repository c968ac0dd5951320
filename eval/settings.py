"""The evaluation shell's settings, read from the environment in one place (``EvalSettings.from_env``), once per
command, and passed down: where the public datasets are read from (``QA_DATASETS``), where their indexes are cached
(``QA_EVAL_CACHE``) and the SQuAD split ``qa eval`` asks when ``--split`` is not given (``QA_EVAL_SPLIT``).
``environment_help`` lists them for the ``--help`` of ``qa eval`` and ``qa train-reranker``. The engine's own settings
are ``qa.config``'s."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# variable, field, what it sets
EVAL_ENV = (
    ("QA_DATASETS", "datasets_dir", "folder of squad-v1.1/ and beir-scifact/"),
    ("QA_EVAL_CACHE", "cache_dir", "indexes of the public datasets"),
    ("QA_EVAL_SPLIT", "split", "qa eval's SQuAD split when --split is not given"),
)


@dataclass(frozen=True)
class EvalSettings:
    # The public benchmark data, read in place: ../shared/datasets beside the repository.
    datasets_dir: Path = ROOT.parent / "shared" / "datasets"
    cache_dir: Path = ROOT / ".cache" / "eval"  # one corpus folder and its indexes per public dataset
    split: str = "all"  # all | tune | heldout (checked where a SQuAD set is loaded)

    @classmethod
    def from_env(cls) -> "EvalSettings":
        """The defaults, with each variable of ``EVAL_ENV`` that is set (and not empty) applied."""
        defaults = cls()
        values = {name: os.environ.get(var) or getattr(defaults, name) for var, name, _ in EVAL_ENV}
        return cls(datasets_dir=Path(values["datasets_dir"]), cache_dir=Path(values["cache_dir"]),
                   split=values["split"])

    def data_path(self, dataset: str) -> Path:
        """The default file or folder of a public dataset (``squad`` or ``scifact``)."""
        paths = {"squad": self.datasets_dir / "squad-v1.1" / "dev-v1.1.json.gz",
                 "scifact": self.datasets_dir / "beir-scifact"}
        return paths[dataset]


def _shown(path: Path) -> str:
    """A default path as the help shows it: relative to the repository where it lies in it or beside it."""
    if path.is_relative_to(ROOT):
        return f"{path.relative_to(ROOT).as_posix()} in the repository"
    if path.is_relative_to(ROOT.parent):
        return f"../{path.relative_to(ROOT.parent).as_posix()} beside the repository"
    return str(path)


def environment_help() -> str:
    """The evaluation shell's environment variables with their defaults (appended to the engine's epilog)."""
    defaults = EvalSettings()
    rows = [(var, what, getattr(defaults, name)) for var, name, what in EVAL_ENV]
    return "evaluation environment (default):\n" + "\n".join(
        f"  {var:<26} {what} ({_shown(d) if isinstance(d, Path) else d})" for var, what, d in rows)
