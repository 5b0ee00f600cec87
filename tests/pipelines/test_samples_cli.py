"""`llama-pipeline make-samples`: a scaled set in every native format, deterministic, with a valid ground truth."""
import argparse
import hashlib
import json

from pipelines.base import Stats
from pipelines.document import SOURCES
from pipelines.readers import read_dumps
from pipelines.samples.cli import register


def make(out, docs=400, seed=0):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["make-samples", "--docs", str(docs), "--out", str(out), "--seed", str(seed)])
    assert args.func(args) == 0


def test_make_samples_is_readable_and_matches_its_ground_truth(tmp_path, capsys):
    make(tmp_path / "a")
    assert "ground truth" in capsys.readouterr().out
    truth = json.loads((tmp_path / "a" / "ground_truth.json").read_text())
    ids, counts = set(), {}
    for source in SOURCES:
        stats = Stats()
        ids |= {d.id for d in read_dumps(source, tmp_path / "a" / source, stats=stats)}
        assert stats.balanced
        counts[source] = stats.kept
    assert counts["commoncrawl"] + counts["c4"] > 0.7 * sum(counts.values())
    planted = set(truth["languages"]) | set(truth["low_quality"]) | set(truth["github_bad"])
    planted |= {i for p in truth["exact_duplicates"] for i in p} | set(truth["wiki_other_language"])
    planted |= {p[k] for p in truth["near_duplicates"] + truth["book_overlap"] for k in ("a", "b")}
    assert planted and planted <= ids
    assert all(truth[k] for k in ("exact_duplicates", "near_duplicates", "languages", "low_quality", "github_bad",
                                  "github_nonpermissive_repos", "book_overlap", "wiki_other_language"))
    assert "jarun/googler" not in truth["github_nonpermissive_repos"]  # real files are only in the bundled set


def test_make_samples_is_deterministic(tmp_path):
    def digest(root):
        return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes()
                                       for p in sorted(root.rglob("*")) if p.is_file())).hexdigest()

    make(tmp_path / "a", docs=150)
    make(tmp_path / "b", docs=150)
    make(tmp_path / "c", docs=150, seed=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def _make_args(out, *extra, docs=150):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["make-samples", "--docs", str(docs), "--out", str(out), *extra])


def test_make_samples_never_deletes_a_users_dumps(tmp_path):
    import pytest

    from common.destination import MARKER, DestinationError

    out = tmp_path / "dumps"
    real = out / "c4" / "en" / "c4-train.00001-of-01024.json.gz"    # a real dump the generator would name too
    real.parent.mkdir(parents=True)
    real.write_bytes(b"real data")
    notes = out / "wikipedia" / "20230101" / "enwiki-20230101-pages-articles.xml.bz2"
    notes.parent.mkdir(parents=True)
    notes.write_bytes(b"real wiki")
    args = _make_args(out)
    with pytest.raises(DestinationError, match="not empty"):         # refused without --force
        args.func(args)
    args = _make_args(out, "--force")
    with pytest.raises(DestinationError, match="c4-train.00001-of-01024.json.gz exists"):   # never replaced
        args.func(args)
    assert real.read_bytes() == b"real data" and notes.read_bytes() == b"real wiki"
    real.unlink()
    args = _make_args(out, "--force")
    assert args.func(args) == 0
    assert notes.read_bytes() == b"real wiki" and (out / "ground_truth.json").is_file()
    written = json.loads((out / MARKER).read_text())["files"]
    assert "ground_truth.json" in written and notes.relative_to(out).as_posix() not in written
    # A second, smaller run into its own output needs no --force and removes only its stale files.
    args = _make_args(out, docs=100)
    assert args.func(args) == 0
    assert notes.read_bytes() == b"real wiki"
    again = json.loads((out / MARKER).read_text())["files"]
    left = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert left == set(again) | {MARKER, notes.relative_to(out).as_posix()}
