"""`llama-pipeline lineage`: from a partition down to its upstream manifests and the dump files' sha256."""
import hashlib
import json

from assets.cli import main
from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.partition import data_version, read_manifest
from pipelines.samples import bundled_dumps_dir


def test_lineage_of_a_partition_reaches_the_dump_files(tmp_path, capsys):
    e, root = LocalEngine(1), tmp_path / "data"
    curation.ingest(e, root, bundled_dumps_dir(), "c4", "en")
    curation.dedup(e, root, "c4", "en", MinHashParams())
    curation.map_stage(e, root, "deduplicated", "language_identified", "c4", "en", curation.LID)

    assert main(["lineage", "language_identified/c4/en", "--data-dir", str(root), "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    chain = [tree, tree["upstream"], tree["upstream"]["upstream"]]
    assert [n["asset"] for n in chain] == ["language_identified", "deduplicated", "raw_documents"]
    for n in chain:
        m = read_manifest(root / n["asset"] / "c4" / "en")
        assert n["version"] == m["version"] and n["data_version"] == data_version(m)
    assert chain[0]["version"] == curation.LID.version("c4")
    dump = bundled_dumps_dir() / "c4" / "en"
    assert {f["input"]: f["dump_file_sha256"] for f in chain[2]["files"]} == \
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in dump.iterdir()}

    assert main(["lineage", "language_identified/c4/en", "--data-dir", str(root)]) == 0
    text = capsys.readouterr().out
    assert str(root / "raw_documents" / "c4" / "en" / "_manifest.json") in text and "dump file sha256" in text

    # Bounded, as in an asset's metadata: the first file per step, the others counted.
    from pipelines.lineage import partition_lineage, render
    short = partition_lineage(root, "language_identified", "c4", "en", bundled_dumps_dir(), max_files=1)
    steps = [short, short["upstream"], short["upstream"]["upstream"]]
    assert [len(n["files"]) for n in steps] == [1, 1, 1]
    assert [n["files_omitted"] for n in steps] == [len(n["files"]) - 1 for n in chain]
    assert steps[2]["files"][0] == chain[2]["files"][0]
    assert f"... and {len(chain[0]['files']) - 1:,} more files" in render(short)


def test_lineage_of_a_training_asset_walks_the_asset_graph(tmp_path, capsys):
    assert main(["lineage", "token_shards", "--data-dir", str(tmp_path), "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["asset"] == "token_shards" and len(tree["code_version"]) == 16
    names = {u["asset"] for u in tree["upstream"]}
    assert names == {"quality_filtered", "tokenizer"}
    assert main(["lineage", "no_such_asset", "--data-dir", str(tmp_path)]) == 1
    assert "no asset 'no_such_asset'" in capsys.readouterr().err
