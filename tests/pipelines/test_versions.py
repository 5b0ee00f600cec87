"""Versions are derived from what made an output: each kind of edit reruns exactly the files that depend
on it, and the result equals a clean run of the edited code byte for byte; unrelated edits rerun nothing.

"Code" is edited in a copy of the packages that pipelines.version reads (version.ROOT), never in the
real source files; recipes, model paths, profile fields and limits are edited through their values.
"""
import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

from llama_model.configs import get_profile
from pipelines import curation, langid, recipes, version
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine

SAMPLES = Path(curation.__file__).resolve().parent / "samples" / "bundled"
DUMPS = {"c4": "en", "github": "2023-03"}
D = get_profile("tiny").data
PARAMS = MinHashParams(num_perm=D.minhash_perms, bands=D.minhash_bands, ngram=D.minhash_ngram)


def run_all(root, params=PARAMS, limits=None) -> dict:
    """raw -> dedup -> LID for c4/en and github/2023-03; {(source, stage): files run}."""
    e, ran = LocalEngine(1), {}
    for source, dump in DUMPS.items():
        ran[source, "raw"] = curation.ingest(e, root, SAMPLES, source, dump, limits=limits)["files_read"]
        ran[source, "dedup"] = curation.dedup(e, root, source, dump, params)["ran"]
        ran[source, "lid"] = curation.map_stage(e, root, "deduplicated", "language_identified", source, dump,
                                                curation.LID)["ran"]
    return ran


def snapshot(root: Path) -> dict:
    """{relative path: (sha256, mtime_ns)} of every committed file (outputs, dropped rows, manifests)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and rel.parts[0] != "tmp" and "_done" not in rel.parts \
                and p.name not in (".lock", "_stat.json"):
            out[rel.as_posix()] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def shas(snap: dict) -> dict:
    return {k: v[0] for k, v in snap.items()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline")
    first = run_all(root)
    assert all(n > 0 for n in first.values()), first
    assert set(run_all(root).values()) == {0}  # nothing changed: nothing runs
    return root


@pytest.fixture
def root(baseline, tmp_path):
    r = tmp_path / "data"
    shutil.copytree(baseline, r)  # copy2: mtimes kept, so the size+mtime short-cut holds
    return r


@pytest.fixture
def code_copy(tmp_path, monkeypatch):
    """A copy of the project packages that version.py reads instead of the real ones."""
    copy = tmp_path / "src"
    for pkg in version.PACKAGES:
        shutil.copytree(version.ROOT / pkg, copy / pkg, ignore=shutil.ignore_patterns(
            "samples", "langid_model", "__pycache__", "*.ftz"))
    monkeypatch.setattr(version, "ROOT", copy)
    return copy


def edit(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited\n")


def test_an_unchanged_copy_of_the_code_has_the_same_versions(code_copy):
    monkey_root = version.ROOT
    assert monkey_root == code_copy
    v = {s.asset: s.version("c4") for s in curation.STAGES}
    version.ROOT = Path(curation.__file__).resolve().parent.parent
    try:
        assert v == {s.asset: s.version("c4") for s in curation.STAGES}
    finally:
        version.ROOT = monkey_root


def test_an_unrelated_module_edit_rewrites_no_curation_output(root, code_copy):
    before = snapshot(root)
    edit(code_copy / "llama_model" / "sft.py")
    assert set(run_all(root).values()) == {0}
    assert snapshot(root) == before  # same bytes, same mtimes: nothing rewritten


def test_an_indirectly_imported_helper_reruns_its_dependents_only(root, code_copy, baseline):
    # pipelines.dedup -> dedup.scatter -> dedup.shingle: never imported by the stage module itself
    assert "pipelines.dedup.shingle" not in version.imports_of("pipelines.dedup")
    assert "pipelines.dedup.shingle" in version.closure(["pipelines.dedup"])
    assert "pipelines.dedup.shingle" not in version.closure(["pipelines.langid"])
    edit(code_copy / "pipelines" / "dedup" / "shingle.py")
    ran = run_all(root)
    assert ran == {("c4", "raw"): 0, ("c4", "dedup"): 2, ("c4", "lid"): 0,
                   ("github", "raw"): 0, ("github", "dedup"): 7, ("github", "lid"): 0}
    def parts(snap):  # dedup's manifest records its input digest, which holds the new version
        return {k: v for k, v in shas(snap).items() if "/part-" in k}

    assert parts(snapshot(root)) == parts(snapshot(baseline))  # the edit is a comment: same bytes


def test_a_recipe_parameter_reruns_that_source_only_and_equals_a_clean_run(root, baseline, tmp_path, monkeypatch):
    c4 = tuple(dataclasses.replace(s, params={**s.params, "min_score": 0.99}) if s.name == "langid" else s
               for s in recipes.RECIPES["c4"])
    monkeypatch.setitem(recipes.RECIPES, "c4", c4)
    ran = run_all(root)
    assert ran == {("c4", "raw"): 0, ("c4", "dedup"): 0, ("c4", "lid"): 2,
                   ("github", "raw"): 0, ("github", "dedup"): 0, ("github", "lid"): 0}
    clean = tmp_path / "clean"
    run_all(clean)
    after, fresh, base = shas(snapshot(root)), shas(snapshot(clean)), shas(snapshot(baseline))
    assert after == fresh
    changed = sorted(k for k in after if after[k] != base.get(k))
    assert changed and all("c4/en" in k for k in changed), changed


def test_a_model_file_reruns_the_stage_that_loads_it(root, baseline, tmp_path, monkeypatch):
    model = tmp_path / "lid.176.ftz"
    model.write_bytes(langid.MODEL_PATH.read_bytes() + b"\0")  # other bytes: only its hash is read here
    monkeypatch.setattr(langid, "MODEL_PATH", model)
    ran = run_all(root)
    assert ran == {("c4", "raw"): 0, ("c4", "dedup"): 0, ("c4", "lid"): 2,
                   ("github", "raw"): 0, ("github", "dedup"): 0, ("github", "lid"): 7}
    clean = tmp_path / "clean"
    run_all(clean)
    assert shas(snapshot(root)) == shas(snapshot(clean))


def test_a_profile_field_reruns_dedup_and_equals_a_clean_run(root, tmp_path):
    params = dataclasses.replace(PARAMS, ngram=PARAMS.ngram + 2)  # minhash_ngram of the profile
    ran = run_all(root, params=params)
    assert ran[("c4", "raw")] == ran[("github", "raw")] == 0
    assert ran[("c4", "dedup")] == 2
    assert ran[("github", "dedup")] == 0  # github's recipe dedups by exact hashes only
    clean = tmp_path / "clean"
    run_all(clean, params=params)
    assert shas(snapshot(root)) == shas(snapshot(clean))


def test_reader_limits_rerun_ingest_and_equal_a_clean_run(root, baseline, tmp_path):
    limits = {"record_bytes": 3000, "github_file_bytes": 3000}
    ran = run_all(root, limits=limits)
    assert ran[("c4", "raw")] == 2 and ran[("github", "raw")] == 7
    clean = tmp_path / "clean"
    run_all(clean, limits=limits)
    after = shas(snapshot(root))
    assert after == shas(snapshot(clean))
    assert after != shas(snapshot(baseline))  # the caps skip records: other outputs


def test_closures_follow_imports_and_leave_other_readers_out():
    ingest = curation.INGEST.explain("c4")["modules"]
    assert "pipelines.readers.c4" in ingest and "pipelines.readers.github" not in ingest
    lid = version.closure(["pipelines.langid"])
    assert "pipelines.recipes" in lid and not any(m.startswith(("llama_model", "pipelines.dedup")) for m in lid)
    assert "pipelines.quality.references" in version.closure(["pipelines.quality"])


def test_new_quality_models_change_the_sources_that_use_them_only(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, lm in ((a, b"lm one"), (b, b"lm two")):
        (d / "lm").mkdir(parents=True)
        (d / "lm" / "model.bin").write_bytes(lm)
        (d / "models.json").write_text("{}")
    q = curation.QUALITY
    # commoncrawl has a perplexity step: its files depend on the models' bytes, not on where they are
    assert q.version("commoncrawl", {"models_dir": str(a)}) != q.version("commoncrawl", {"models_dir": str(b)})
    shutil.copytree(a, tmp_path / "c")
    assert q.version("commoncrawl", {"models_dir": str(a)}) == q.version("commoncrawl", {"models_dir": str(tmp_path / "c")})
    # c4's quality steps are heuristics: new models rerun none of its files
    assert q.version("c4", {"models_dir": str(a)}) == q.version("c4", {"models_dir": str(b)})


def test_the_bad_words_list_is_in_c4s_quality_version(tmp_path, monkeypatch):
    """C4's rules read the bad-words list: a new list reruns the c4 files, and only them."""
    from pipelines.quality import heuristics

    q = curation.QUALITY
    before = {s: q.version(s, {"models_dir": ""}) for s in ("c4", "github", "wikipedia")}
    edited = tmp_path / "en"
    edited.write_text(heuristics.BAD_WORDS_FILE.read_text() + "newword\n")
    monkeypatch.setattr(curation, "BAD_WORDS_FILE", edited)
    after = {s: q.version(s, {"models_dir": ""}) for s in ("c4", "github", "wikipedia")}
    assert after["c4"] != before["c4"]
    assert after["github"] == before["github"] and after["wikipedia"] == before["wikipedia"]
