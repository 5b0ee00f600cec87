"""Assets of the tokens stage: the SentencePiece tokenizer, mixture-weighted token shards, the mixture report.

    dg launch --assets tokenizer,token_shards,mixture_report

All three read every source partition of `quality_filtered`; the logic lives in
pipelines/tokenizer_training.py, pipelines/shards.py and pipelines/mixture.py.
"""

import base64
import os
import time
from pathlib import Path

import dagster as dg

from assets import metadata as md
from common.progress import Progress
from llama_model.configs import get_profile
from pipelines import mixture as mix
from pipelines import tokenizer_training as tt
from pipelines.document import SOURCES
from pipelines.shards import build_token_shards
from resources import ArtifactStorage, ProfileResource

PROFILE = get_profile()
# What the tokenizer, shards and their summary are computed from: this module and what it imports, and
# the data profile (token budget, validation share, tokenizer sample) with the vocabulary size.
VERSION = md.code_version(__file__, data=md.profile_fields(PROFILE.data), vocab_size=PROFILE.model.vocab_size)

GROUP = "tokens"
# The data pipeline's own seed: shards and tokenizer do not change when the training seed does.
DATA_SEED = 0
CURATED = dg.AssetDep("quality_filtered", partition_mapping=dg.AllPartitionMapping())
MAX_WORKERS = 16


def _source_dirs(storage: ArtifactStorage) -> dict:
    return {s: storage.path("quality_filtered", s) for s in SOURCES}


@dg.asset(deps=[CURATED], group_name=GROUP, kinds={"sentencepiece"}, code_version=VERSION)
def tokenizer(context: dg.AssetExecutionContext, storage: ArtifactStorage,
              profile: ProfileResource) -> dg.MaterializeResult:
    """SentencePiece BPE tokenizer (SPEC §2) trained on a mixture-weighted sample of the curated text."""
    p = profile.get()
    out = storage.path("tokenizer", "tokenizer.model")
    base = os.environ.get("LLAMA_BASE_MODEL")
    if base and (Path(base) / "tokenizer.model").is_file():
        # Starting from an existing checkpoint: its tokenizer is the pipeline's, so the token shards, the
        # alignment data and the evaluations encode text the way that model was trained.
        storage.write_bytes((Path(base) / "tokenizer.model").read_bytes(), "tokenizer", "tokenizer.model")
        sp = tt.load(out)
        context.log.info(f"tokenizer: {base}/tokenizer.model (LLAMA_BASE_MODEL), vocabulary {sp.get_piece_size()}")
        return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(out)),
                                              "vocab_size": sp.get_piece_size(), "imported_from": base})
    with Progress("tokenizer (sample, train, measure)", unit="phases", log=context.log.info) as bar:
        r = tt.build_tokenizer(_source_dirs(storage), out, vocab_size=p.model.vocab_size,
                               max_chars=p.data.tokenizer_sample_chars, val_fraction=p.data.val_fraction,
                               seed=DATA_SEED, progress=bar)
    for note in r["notes"]:
        context.log.warning(note)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(out)),
        "vocab_size": r["vocab_size"],
        "training_seconds": round(r["training_seconds"], 3),
        "character_coverage": r["character_coverage"],
        "sample_chars": sum(r["sample_chars"].values()),
        "sample_lines": r["sample_lines"],
        "chars_per_token": md.table_value([{"source": s, "characters per token (held-out)": r["chars_per_token"][s]}
                                           for s in SOURCES],
                                          md.schema({"source": "string", "characters per token (held-out)": "float"})),
        "sample_chars_per_source": dg.MetadataValue.json(r["sample_chars"]),
        "notes": dg.MetadataValue.json(r["notes"]),
    })


def _sp(storage: ArtifactStorage):
    return tt.load(storage.path("tokenizer", "tokenizer.model"))


@dg.asset_check(asset=tokenizer, description="decode(encode(x)) == x on held-out documents of every source "
                                             "and on a probe text in every script")
def tokenizer_round_trip(storage: ArtifactStorage, profile: ProfileResource) -> dg.AssetCheckResult:
    r = tt.held_out_round_trip(_sp(storage), _source_dirs(storage), profile.get().data.val_fraction, DATA_SEED)
    return dg.AssetCheckResult(passed=r["passed"], metadata={
        "per_source": dg.MetadataValue.json(r["per_source"]), "probes": dg.MetadataValue.json(r["probes"]),
        "scripts_seen": ", ".join(r["scripts_seen"]), "notes": dg.MetadataValue.json(r["notes"])})


@dg.asset_check(asset=tokenizer, description="numbers are split into single digits (no piece holds two digits)")
def tokenizer_digits_split(storage: ArtifactStorage) -> dg.AssetCheckResult:
    r = tt.digits_split(_sp(storage))
    return dg.AssetCheckResult(passed=r["passed"], metadata={k: dg.MetadataValue.json(v) if isinstance(v, list) else v
                                                             for k, v in r.items() if k != "passed"})


@dg.asset_check(asset=tokenizer, description="characters outside the vocabulary fall back to UTF-8 bytes, never <unk>")
def tokenizer_byte_fallback(storage: ArtifactStorage) -> dg.AssetCheckResult:
    r = tt.byte_fallback(_sp(storage))
    return dg.AssetCheckResult(passed=r["passed"], metadata={k: v for k, v in r.items() if k != "passed"})


@dg.asset(deps=[tokenizer, CURATED], group_name=GROUP, kinds={"numpy", "parquet"}, code_version=VERSION)
def token_shards(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                 profile: ProfileResource) -> dg.MaterializeResult:
    """Curated documents encoded BOS…EOS into mixture-weighted (SPEC §1) binary shards, val split per source."""
    p = profile.get()
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    t0 = time.perf_counter()
    with Progress("token_shards encoding", unit="docs", log=context.log.info) as bar:
        r = build_token_shards(_source_dirs(storage), storage.path("tokenizer", "tokenizer.model"),
                               storage.path("token_shards"), token_budget=p.data.token_budget,
                               val_fraction=p.data.val_fraction, seed=DATA_SEED, workers=workers, progress=bar)
    seconds = time.perf_counter() - t0
    for note in r.notes:
        context.log.warning(note)
    train = {row["source"]: row for row in r.mixture}
    return dg.MaterializeResult(metadata={
        **md.table(row_count=r.manifest.num_rows, table_schema=md.schema_of_arrow(r.manifest.schema)),
        "path": dg.MetadataValue.path(str(r.out_dir)),
        "dtype": r.dtype,
        "train_tokens": sum(row["achieved_tokens"] for row in r.mixture),
        "val_tokens": sum(r.val_tokens.values()),
        "token_budget": p.data.token_budget,
        "shards": r.manifest.num_rows,
        "workers": r.workers,
        "encoded_tokens": r.encoded_tokens,
        "encode_tokens_per_s": round(r.encoded_tokens / max(r.encode_seconds, 1e-9)),
        "seconds": round(seconds, 3),
        "epochs_per_source": dg.MetadataValue.json({s: round(train[s]["epochs"], 3) for s in train}),
        "val_tokens_per_source": dg.MetadataValue.json(r.val_tokens),
        "notes": dg.MetadataValue.json(r.notes),
        "skipped": dg.MetadataValue.json(r.skips),
    })


# A cheap report: it follows every new token_shards by itself (beside any schedule).
@dg.asset(deps=[token_shards], group_name=GROUP, kinds={"duckdb"}, code_version=VERSION,
          automation_condition=dg.AutomationCondition.eager())
def mixture_report(storage: ArtifactStorage) -> dg.MaterializeResult:
    """Tokens, achieved vs target proportion and epochs per source, from DuckDB over the shard manifest."""
    rows = mix.report_rows(storage.path("token_shards"))
    table = mix.markdown_table(rows)
    png = mix.chart_png(rows, storage.path("mixture_report", "mixture.png"))
    storage.write_text(table + "\n", "mixture_report", "report.md")
    ok, notes = mix.check_proportions(rows)
    image = base64.b64encode(png.read_bytes()).decode()
    return dg.MaterializeResult(metadata={
        **md.table(rows),
        "mixture": md.table_value(rows),
        "report": dg.MetadataValue.md(table + "\n\n" + "\n".join(f"- {n}" for n in notes)),
        "chart": dg.MetadataValue.md(f"![mixture](data:image/png;base64,{image})"),
        "chart_path": dg.MetadataValue.path(str(png)),
        "train_tokens": sum(r["achieved_tokens"] for r in rows),
        "max_abs_deviation_pp": round(max(abs(r["deviation_pp"]) for r in rows), 4),
        "within_tolerance": ok,
    })


@dg.asset_check(asset=mixture_report, description=f"every source's share of training tokens within "
                                                  f"{mix.TOLERANCE_PP} percentage points of SPEC §1")
def mixture_within_tolerance(storage: ArtifactStorage) -> dg.AssetCheckResult:
    rows = mix.report_rows(storage.path("token_shards"))
    ok, notes = mix.check_proportions(rows)
    return dg.AssetCheckResult(passed=ok, metadata={
        "deviation_pp": dg.MetadataValue.json({r["source"]: round(r["deviation_pp"], 4) for r in rows}),
        "notes": dg.MetadataValue.json(notes)})


ASSETS: list = [tokenizer, token_shards, mixture_report]
CHECKS: list = [tokenizer_round_trip, tokenizer_digits_split, tokenizer_byte_fallback, mixture_within_tolerance]
