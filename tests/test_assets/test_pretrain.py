"""base_model: launched through Pipes (subprocess), publishes Meta-layout weights + metrics + loss plot,
and re-materializing with the same inputs gives byte-identical weights (CPU)."""
import json

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.pretrain import PretrainConfig, base_model
from llama_model.checkpoint import load_meta
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

OVERRIDES = ["model.dim=32", "model.n_layers=1", "model.vocab_size=64", "model.multiple_of=16",
             "train.seq_len=16", "train.batch_tokens=64", "train.micro_batch=4", "train.warmup_steps=1",
             "train.lr=0.01"]


def write_shards(root, vocab=64):
    rng = np.random.default_rng(0)
    rows = []
    for split, n in (("train", 2000), ("val", 300)):
        for source in ("wikipedia", "github"):
            name = f"{split}/{source}-00000"
            toks = ((rng.integers(3, vocab) + np.arange(n)) % (vocab - 3) + 3).astype(np.uint16)
            (root / split).mkdir(parents=True, exist_ok=True)
            toks.tofile(root / f"{name}.bin")
            rows.append({"shard": name, "split": split, "source": source, "documents": 1, "tokens": n})
    pq.write_table(pa.Table.from_pylist(rows), root / "manifest.parquet")
    (root / "meta.json").write_text(json.dumps({"dtype": "uint16", "vocab_size": vocab}))


def materialize(data_dir, steps):
    return dg.materialize(
        [base_model], instance=dg.DagsterInstance.ephemeral(),
        resources={"storage": ArtifactStorage(root=str(data_dir)), "profile": ProfileResource(name="tiny"),
                   "launcher": TrainingLauncher(mode="subprocess")},
        run_config=dg.RunConfig({"base_model": PretrainConfig(steps=steps, overrides=OVERRIDES, eval_batches=1)}))


@pytest.mark.slow
def test_base_model_trains_through_pipes_and_is_reproducible(data_dir):
    write_shards(data_dir / "token_shards")
    result = materialize(data_dir, steps=8)
    assert result.success
    out = data_dir / "base_model"
    assert {"consolidated.00.pth", "params.json", "metrics.jsonl", "summary.json", "loss_curve.png"} <= \
        {p.name for p in out.iterdir()}
    md = result.asset_materializations_for_node("base_model")[0].metadata
    assert md["tokens_seen"].value == 8 * 64
    assert md["final_loss"].value < md["first_loss"].value
    assert {"val_ppl/wikipedia", "val_ppl/github", "val_ppl/all"} <= set(md)
    assert md["loss_curve"].value.startswith("![loss](data:image/png;base64,")
    assert "val loss" in [c.name for c in md["validation"].schema.columns]
    assert "validation perplexity (1 batch)" in [c.name for c in md["validation"].schema.columns]   # the test runs 1
    assert md["resolved config"].value["profile"] == "tiny" and "lr" in md["resolved config"].value["train"]
    assert (out / "tensorboard").is_dir() and any((out / "tensorboard").iterdir())   # event files beside metrics.jsonl
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == ["loss_decreases"] and checks[0].passed
    model, args = load_meta(out)
    assert args.dim == 32 and args.n_layers == 1
    assert not (data_dir / "runs" / "base_model").exists() or not any((data_dir / "runs" / "base_model").iterdir())

    weights = (out / "consolidated.00.pth").read_bytes()
    assert materialize(data_dir, steps=8).success
    assert (out / "consolidated.00.pth").read_bytes() == weights


def test_base_model_without_shards_names_the_missing_asset(data_dir):
    with pytest.raises(FileNotFoundError, match="materialize token_shards first"):
        materialize(data_dir, steps=1)
