"""common.destination: a command's output folder never costs a file the command did not write."""
import json

import pytest

from common.destination import MARKER, DestinationError, output_folder


def _write(out, files):
    out.mkdir(parents=True)
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)


def test_earlier_output_is_replaced_and_only_its_stale_files_removed(tmp_path):
    dst = tmp_path / "dst"
    with output_folder(dst, "cmd") as out:
        _write(out, {"a.txt": "1", "sub/b.txt": "2"})
    assert json.loads((dst / MARKER).read_text()) == {"command": "cmd", "files": ["a.txt", "sub/b.txt"]}
    (dst / "sub" / "mine.txt").write_text("user")
    with output_folder(dst, "cmd") as out:
        _write(out, {"a.txt": "3"})
    assert (dst / "a.txt").read_text() == "3" and not (dst / "sub" / "b.txt").exists()
    assert (dst / "sub" / "mine.txt").read_text() == "user"
    with pytest.raises(DestinationError, match="output of `cmd`"):     # another command's output
        with output_folder(dst, "other") as out:
            pass


def test_a_tampered_marker_cannot_delete_outside(tmp_path):
    dst, victim = tmp_path / "dst", tmp_path / "victim.txt"
    victim.write_text("keep")
    dst.mkdir()
    (dst / MARKER).write_text(json.dumps({"command": "cmd", "files": ["../victim.txt", str(victim)]}))
    with output_folder(dst, "cmd") as out:
        _write(out, {"a.txt": "1"})
    assert victim.read_text() == "keep"


def test_failure_leaves_the_destination_and_no_temporary(tmp_path):
    dst = tmp_path / "dst"
    _write(dst, {"mine.txt": "x"})
    with pytest.raises(RuntimeError):
        with output_folder(dst, "cmd", force=True) as out:
            _write(out, {"a.txt": "1"})
            raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]
    assert sorted(p.name for p in dst.iterdir()) == ["mine.txt"]


def test_docs_figures_never_replaces_a_file_it_did_not_write(tmp_path):
    from common.figures import write_figures

    notes = tmp_path / "docs" / "notes.md"
    notes.parent.mkdir()
    notes.write_text("my notes\n")
    with pytest.raises(ValueError, match="is not a figures file written by docs-figures"):
        write_figures(tmp_path / "no-run", notes)
    assert notes.read_text() == "my notes\n"
