"""End to end: the whole graph materializes on the tiny profile and the bundled samples, every check passes."""

import dagster as dg
import pytest

pytestmark = pytest.mark.slow


def test_whole_graph_tiny(data_dir, monkeypatch):
    monkeypatch.setenv("LLAMA_PROFILE", "tiny")
    monkeypatch.delenv("LLAMA_DUMPS_DIR", raising=False)
    import importlib

    import assets.definitions as definitions

    defs = importlib.reload(definitions).defs  # resources read the environment when Definitions is built
    from assets.demo import run_all

    instance = dg.DagsterInstance.ephemeral()
    summary = run_all(defs, instance, log=lambda *_: None)
    assert summary["checks_failed"] == []

    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        pdef = graph.get(key).partitions_def
        if pdef is None:
            assert instance.get_latest_materialization_event(key) is not None, key
        else:
            done = instance.get_materialized_partitions(key)
            assert done, f"{key.to_user_string()} has no materialized partition"

    # Every source made it through ingestion with documents.
    from pipelines.document import SOURCES
    from pipelines.io import read_parquet_dir

    for source in SOURCES:
        assert read_parquet_dir(data_dir / "raw_documents" / source, columns=["id"]).num_rows > 0, source
