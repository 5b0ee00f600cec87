"""Committed files are verified before reuse: a rewritten part, a truncated part, a manifest path that
leaves its partition and a truncated manifest are each detected, named, and repaired or refused; nothing
tampered reaches a downstream stage. Temporaries of killed runs are removed by the next run."""
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from llama_model.configs import get_profile
from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.partition import MANIFEST, CorruptManifestError, TamperedFileError, read_manifest
from pipelines.readers.ingest import check_accounting
from pipelines.stage import balance

SAMPLES = Path(curation.__file__).resolve().parent / "samples" / "bundled"
SOURCE, DUMP = "c4", "en"
D = get_profile("tiny").data
PARAMS = MinHashParams(num_perm=D.minhash_perms, bands=D.minhash_bands, ngram=D.minhash_ngram)
E = LocalEngine(1)


def ingest(root):
    return curation.ingest(E, root, SAMPLES, SOURCE, DUMP)


def dedup(root):
    return curation.dedup(E, root, SOURCE, DUMP, PARAMS)


def lid(root):
    return curation.map_stage(E, root, "deduplicated", "language_identified", SOURCE, DUMP, curation.LID)


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and (p.name.startswith("part-") or p.name == MANIFEST)}


def part(root, asset: str, i: int = 0) -> Path:
    d = root / asset / SOURCE / DUMP
    return d / read_manifest(d)["files"][i]["output"]


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    root = tmp_path_factory.mktemp("committed")
    ingest(root), dedup(root), lid(root)
    return root


@pytest.fixture
def root(committed, tmp_path):
    r = tmp_path / "data"
    shutil.copytree(committed, r)
    return r


def test_a_rewritten_part_is_refused_downstream_and_rewritten_by_its_stage(root, committed):
    p = part(root, "raw_documents")
    other = pq.read_table(p).slice(0, 1).to_pylist()
    other[0]["text"] = "Injected text that no dump holds."
    pq.write_table(pa.Table.from_pylist(other, schema=pq.read_schema(p)), p)  # valid Parquet, same name
    with pytest.raises(TamperedFileError, match=p.name):
        dedup(root)  # nothing tampered reaches deduplicated
    ok, info = check_accounting(p.parent)
    assert not ok and p.name in info["error"]
    s = ingest(root)
    assert (s["files_read"], s["files_unchanged"]) == (1, 1)  # the rewritten unit only
    assert dedup(root)["ran"] == 0 and lid(root)["ran"] == 0
    assert snapshot(root) == snapshot(committed)


def test_a_truncated_part_is_detected_and_rerun(root, committed):
    p = part(root, "language_identified", 1)
    p.write_bytes(p.read_bytes()[:1000])
    b = balance(root / "deduplicated" / SOURCE / DUMP, p.parent)
    assert not b["passed"] and p.name in b["error"]
    assert lid(root)["ran"] == 1
    assert snapshot(root) == snapshot(committed)


def test_a_manifest_path_leaving_its_partition_is_refused(root, committed):
    d = root / "deduplicated" / SOURCE / DUMP
    m = json.loads((d / MANIFEST).read_text())
    m["files"][0]["output"] = "../../../raw_documents/c4/en/" + m["files"][0]["output"]
    (d / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(CorruptManifestError, match=f"{d / MANIFEST}.*leaves|{d / MANIFEST}.*not a file"):
        lid(root)
    assert dedup(root)["ran"] == 2  # rebuilt by its stage
    assert lid(root)["ran"] == 0
    assert snapshot(root) == snapshot(committed)


def test_a_truncated_manifest_is_named_and_rebuilt_from_done_records(root, committed):
    d = root / "raw_documents" / SOURCE / DUMP
    (d / MANIFEST).write_bytes((d / MANIFEST).read_bytes()[:300])
    with pytest.raises(CorruptManifestError) as e:
        dedup(root)
    assert str(d / MANIFEST) in str(e.value) and "rematerialize" in str(e.value)
    logs = []
    s = curation.ingest(E, root, SAMPLES, SOURCE, DUMP, log=logs.append)
    assert s["files_read"] == 0  # every unit's _done/ record still holds: nothing is read again
    assert any(str(d / MANIFEST) in line and "rebuilding" in line for line in logs)
    assert snapshot(root) == snapshot(committed)


def test_temporaries_of_killed_runs_are_removed_by_the_next_run_in_every_stage(root):
    left = []
    for asset in ("raw_documents", "deduplicated", "language_identified"):
        for d in (root / asset / SOURCE / DUMP, root / "dropped" / asset / SOURCE / DUMP):
            t = d / ".part-0123abcd.parquet.tmp-4242-deadbeef"
            t.write_bytes(b"half a file")
            left.append(t)
    ingest(root), dedup(root), lid(root)
    assert [t for t in left if t.exists()] == []
