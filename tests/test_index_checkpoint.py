"""build_index's checkpoint (how an upload job is cancelled) and the partial builds a killed build leaves."""
from __future__ import annotations

import pytest

from qa.config import Settings
from qa.build import build_index
from qa.index import Index, current_build


class Stop(Exception):
    pass


@pytest.fixture
def small(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "summit.txt").write_text("Summit ends\n\nThe summit ended on Friday in Geneva. Both leaders agreed.\n")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, encoder=encoder, progress=False)
    return settings


def _builds(settings) -> list[str]:
    return sorted(p.name for p in (settings.index_dir / "builds").iterdir())


@pytest.mark.parametrize("when", ["first call", "just before the swap"])
def test_a_checkpoint_that_raises_stops_the_build_and_keeps_the_previous_index(small, encoder, when):
    live = current_build(small.index_dir)
    (small.corpus_dir / "trade.txt").write_text("Trade talks\n\nThe trade talks resumed on Monday in Oslo.\n")
    calls = []

    def checkpoint():
        calls.append(1)
        new = [b for b in (small.index_dir / "builds").iterdir() if b != live]
        written = any((b / "manifest.json").exists() for b in new)  # only the last checkpoint comes after it
        if when == "first call" or written:
            raise Stop

    with pytest.raises(Stop):
        build_index(small, encoder=encoder, progress=False, checkpoint=checkpoint)
    assert calls and (when == "first call") == (len(calls) == 1)
    assert current_build(small.index_dir) == live and _builds(small) == [live.name]  # no partial folder
    assert Index.open(small.index_dir, small).article_ids() == {"summit"}


def test_an_up_to_date_build_removes_what_a_killed_build_left(small, encoder):
    live = current_build(small.index_dir)
    partial = small.index_dir / "builds" / "20260101T000000000000Z-1"
    partial.mkdir()
    (partial / "store.sqlite").write_bytes(b"half")
    (small.index_dir / "builds" / "old.damaged").mkdir()
    report = build_index(small, encoder=encoder, progress=False)
    assert report.up_to_date
    assert _builds(small) == sorted([live.name, "old.damaged"])
