"""End to end: the whole graph materializes on the tiny profile and the bundled samples.

Takes about 5 minutes on 2 cores (the same run as `make demo`)."""
import importlib
import json

import dagster as dg
import pytest

from pipelines.document import SOURCES
from pipelines.io import read_parquet_dir

pytestmark = pytest.mark.slow


def test_whole_graph_tiny(data_dir, monkeypatch):
    monkeypatch.setenv("LLAMA_PROFILE", "tiny")
    monkeypatch.delenv("LLAMA_DUMPS_DIR", raising=False)
    import assets.definitions as definitions

    defs = importlib.reload(definitions).defs  # resources read the environment when Definitions is built
    from assets.demo import run_all

    instance = dg.DagsterInstance.ephemeral()
    summary = run_all(defs, instance, log=lambda *_: None)
    assert not summary["checks_failed"], summary["checks_failed"]

    graph = defs.resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        if graph.get(key).partitions_def is None:
            assert instance.get_latest_materialization_event(key) is not None, key
        else:
            assert instance.get_materialized_partitions(key), f"{key.to_user_string()} has no partition"

    # Every source made it through ingestion and curation with documents.
    for source in SOURCES:
        assert read_parquet_dir(data_dir / "raw_documents" / source, columns=["id"]).num_rows > 0, source
        assert read_parquet_dir(data_dir / "quality_filtered" / source, columns=["id"]).num_rows > 0, source

    reports = data_dir / "reports"
    # Pretraining lowers perplexity on every source's held-out tokens.
    ppl = json.loads((reports / "base_model_eval" / "summary.json").read_text())["perplexity"]
    for source, m in ppl["base_model"].items():
        assert m["ppl"] < ppl["init (untrained)"][source]["ppl"], source

    # The helpfulness RM is most accurate on the "significantly better" pairs (Llama 2 Table 8's shape).
    acc = json.loads((reports / "reward_model_eval" / "summary.json").read_text())["accuracy"]
    buckets = acc["helpfulness RM"]["helpfulness test"]
    top = buckets["significantly better"]["acc"]
    # 200 pairs in that bucket: this suite's runs gave 0.89 and 0.90 (a pair or two, with the tests run before it),
    # the demo 0.925; the claim is the shape, well above the 0.5 of chance.
    assert top >= 0.85 and all(b["acc"] is None or b["acc"] <= top for b in buckets.values())

    # Ghost Attention (v3 on) keeps a first-turn instruction better than v2; v5 is no less safe than SFT.
    versions = {v["version"]: v for v in json.loads((reports / "chat_eval" / "summary.json").read_text())["per_version"]}
    assert versions["rlhf_v3"]["multi-turn adherence %"] > versions["rlhf_v2"]["multi-turn adherence %"]
    assert versions["rlhf_v5"]["safety violation %"] <= versions["sft_model"]["safety violation %"]
    # The newest version beats SFT by the program judge (the chat_eval check) and is right more often.
    wins = {r["version"]: r for r in json.loads((reports / "chat_eval" / "summary.json").read_text())["win_rates"]}
    assert wins["rlhf_v5"]["program judge vs SFT"] > 0.5
    assert versions["rlhf_v5"]["success %"] > versions["sft_model"]["success %"]
