"""The bundled samples: regenerating them is byte-identical, and the ground truth matches what readers read."""
import hashlib
import json
import random

import pytest

from pipelines.document import SOURCES, doc_id
from pipelines.readers import read_dumps
from pipelines.samples import bundled_dumps_dir
from pipelines.samples.generate import Plan, generate, jaccard, near_copy, overlap

BUNDLED = bundled_dumps_dir()
CATEGORIES = ["book_overlap", "exact_duplicates", "github_bad", "github_nonpermissive_repos", "languages",
              "low_quality", "near_duplicates", "wiki_other_language"]


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("regen")
    generate(out, Plan.bundled(), seed=0)
    return out


@pytest.fixture(scope="module")
def truth():
    return json.loads((BUNDLED / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def docs(regenerated):
    """Every document of the bundled samples by id (Wikipedia: only the generated dumps, the real enwiki
    file takes seconds to parse and holds no planted case)."""
    out = {}
    for source in SOURCES:
        folder = regenerated / "wikipedia" if source == "wikipedia" else BUNDLED / source
        out.update({d.id: d for d in read_dumps(source, folder)})
    return out


def test_regenerating_is_byte_identical(regenerated, tmp_path):
    again = _hashes(regenerated)
    bundled = _hashes(BUNDLED)
    assert again, "the generator wrote nothing"
    assert {k: bundled.get(k) for k in again} == again  # same bytes as the files shipped in the package
    from pipelines.samples.generate import GENERATED

    shipped = {p.relative_to(BUNDLED).as_posix() for pat in GENERATED for p in BUNDLED.glob(pat)}
    shipped = {k for k in bundled if any(k == s or k.startswith(s + "/") for s in shipped)}
    assert shipped - set(again) == {"c4/en/c4-train.00000-of-01024.json.gz"}  # no stale generated file (that one is real)
    generate(tmp_path, Plan.bundled(), seed=0)
    assert _hashes(tmp_path) == again
    generate(tmp_path / "other", Plan.bundled(), seed=1)
    assert _hashes(tmp_path / "other")["ground_truth.json"] != again["ground_truth.json"]


def test_bundled_layout_and_attribution():
    assert sorted(p.name for p in BUNDLED.iterdir() if p.is_dir()) == sorted(SOURCES)
    from pipelines.dumps import find_dumps

    assert find_dumps(BUNDLED) == ["commoncrawl/CC-MAIN-2023-50", "commoncrawl/CC-MAIN-2024-10",
                                   "commoncrawl/CC-MAIN-2024-22", "commoncrawl/wget-2024-04", "c4/en",
                                   "github/2023-03", "wikipedia/20220701", "books/gutenberg", "arxiv/2023-01",
                                   "stackexchange/2024-04"]
    snapshots = [p.name for p in (BUNDLED / "commoncrawl").iterdir() if p.is_dir()]
    assert len(snapshots) >= 3 and "CC-MAIN-2024-22" in snapshots
    attribution = (BUNDLED / "ATTRIBUTION.md").read_text()
    for name in ["sample-0000.warc.gz", "whirlwind.warc.gz", "pg11.txt", "jarun__googler", "Posts.xml",
                 "scipy-1.0-paper.tar.gz", "enwiki-latest", "c4-train.00000-of-01024.json.gz"]:
        assert name in attribution
    size = sum(p.stat().st_size for p in BUNDLED.rglob("*") if p.is_file())
    assert size < 12e6


def test_ground_truth_schema(truth):
    assert sorted(truth) == CATEGORIES
    assert all(isinstance(truth[k], list) for k in ["exact_duplicates", "near_duplicates", "book_overlap",
                                                    "github_nonpermissive_repos", "wiki_other_language"])
    assert all(isinstance(truth[k], dict) for k in ["languages", "low_quality", "github_bad"])
    assert len(truth["exact_duplicates"]) >= 5 and len(truth["near_duplicates"]) >= 5
    assert set(truth["low_quality"].values()) == {"boilerplate", "spam", "javascript", "lorem_ipsum", "too_short"}
    assert set(truth["github_bad"].values()) == {"max_line_length", "mean_line_length", "alnum_fraction"}
    assert {"fr", "de", "es", "ru", "ja"} <= set(truth["languages"].values())


def test_every_planted_id_is_a_document(truth, docs):
    ids = set(truth["languages"]) | set(truth["low_quality"]) | set(truth["github_bad"])
    ids |= {i for pair in truth["exact_duplicates"] for i in pair}
    ids |= {p[k] for p in truth["near_duplicates"] + truth["book_overlap"] for k in ("a", "b")}
    ids |= set(truth["wiki_other_language"])
    assert sorted(ids - set(docs)) == []
    repos = {d.repo for d in docs.values() if d.source == "github"}
    assert set(truth["github_nonpermissive_repos"]) <= repos
    assert {docs[i].license for i in docs if docs[i].repo in truth["github_nonpermissive_repos"]} <= {"GPL-3.0", "unknown"}


def test_planted_duplicates_and_overlaps_hold(truth, docs):
    for a, b in truth["exact_duplicates"]:
        assert a != b and docs[a].text == docs[b].text and docs[a].source == docs[b].source
    js = []
    for p in truth["near_duplicates"]:
        assert jaccard(docs[p["a"]].text, docs[p["b"]].text) == pytest.approx(p["jaccard"], abs=1e-4)
        js.append(p["jaccard"])
    assert min(js) < 0.75 and max(js) > 0.9 and sum(j >= 0.8 for j in js) > len(js) / 2
    for p in truth["book_overlap"]:
        a, b = docs[p["a"]].text, docs[p["b"]].text
        assert overlap(a, b) == pytest.approx(p["overlap"], abs=1e-4) and p["overlap"] > 0.9
        assert jaccard(a, b) == pytest.approx(p["jaccard"], abs=1e-4)
    assert truth["book_overlap"][0]["a"] == doc_id("books", "gutenberg/pg11.txt")


def test_github_bad_files_fail_their_heuristic(truth, docs):
    def stats(text):
        lines = text.splitlines()
        return {"max_line_length": max(map(len, lines)) > 1000,
                "mean_line_length": sum(map(len, lines)) / len(lines) > 100,
                "alnum_fraction": sum(c.isalnum() for c in text) / len(text) < 0.25}

    for did, reason in truth["github_bad"].items():
        failed = stats(docs[did].text)
        assert failed[reason] and sum(failed.values()) == 1, (docs[did].path, failed)
    good = [d for d in docs.values() if d.source == "github" and d.path.startswith("src/")]
    assert good and not any(any(stats(d.text).values()) for d in good)


def test_foreign_documents_are_identified_by_lid(truth, docs):
    fasttext = pytest.importorskip("fasttext")
    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(str(BUNDLED.parents[1] / "langid_model" / "lid.176.ftz"))
    for did, lang in sorted(truth["languages"].items()):
        (label,), (score,) = model.predict(docs[did].text.replace("\n", " "))
        assert label == f"__label__{lang}" and score > 0.5, (did, lang, label, score)
    english = [d for d in docs.values() if d.source == "c4" and d.id not in truth["languages"]
               and d.id not in truth["low_quality"]][:20]
    for d in english:
        (label,), (score,) = model.predict(d.text.replace("\n", " "))
        assert label == "__label__en" and score > 0.8


def test_wiki_dumps_in_other_languages(truth, regenerated):
    names = sorted(p.name for p in (BUNDLED / "wikipedia" / "20220701").iterdir())
    assert [n[:4] for n in names] == ["dewi", "enwi", "frwi", "jawi", "ruwi"]
    ja = [d for d in read_dumps("wikipedia", regenerated / "wikipedia") if d.lang == "ja"]
    assert sorted(d.id for d in ja) == sorted(truth["wiki_other_language"])


def test_near_copy_hits_its_target():
    from pipelines.samples import text as T

    rng = random.Random(3)
    text = T.english(rng, 8)
    for target in (0.5, 0.8, 0.95):
        copy, j = near_copy(text, target, rng)
        assert j == pytest.approx(jaccard(text, copy), abs=1e-4) and abs(j - target) < 0.05
