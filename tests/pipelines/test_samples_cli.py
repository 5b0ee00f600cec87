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
