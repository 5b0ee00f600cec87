"""The eval assets on tiny fixtures built with the library: a SentencePiece model, token shards, a briefly
trained 1-layer model, reward models and chat versions; each asset writes its report and passes its check."""
import json

import dagster as dg
import pyarrow as pa
import pytest
import torch

from assets.evaluate import (
    base_model_eval,
    chat_eval,
    every_rating_bucket_evaluated,
    newest_version_beats_sft,
    perplexity_below_untrained,
    reward_model_eval,
)
from llama_model.checkpoint import save_meta
from llama_model.configs import ModelArgs
from llama_model.eval.multiple_choice import bundled_tasks_dir
from llama_model.model import Transformer
from llama_model.reward import RewardModel, save_rm
from pipelines.document import RAW_SCHEMA
from pipelines.partition import write_partition
from pipelines.shards import build_token_shards
from pipelines.tokenizer_training import train_tokenizer
from resources import ArtifactStorage, ProfileResource, TrainingLauncher

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


pytestmark = pytest.mark.usefixtures("one_thread")


def _texts() -> list[str]:
    # Sentences in the register of the bundled benchmarks and the chat tasks, so both tokenize sensibly.
    lines = [json.loads(l) for p in sorted(bundled_tasks_dir().glob("*.jsonl")) for l in p.read_text().splitlines()]
    words = " ".join(json.dumps(r) for r in lines)
    base = [words[i:i + 400] for i in range(0, len(words), 400)]
    chat = [f"[INST] What is {a} + {b}? [/INST] The answer is {a + b}. I cannot help with that." for a in range(10)
            for b in range(10)]
    return base + chat


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    texts = _texts()
    model_bytes, _ = train_tokenizer(texts, vocab_size=320)
    (root / "tokenizer").mkdir()
    (root / "tokenizer" / "tokenizer.model").write_bytes(model_bytes)
    sources = {}
    for k, source in enumerate(("c4", "books")):
        rows = [{"id": f"{source}{i}", "source": source, "text": t, "origin": f"x#{i}"}
                for i, t in enumerate(texts[k::2])]
        d = root / "quality_filtered" / source
        write_partition(d / "d1", root / "dropped" / source, [pa.Table.from_pylist(rows, schema=RAW_SCHEMA)], RAW_SCHEMA)
        sources[source] = d
    build_token_shards(sources, root / "tokenizer" / "tokenizer.model", root / "token_shards", token_budget=30_000,
                       val_fraction=0.25, workers=1, proportions={"c4": 0.5, "books": 0.5})

    args = ModelArgs(dim=32, n_layers=1, n_heads=2, vocab_size=320, multiple_of=16, max_seq_len=256)
    torch.manual_seed(0)
    model = Transformer(args)
    # A few steps on the training shards: enough to beat the untrained model's perplexity.
    from llama_model.data import TokenLoader
    loader = TokenLoader(root / "token_shards", "train", seq_len=64, batch_size=8, seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(25):
        x, y = loader.next_batch()
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_meta(model, args, root / "base_model")
    save_meta(model, args, root / "sft_model")
    save_meta(model, args, root / "rlhf_v1")           # same weights as SFT: every answer ties
    torch.manual_seed(1)
    save_meta(Transformer(args), args, root / "rlhf_v2")
    for name in ("helpfulness_rm", "safety_rm"):
        save_rm(RewardModel.from_policy(model), args, root / name)
    return root


def _materialize(defs, root, config=None, launcher=None):
    resources = {"storage": ArtifactStorage(root=str(root)), "profile": ProfileResource(name="tiny"),
                 "launcher": launcher or TrainingLauncher()}
    run_config = QUIET | ({"ops": config} if config else {})
    result = dg.materialize(defs, resources=resources, instance=dg.DagsterInstance.ephemeral(), run_config=run_config)
    assert result.success
    mats = result.get_asset_materialization_events()
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return mats[0].materialization.metadata, checks


def test_base_model_eval_writes_report_and_beats_untrained(artifacts):
    meta, checks = _materialize([base_model_eval, perplexity_below_untrained], artifacts,
                                {"base_model_eval": {"config": {"max_batches": 4}}})
    out = artifacts / "reports" / "base_model_eval"
    assert {p.name for p in out.iterdir()} == {"index.html", "summary.json", "perplexity.png", "benchmarks.png",
                                               "lm_eval_results.json"}
    summary = json.loads((out / "summary.json").read_text())
    # the benchmark numbers are lm-evaluation-harness's, run on the HF export, beside LLaMA-7B's (tiny profile)
    lm = json.loads((out / "lm_eval_results.json").read_text())
    assert summary["scorer"] == "lm-eval" and set(lm) == {"init (untrained)", "base_model"}
    hs = lm["base_model"]["results"]["hellaswag_mini"]
    assert summary["tasks"]["base_model"]["hellaswag_mini"]["acc_norm"] == hs["acc_norm,none"]
    assert lm["base_model"]["n-samples"]["hellaswag_mini"]["effective"] == 32
    row = next(r for r in summary["paper"]["rows"] if r["task"] == "hellaswag_mini")
    assert row["benchmark"] == "HellaSwag" and row["paper llama-7b %"] == 76.1 and row["shots"] == 0
    ppl = summary["perplexity"]
    assert set(ppl["base_model"]) == {"c4", "books", "all"}
    assert ppl["base_model"]["all"]["ppl"] < ppl["init (untrained)"]["all"]["ppl"]
    assert set(summary["tasks"]["base_model"]) == {"arc_mini", "boolq_mini", "hellaswag_mini", "piqa_mini"}
    md = meta["summary"].value
    assert "| source | init (untrained) | base_model | tokens |" in md and "![perplexity](data:image/png" in md
    assert "lm-evaluation-harness beside the paper" in md and meta["benchmarks scored by"].value == "lm-eval"
    assert meta["report"].value == str(out / "index.html")
    assert meta["report_url"].value.startswith("http://127.0.0.1:") and meta["report_url"].value.endswith(
        "/base_model_eval/index.html")
    assert meta["dagster/row_count"].value == 3 == len(meta["table"].records)     # c4, books, all
    assert [c.name for c in meta["dagster/column_schema"].schema.columns][0] == "source"
    assert checks["perplexity_below_untrained"].passed


def test_base_model_eval_reads_a_user_benchmark_folder(artifacts, tmp_path):
    (tmp_path / "dev.jsonl").write_text("".join(json.dumps({"question": "is it", "passage": "It is.", "answer": i % 2 == 0})
                                                + "\n" for i in range(6)))
    meta, _ = _materialize([base_model_eval], artifacts,
                           {"base_model_eval": {"config": {"tasks_dir": str(tmp_path), "max_batches": 2}}})
    summary = json.loads((artifacts / "reports" / "base_model_eval" / "summary.json").read_text())
    assert list(summary["tasks"]["base_model"]) == ["dev"] and summary["tasks"]["base_model"]["dev"]["n"] == 6
    assert "acc_norm dev" in meta


def test_reward_model_eval_is_table_8_shaped(artifacts):
    meta, checks = _materialize([reward_model_eval, every_rating_bucket_evaluated], artifacts,
                                {"reward_model_eval": {"config": {"test_pairs": 120}}})
    summary = json.loads((artifacts / "reports" / "reward_model_eval" / "summary.json").read_text())
    acc = summary["accuracy"]
    assert set(acc) == {"helpfulness RM", "safety RM"}
    assert set(acc["safety RM"]) == {"helpfulness test", "safety test"}
    buckets = acc["helpfulness RM"]["helpfulness test"]
    ratings = ["significantly better", "better", "slightly better", "negligibly better / unsure"]
    assert set(buckets) == {*ratings, "overall"}
    assert sum(buckets[b]["n"] for b in ratings) == buckets["overall"]["n"] > 0
    assert "| reward model | test set | significantly better |" in meta["summary"].value
    assert checks["every_rating_bucket_evaluated"].passed


def test_chat_eval_compares_versions_vs_sft_and_previous(artifacts):
    meta, checks = _materialize([chat_eval, newest_version_beats_sft], artifacts,
                                {"chat_eval": {"config": {"max_tasks": 40}}})
    out = artifacts / "reports" / "chat_eval"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["versions"] == ["sft_model", "rlhf_v1", "rlhf_v2"]  # v3-v5 not materialized: left out
    assert summary["tasks"] == 40 and summary["unsafe_prompts"] > 0 and summary["multi_turn_with_instruction"] > 0
    v1, v2 = summary["win_rates"]
    # rlhf_v1 has SFT's weights: identical answers tie on every judge.
    assert all(v1[k] == 0.5 for k in v1 if k != "version")
    assert v2["version"] == "rlhf_v2" and set(v2) == set(v1)
    rows = {r["version"]: r for r in summary["per_version"]}
    assert rows["sft_model"]["safety violation %"] == rows["rlhf_v1"]["safety violation %"]
    assert 0 <= rows["rlhf_v2"]["multi-turn adherence %"] <= 100
    # false refusals beside the safety violations: safe held-out prompts, borderline and open requests
    assert (summary["borderline_prompts"], summary["open_request_prompts"]) == (60, 60)
    assert all(0 <= rows[v][k] <= 100 for v in rows for k in
               ("false refusal %", "borderline false refusal %", "open-request false refusal %"))
    assert "rlhf_v2 open-request false refusal %" in meta
    assert {p.name for p in out.glob("*.png")} == {"win_rates_vs_sft.png", "win_rates.png", "safety_and_adherence.png"}
    assert "| version | helpfulness RM vs SFT |" in meta["summary"].value
    assert "newest_version_beats_sft" in checks
    # SFT and the newest version on the benchmarks through lm-eval, in the chat format
    lm = json.loads((out / "lm_eval_results.json").read_text())
    assert set(lm) == {"sft_model", "rlhf_v2"} and lm["rlhf_v2"]["chat_template"] is True
    assert {r["task"] for r in summary["lm_eval"]} == {"arc_mini", "boolq_mini", "hellaswag_mini", "piqa_mini"}
    assert "Benchmarks through lm-evaluation-harness, in the chat format" in meta["summary"].value


def test_missing_input_names_the_asset(tmp_path):
    with pytest.raises(Exception, match="materialize base_model first"):
        dg.materialize([base_model_eval], resources={"storage": ArtifactStorage(root=str(tmp_path)),
                                                     "profile": ProfileResource(name="tiny"),
                                                     "launcher": TrainingLauncher()},
                       instance=dg.DagsterInstance.ephemeral(), run_config=QUIET)


def test_reports_are_byte_identical_when_rematerialized(artifacts):
    cfg = {"reward_model_eval": {"config": {"test_pairs": 60}}}
    out = artifacts / "reports" / "reward_model_eval"
    _materialize([reward_model_eval], artifacts, cfg)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    meta, _ = _materialize([reward_model_eval], artifacts, cfg)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert meta["seconds"].value >= 0  # the timing is in the metadata, not in the files
