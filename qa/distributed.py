"""Building on a Ray cluster (``qa index --ray [ADDRESS]``; the optional ``ray`` extra).

The driver decides what changed and commits, exactly as a local build does (``qa.build``); only the writing of new
segments moves to the cluster. The new and changed files are cut into groups of about equal size, a Ray Data
dataset of those groups is mapped through a pool of actors (one model each; one GPU each where the cluster has GPUs,
one CPU otherwise), and each actor reads, chunks and embeds its group into segments of its own, written into the
commit folder being prepared, which every node must reach (a shared file system). The driver then commits them in
group order. Without an address a local Ray instance is started, so the path runs, and is tested, on one machine.
A file that cannot be read is skipped with its reason, as locally; a task that fails for a system error (a lost node or
actor) is retried by Ray Data; a build that still fails commits nothing.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from .config import Settings
from .ingest import Skipped
from .segment import SegmentInfo

log = logging.getLogger("qa.build")

GROUPS_PER_WORKER = 4  # so that one slow group does not leave the other workers idle


class SegmentBuilder:
    """A Ray Data actor: one encoder, loaded once, embedding group after group into new segments."""

    def __init__(self, settings: Settings, folder: str, groups: list, threads: int):
        import torch

        from .embed import Encoder

        torch.set_num_threads(max(1, threads))
        self.settings, self.folder, self.groups = settings, Path(folder), groups
        self.encoder = Encoder.from_settings(settings)

    def __call__(self, batch: dict) -> dict:
        from .commit import BuildReport, new_name
        from .write import write_segments

        out = []
        for group in batch["group"].tolist():
            report, infos = BuildReport(corpus=""), []
            write_segments(self.groups[group], self.settings, self.encoder, lambda: self.folder / new_name(),
                           infos.append, report, progress=False)
            out.append(json.dumps({
                "group": group, "segments": [{**asdict(i), "files": sorted(i.files)} for i in infos],
                "skipped": [asdict(s) for s in report.skipped], "embedded": report.embedded_texts,
                "encode_seconds": report.encode_seconds,
                "encoder": {"backend": self.settings.backend, "device": self.encoder.device,
                            "dtype": self.encoder.dtype}, "dim": self.encoder.dim}))
        return {"result": out}


def groups_of(files: list, workers: int) -> list[list]:
    """Consecutive groups of files of about equal bytes, ``GROUPS_PER_WORKER`` per worker (fewer for few files)."""
    sizes = [_size(f.path) for f in files]
    n = max(1, min(len(files), workers * GROUPS_PER_WORKER))
    target, groups, current, filled = sum(sizes) / n, [], [], 0.0
    for source, size in zip(files, sizes):
        current.append(source)
        filled += size
        if filled >= target * (len(groups) + 1) and len(groups) < n - 1:
            groups.append(current)
            current = []
    return groups + ([current] if current else [])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # unreadable: its worker reports why


def connect(address: str | None, what: str):
    """The ``ray`` module, connected to the cluster at ``address`` (None: a local instance, started once); a one-line
    error naming ``what`` needs it when the ray extra is not installed."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"{what} needs Ray: pip install 'news-qa[ray]' (or bash scripts/setup ui,ray)") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    return ray


def write_on_ray(files: list, settings: Settings, folder: Path, address: str | None, workers: int | None):
    """Writes the files' segments on the cluster into ``folder``; yields, group by group in order, the segments
    written (with the encoder that embedded them and its dimension), what was skipped, and the embedding counts."""
    ray = connect(address, "qa index --ray")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its progress lines, every few seconds
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    workers = workers or gpus or max(1, int(resources.get("CPU", 1)))
    groups = groups_of(files, workers)
    if not groups:
        return
    log.info("building %d groups of files on Ray with %d %s workers", len(groups), workers, "GPU" if gpus else "CPU")
    dataset = ray.data.from_items([{"group": g} for g in range(len(groups))], override_num_blocks=len(groups))
    cpus = 1 if gpus else max(1, int(resources.get("CPU", 1)) // workers)
    results = dataset.map_batches(
        SegmentBuilder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=min(workers, len(groups))),
        num_gpus=1 if gpus else 0, num_cpus=cpus,
        fn_constructor_kwargs={"settings": settings, "folder": os.fspath(folder), "groups": groups, "threads": cpus},
    ).take_all()
    for row in sorted((json.loads(r["result"]) for r in results), key=lambda r: r["group"]):
        infos = [SegmentInfo(s["name"], s["counts"], s["dense_index"], set(s["files"])) for s in row["segments"]]
        skipped = [Skipped(**s) for s in row["skipped"]]
        yield infos, row["encoder"], row["dim"], skipped, row["embedded"], row["encode_seconds"]
