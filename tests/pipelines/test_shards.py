"""Binary token shards: layout, BOS…EOS documents, determinism across worker counts, bad input."""
import json

import numpy as np
import pyarrow as pa
import pytest
from tokens_corpus import write_corpus

from pipelines import tokenizer_training as tt
from pipelines.document import SOURCES
from pipelines.partition import write_partition
from pipelines.shards import ShardWriter, build_token_shards, read_manifest, read_shard, token_dtype

UNKNOWN_DOC = "\U00013000\U00013001\U00013002" * 5   # only characters no vocabulary holds


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    qf = write_corpus(root, {s: 16 for s in SOURCES if s != "arxiv"} | {"arxiv": 0})
    dirs = {s: qf / s for s in SOURCES}
    model = root / "tokenizer.model"
    tt.build_tokenizer(dirs, model, vocab_size=400, max_chars=100_000, val_fraction=0.1)
    # Added after training the tokenizer: a document of only unknown characters and a null text.
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("text", pa.string())])
    write_partition(qf / "commoncrawl" / "d2", root / "dropped" / "d2",
                    [pa.Table.from_pylist([{"id": "unk", "source": "commoncrawl", "text": UNKNOWN_DOC},
                                           {"id": "null", "source": "commoncrawl", "text": None}], schema=schema)],
                    schema)
    out = root / "out1"
    result = build_token_shards(dirs, model, out, token_budget=30_000, val_fraction=0.1, workers=1)
    return root, dirs, model, out, result


def test_layout_and_manifest(setup):
    root, dirs, model, out, result = setup
    manifest = read_manifest(out)
    assert manifest.schema.names == ["shard", "split", "source", "documents", "tokens", "epochs", "dtype"]
    rows = manifest.to_pylist()
    train = {r["source"]: r for r in rows if r["split"] == "train"}
    val = {r["source"]: r for r in rows if r["split"] == "val"}
    assert set(train) == set(val) == set(SOURCES) - {"arxiv"}
    assert sum(r["tokens"] for r in train.values()) == 30_000 - result.mixture[5]["target_tokens"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == 400
    assert any("arxiv" in n and "empty" in n for n in result.notes)
    assert train["commoncrawl"]["epochs"] > 1   # every commoncrawl document, the unknown-character one too
    assert result.skips == {"commoncrawl: null text": 1}
    for r in rows:
        tokens, offsets = read_shard(out, r["shard"], r["dtype"])
        assert len(tokens) == r["tokens"] and len(offsets) == r["documents"] + 1
        starts, ends = offsets[:-1], offsets[1:]
        assert (tokens[starts] == 1).all()                      # every document opens with BOS
        assert (tokens[ends[:-1] - 1] == 2).all()               # ... and closes with EOS (the last may be cut)
        if r["split"] == "val":
            assert tokens[-1] == 2


def test_val_shards_decode_to_the_held_out_documents(setup):
    root, dirs, model, out, _ = setup
    sp = tt.load(model)
    for source in ("wikipedia", "github"):
        tokens, offsets = read_shard(out, f"val/{source}-00000", "uint16")
        docs = [sp.decode(tokens[a:b].tolist()) for a, b in zip(offsets[:-1], offsets[1:])]
        assert docs == list(tt.iter_val_texts(dirs[source], 0.1))


def test_unknown_characters_document_round_trips(setup):
    root, dirs, model, out, _ = setup
    sp = tt.load(model)
    ids = sp.encode(UNKNOWN_DOC)
    assert 0 not in ids and all(sp.is_byte(i) or sp.id_to_piece(i) == "\u2581" for i in ids)
    found = False
    for r in read_manifest(out).to_pylist():
        if r["source"] != "commoncrawl":
            continue
        tokens, offsets = read_shard(out, r["shard"], r["dtype"])
        for a, b in zip(offsets[:-1], offsets[1:]):
            if sp.decode(tokens[a:b].tolist()) == UNKNOWN_DOC:
                found = True
    assert found


def test_parallel_workers_write_identical_bytes(setup):
    root, dirs, model, out, _ = setup
    other = root / "out2"
    build_token_shards(dirs, model, other, token_budget=30_000, val_fraction=0.1, workers=2)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    for f in files:
        assert (out / f).read_bytes() == (other / f).read_bytes(), f


def test_failed_build_leaves_nothing(setup, tmp_path):
    root, dirs, model, _, _ = setup
    bad = dict(dirs)
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("text", pa.string())])
    m = write_partition(tmp_path / "c4" / "d1", tmp_path / "c4" / "dropped", [schema.empty_table()], schema)
    (tmp_path / "c4" / "d1" / m["files"][0]["output"]).write_text("not parquet")
    bad["c4"] = tmp_path / "c4"
    out = tmp_path / "shards"
    with pytest.raises(Exception, match="part-00000|Parquet|magic"):
        build_token_shards(bad, model, out, token_budget=1000, val_fraction=0.1, workers=1)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["c4"]


def test_shard_writer_rolls_over_at_document_boundaries(tmp_path):
    w = ShardWriter(tmp_path, "train", "c4", token_dtype(70_000), shard_tokens=10)
    assert w.dtype == np.uint32
    flat = np.arange(1, 25, dtype=np.int64) + 65_535
    w.write(flat, np.array([4, 4, 4, 12]))
    rows = w.close()
    assert [(r["documents"], r["tokens"]) for r in rows] == [(3, 12), (1, 12)]
    tokens, offsets = read_shard(tmp_path, rows[1]["shard"], "uint32")
    assert tokens.tolist() == flat[12:].tolist() and offsets.tolist() == [0, 12]
