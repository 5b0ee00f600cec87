"""The tokens stage on an ephemeral instance: tokenizer, token_shards, mixture_report and their checks."""
import dagster as dg
import pyarrow.parquet as pq
from tokens_corpus import write_corpus

from assets import tokens
from assets.partitions import dump_partitions
from llama_model.data import TokenLoader
from pipelines.document import SOURCES
from resources import ArtifactStorage, ProfileResource

# The curation stage is another module: a spec with its key and partitions stands in for it here.
CURATED = dg.AssetSpec("quality_filtered", partitions_def=dump_partitions)


def _materialize(data_dir):
    return dg.materialize(
        [CURATED, *tokens.ASSETS, *tokens.CHECKS],
        selection=[a.key for a in tokens.ASSETS],
        resources={"storage": ArtifactStorage(root=str(data_dir)), "profile": ProfileResource(name="tiny")},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )


def _checks(result) -> dict:
    return {ev.check_name: ev for ev in result.get_asset_check_evaluations()}


def _meta(result, key: str) -> dict:
    mats = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == key]
    return mats[-1].materialization.metadata


def test_tokens_stage_materializes_and_checks_pass(data_dir):
    write_corpus(data_dir, 30, scale=2)
    result = _materialize(data_dir)
    assert result.success
    checks = _checks(result)
    assert set(checks) == {"tokenizer_round_trip", "tokenizer_digits_split", "tokenizer_byte_fallback",
                           "mixture_within_tolerance"}
    assert all(ev.passed for ev in checks.values()), {k: ev.metadata for k, ev in checks.items() if not ev.passed}

    meta = _meta(result, "tokenizer")
    assert meta["vocab_size"].value == 2048
    assert "commoncrawl" in [r.data["source"] for r in meta["chars_per_token"].records]
    shards = _meta(result, "token_shards")     # Dagster's standard entries: row count and column schema
    assert shards["dagster/row_count"].value == pq.read_metadata(data_dir / "token_shards" / "manifest.parquet").num_rows
    assert "tokens" in [c.name for c in shards["dagster/column_schema"].schema.columns]
    assert (data_dir / "tokenizer" / "tokenizer.model").exists()

    report = _meta(result, "mixture_report")
    assert "data:image/png;base64," in report["chart"].value
    assert report["max_abs_deviation_pp"].value <= 0.5
    assert report["dagster/row_count"].value == len(SOURCES) == len(report["mixture"].records)
    assert (data_dir / "mixture_report" / "report.md").read_text().startswith("| source |")

    loader = TokenLoader(data_dir / "token_shards", "train", seq_len=32, batch_size=2)
    x, y = loader.next_batch()
    assert x.shape == (2, 32) and int(x.max()) < 2048
    assert set(loader.val_sources()) == set(SOURCES)


def test_empty_source_is_reported_not_a_crash(data_dir):
    write_corpus(data_dir, {s: (0 if s == "stackexchange" else 12) for s in SOURCES}, scale=2)
    result = _materialize(data_dir)
    assert result.success
    shards = _meta(result, "token_shards")
    assert any("stackexchange" in n and "empty" in n for n in shards["notes"].value)
    check = _checks(result)["mixture_within_tolerance"]
    assert not check.passed
    notes = check.metadata["notes"].value
    assert any(n.startswith("stackexchange") and "empty source" in n for n in notes)


def test_tokenizer_is_the_base_models_when_one_is_imported(data_dir, tmp_path, monkeypatch):
    from pipelines.tokenizer_training import train_tokenizer

    model_bytes, _ = train_tokenizer(["The river was crossed by a new bridge in 1887."] * 50, vocab_size=300)
    base = tmp_path / "hf_model"
    base.mkdir()
    (base / "tokenizer.model").write_bytes(model_bytes)
    monkeypatch.setenv("LLAMA_BASE_MODEL", str(base))
    result = dg.materialize([tokens.tokenizer], resources={"storage": ArtifactStorage(root=str(data_dir)),
                                                           "profile": ProfileResource(name="tiny")},
                            instance=dg.DagsterInstance.ephemeral())
    assert (data_dir / "tokenizer" / "tokenizer.model").read_bytes() == model_bytes
    meta = _meta(result, "tokenizer")
    assert meta["imported_from"].value == str(base) and meta["vocab_size"].value == 300
