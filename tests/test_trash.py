"""Moving articles into the corpus folder's trash and back, on real files: nothing is overwritten or lost, nothing
outside the corpus folder is touched, and a trashed file leaves the corpus scan."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.ingest import list_corpus
from qa.trash import TRASH, TrashError, restore, trash


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included), links as their target text."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[rel] = ("-> " + os.readlink(path)).encode() if path.is_symlink() else path.read_bytes()
    return out


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "003_42fb9e8cdcba927c.txt").write_text("Xinhua reports the meeting.\n")
    (root / "sub" / "x.md").write_text("# X\n\nA note in a sub folder.\n")
    return root


def test_trash_moves_the_file_keeping_its_relative_path_and_the_scan_no_longer_sees_it(corpus):
    before = {f.rel_id for f in list_corpus(corpus)}
    moved = trash(corpus, "003_42fb9e8cdcba927c.txt")
    nested = trash(corpus, "sub/x.md")

    assert moved == corpus / TRASH / "003_42fb9e8cdcba927c.txt"
    assert moved.read_text() == "Xinhua reports the meeting.\n"
    assert nested == corpus / TRASH / "sub" / "x.md" and nested.read_text().startswith("# X")
    assert not (corpus / "003_42fb9e8cdcba927c.txt").exists() and not (corpus / "sub" / "x.md").exists()
    assert before == {"003_42fb9e8cdcba927c", "sub/x"}
    assert list_corpus(corpus) == []  # the scanner skips hidden names: both leave the index at the next build


def test_a_name_already_in_the_trash_gets_a_number_and_nothing_is_overwritten(corpus):
    first = trash(corpus, "sub/x.md")
    for n in (2, 3):
        (corpus / "sub" / "x.md").write_text(f"version {n}\n")
        again = trash(corpus, "sub/x.md")
        assert again == corpus / TRASH / "sub" / f"x ({n}).md"
    assert first.read_text().startswith("# X")  # the first one is untouched
    assert (corpus / TRASH / "sub" / "x (2).md").read_text() == "version 2\n"
    assert (corpus / TRASH / "sub" / "x (3).md").read_text() == "version 3\n"


def test_restore_moves_it_back_and_refuses_to_overwrite(corpus):
    trash(corpus, "sub/x.md")
    back = restore(corpus, "sub/x.md")
    assert back == corpus / "sub" / "x.md" and back.read_text().startswith("# X")
    assert not (corpus / TRASH / "sub" / "x.md").exists()

    trash(corpus, "003_42fb9e8cdcba927c.txt")
    (corpus / "003_42fb9e8cdcba927c.txt").write_text("a new file under the old name\n")
    with pytest.raises(TrashError, match=r"^003_42fb9e8cdcba927c\.txt: a file of that name is already in the corpus"):
        restore(corpus, "003_42fb9e8cdcba927c.txt")
    assert (corpus / "003_42fb9e8cdcba927c.txt").read_text() == "a new file under the old name\n"
    assert (corpus / TRASH / "003_42fb9e8cdcba927c.txt").read_text() == "Xinhua reports the meeting.\n"
    trash(corpus, "sub/x.md")  # a leading .trash/ is accepted too
    assert restore(corpus, f"{TRASH}/sub/x.md") == corpus / "sub" / "x.md"


@pytest.mark.parametrize("rel, reason", [
    ("../outside.txt", "leads outside the corpus folder"),
    ("sub/../../outside.txt", "leads outside the corpus folder"),
    ("/etc/hostname", "an absolute path"),
    ("missing.txt", "no such file in the corpus folder"),
    (f"{TRASH}/003_42fb9e8cdcba927c.txt", "a hidden name"),
    (".uploads/abc/0.upload", "a hidden name"),
    (".hidden.txt", "a hidden name"),
    ("sub", "not a file"),
    ("", "not a file name"),
])
def test_refused_paths_give_one_line_naming_the_file_and_change_nothing(corpus, tmp_path, rel, reason):
    (tmp_path / "outside.txt").write_text("not part of the corpus\n")
    (corpus / ".uploads" / "abc").mkdir(parents=True)
    (corpus / ".uploads" / "abc" / "0.upload").write_text("staged\n")
    (corpus / ".hidden.txt").write_text("hidden\n")
    trash(corpus, "003_42fb9e8cdcba927c.txt")
    (corpus / "003_42fb9e8cdcba927c.txt").write_text("again\n")
    before, outside = _tree(corpus), _tree(tmp_path)
    with pytest.raises(TrashError) as err:
        trash(corpus, rel)
    message = str(err.value)
    assert reason in message and "\n" not in message
    assert rel in message if rel else "''" in message
    assert _tree(corpus) == before and _tree(tmp_path) == outside


def test_links_that_lead_outside_are_refused_and_links_inside_stay_working(corpus, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the corpus\n")
    (corpus / "out.txt").symlink_to(outside / "secret.txt")
    (corpus / "linked").symlink_to(outside)
    with pytest.raises(TrashError, match=r"^out\.txt: a symbolic link leading outside the corpus folder$"):
        trash(corpus, "out.txt")
    with pytest.raises(TrashError, match=r"^linked/secret\.txt: its folder leads outside"):
        trash(corpus, "linked/secret.txt")
    assert (outside / "secret.txt").read_text() == "outside the corpus\n" and (corpus / "out.txt").is_symlink()

    (corpus / "alias.txt").symlink_to("sub/x.md")  # a relative link inside the corpus: moved as a link
    moved = trash(corpus, "alias.txt")
    assert moved.is_symlink() and moved.read_text().startswith("# X")  # it still leads to the same file
    assert restore(corpus, "alias.txt").read_text().startswith("# X")


def test_a_trash_folder_that_is_a_link_is_refused(corpus, tmp_path):
    (tmp_path / "bin").mkdir()
    (corpus / TRASH).symlink_to(tmp_path / "bin")
    with pytest.raises(TrashError, match=r"not a folder \(a link or a file\)"):
        trash(corpus, "sub/x.md")
    assert (corpus / "sub" / "x.md").exists() and list((tmp_path / "bin").iterdir()) == []


def test_a_link_inside_the_trash_leading_out_is_never_followed(corpus, tmp_path):
    (tmp_path / "bin").mkdir()
    (corpus / TRASH).mkdir()
    (corpus / TRASH / "sub").symlink_to(tmp_path / "bin")
    with pytest.raises(TrashError, match=r"^sub/x\.md: its folder leads outside"):
        trash(corpus, "sub/x.md")
    assert (corpus / "sub" / "x.md").exists() and list((tmp_path / "bin").iterdir()) == []


def test_restore_can_give_a_numbered_copy_back_its_first_name(corpus):
    trash(corpus, "sub/x.md")
    (corpus / "sub" / "x.md").write_text("version 2\n")
    trash(corpus, "sub/x.md")
    back = restore(corpus, "sub/x (2).md", to="sub/x.md")
    assert back == corpus / "sub" / "x.md" and back.read_text() == "version 2\n"
    with pytest.raises(TrashError, match=r"^sub/x\.md: a file of that name is already in the corpus"):
        restore(corpus, "sub/x.md", to="sub/x.md")
    with pytest.raises(TrashError, match=r"^\.x\.md: a hidden name"):
        restore(corpus, "sub/x.md", to=".x.md")
    assert restore(corpus, "sub/x.md", to="new/y.md").read_text().startswith("# X")  # its folder is made


def test_restore_refuses_what_is_not_in_the_trash(corpus):
    with pytest.raises(TrashError, match=r"^sub/x\.md: no such file in \.trash/$"):
        restore(corpus, "sub/x.md")
    with pytest.raises(TrashError, match="leads outside"):
        restore(corpus, "../sub/x.md")
