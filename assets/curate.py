"""Assets of the curate stage: raw_documents -> deduplicated -> language_identified -> quality_filtered.

Each per-source asset reads its upstream partition, calls one library function (pipelines.dedup,
pipelines.langid, pipelines.quality), writes kept and dropped rows atomically and reports counts, drop
reasons and the source's recipe (pipelines/recipes.py). Its check re-reads input and outputs from
disk: every input document is kept or dropped, exactly once. `quality_models` trains what
quality_filtered[commoncrawl] needs from other partitions; `curation_report` sums up every drop.
"""

import base64
import io as _io
import json
import os

import dagster as dg

from assets.partitions import source_partitions
from pipelines import recipes
from pipelines.dedup import deduplicate
from pipelines.dedup.minhash import MinHashParams
from pipelines.langid import SCHEMA as LID_SCHEMA
from pipelines.langid import identify_partition
from pipelines.quality import SCHEMA as QUALITY_SCHEMA
from pipelines.quality import filter_partition, train_models
from pipelines.stage import StageResult, balance, read_partition, write_result
from resources import ArtifactStorage, DumpsResource, ProfileResource

GROUP = "curate"
RAW = "raw_documents"
BALANCE = "input_equals_kept_plus_dropped"


def _metadata(result: StageResult, source: str, stage: str, repaired: int) -> dict:
    s = result.stats
    rows = ["| reason | documents | bytes |", "|---|---|---|"]
    rows += [f"| {r} | {n} | {s.bytes_dropped[r]} |" for r, n in sorted(s.dropped.items())]
    return {
        "documents_in": s.read, "kept": s.kept, "dropped": sum(s.dropped.values()),
        "bytes_in": s.bytes_in, "bytes_kept": s.bytes_kept,
        "drop_reasons": dg.MetadataValue.md("\n".join(rows) if s.dropped else "nothing dropped"),
        "recipe": dg.MetadataValue.md(recipes.markdown(stage, source)),
        "details": dg.MetadataValue.json(json.loads(json.dumps(result.info, default=str))),
        "utf8_repaired_texts": repaired,
    }


def _check(storage: ArtifactStorage, upstream: str, asset: str, source: str) -> dg.AssetCheckResult:
    b = balance(storage.path(upstream, source), storage.path(asset, source),
                storage.path("dropped", asset, source))
    return dg.AssetCheckResult(check_name=BALANCE, passed=bool(b["passed"]), metadata=b)


def _stage(context, storage: ArtifactStorage, upstream: str, asset: str, run) -> dg.MaterializeResult:
    source = context.partition_key
    table, repaired = read_partition(storage.path(upstream, source))
    if table.num_rows == 0:
        context.log.warning(f"{upstream}[{source}] is empty: writing an empty {asset}[{source}]")
    result = run(table, source)
    if result.stats.read and not result.stats.kept:
        context.log.warning(f"every document of {asset}[{source}] was dropped: {dict(result.stats.dropped)}")
    write_result(result, storage.root_path, asset, source)
    context.log.info(f"{asset}[{source}]: {result.stats.read} in, {result.stats.kept} kept, "
                     f"dropped {dict(result.stats.dropped)}")
    return dg.MaterializeResult(metadata=_metadata(result, source, asset, repaired),
                                check_results=[_check(storage, upstream, asset, source)])


def _spec(asset: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(BALANCE, asset=asset, description="every input document is kept or dropped, once")]


@dg.asset(partitions_def=source_partitions, deps=[RAW], group_name=GROUP, kinds={"python", "parquet"},
          code_version="1", check_specs=_spec("deduplicated"),
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.DEDUP))})
def deduplicated(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                 profile: ProfileResource) -> dg.MaterializeResult:
    """Exact, MinHash LSH near-duplicate and CCNet line dedup of one source, per its recipe."""
    d = profile.get().data
    params = MinHashParams(num_perm=d.minhash_perms, bands=d.minhash_bands, ngram=d.minhash_ngram)
    workers = min(4, os.cpu_count() or 1)
    tmp = storage.dir("tmp")
    return _stage(context, storage, RAW, "deduplicated",
                  lambda t, s: deduplicate(t, s, params, workdir=tmp, workers=workers))


@dg.asset(partitions_def=source_partitions, deps=[deduplicated], group_name=GROUP, kinds={"python", "parquet"},
          code_version="1", check_specs=_spec("language_identified"),
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.LID))})
def language_identified(context: dg.AssetExecutionContext, storage: ArtifactStorage) -> dg.MaterializeResult:
    """fastText lid.176 label and score on every document; drops the languages its recipe excludes."""
    return _stage(context, storage, "deduplicated", "language_identified",
                  lambda t, s: identify_partition(t, s, LID_SCHEMA))


@dg.asset(deps=[dg.AssetDep(language_identified, partition_mapping=dg.AllPartitionMapping())],
          group_name=GROUP, kinds={"python", "numpy"}, code_version="1")
def quality_models(context: dg.AssetExecutionContext, storage: ArtifactStorage) -> dg.MaterializeResult:
    """Kneser-Ney LM on Wikipedia, CCNet perplexity cut-offs on CommonCrawl, reference classifier."""
    wiki, _ = read_partition(storage.path("language_identified", "wikipedia"))
    cc, _ = read_partition(storage.path("language_identified", "commoncrawl"))
    with storage.atomic("quality_models") as tmp:
        manifest = train_models(wiki, cc, tmp)
    if manifest.get("skipped"):
        context.log.warning(f"quality models not trained: {manifest['skipped']}")
    context.log.info(f"quality models: {manifest}")
    return dg.MaterializeResult(metadata={
        "lm_documents": manifest["lm_docs"], "lm_vocabulary": manifest["lm_vocab"],
        "lm_language": manifest["lm_language"],
        "perplexity_cutoffs_p30_p60": dg.MetadataValue.json(manifest["cutoffs"]),
        "classifier_positives": manifest["classifier_positives"],
        "classifier_negatives": manifest["classifier_negatives"],
        "classifier_folds": len(manifest["classifier"]), "seconds": manifest["seconds"],
    })


@dg.asset(partitions_def=source_partitions, deps=[language_identified, quality_models], group_name=GROUP,
          kinds={"python", "parquet"}, code_version="1", check_specs=_spec("quality_filtered"),
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.QUALITY))})
def quality_filtered(context: dg.AssetExecutionContext, storage: ArtifactStorage) -> dg.MaterializeResult:
    """Perplexity buckets and reference classifier (CC), C4 and GitHub heuristics: the curated text."""
    models = storage.path("quality_models")
    return _stage(context, storage, "language_identified", "quality_filtered",
                  lambda t, s: filter_partition(t, s, models, QUALITY_SCHEMA))


def _plot_png(rows: list[tuple]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = sorted({r[0] for r in rows})
    reasons = sorted({r[2] for r in rows})
    fig, ax = plt.subplots(figsize=(8, 4), dpi=80)
    bottom = [0] * len(sources)
    for reason in reasons:
        vals = [sum(r[3] for r in rows if r[0] == s and r[2] == reason) for s in sources]
        ax.bar(sources, vals, bottom=bottom, label=reason)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("documents dropped")
    ax.set_title("Curation drops per source and reason")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


@dg.asset(deps=[dg.AssetDep(quality_filtered, partition_mapping=dg.AllPartitionMapping())], group_name=GROUP,
          kinds={"duckdb", "python"}, code_version="1")
def curation_report(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                    dumps: DumpsResource) -> dg.MaterializeResult:
    """Documents and bytes dropped per source, stage and reason (DuckDB), a plot, and planted-truth scores."""
    from pipelines.curation_report import drop_table, kept_table

    root = storage.root_path
    rows = drop_table(root)
    kept = kept_table(root)
    md = ["| source | stage | reason | documents | bytes |", "|---|---|---|---|---|"]
    md += [f"| {s} | {st} | {r} | {n} | {b} |" for s, st, r, n, b in rows]
    kmd = ["| source | raw documents | curated documents | curated bytes |", "|---|---|---|---|"]
    kmd += [f"| {s} | {n_in} | {n} | {b} |" for s, n_in, n, b in kept]
    png = _plot_png(rows)
    storage.write_bytes(png, "curation_report", "drops.png")
    storage.write_text("\n".join(md) + "\n", "curation_report", "drops.md")
    meta = {
        "drops": dg.MetadataValue.md("\n".join(md)),
        "curated": dg.MetadataValue.md("\n".join(kmd)),
        "plot": dg.MetadataValue.md(f"![drops](data:image/png;base64,{base64.b64encode(png).decode()})"),
        "documents_dropped": sum(r[3] for r in rows),
        "bytes_dropped": sum(r[4] for r in rows),
    }
    truth = dumps.root_path / "ground_truth.json"
    if truth.is_file():
        from pipelines.curation_eval import evaluate

        scores = evaluate(root, json.loads(truth.read_text()))
        storage.write_text(json.dumps(scores, indent=1), "curation_report", "truth.json")
        meta["planted_truth"] = dg.MetadataValue.json(scores)
        for k in ("exact_recall", "near_recall", "near_precision", "lid_accuracy"):
            meta[k] = float(scores[k])
    return dg.MaterializeResult(metadata=meta)


ASSETS: list = [deduplicated, language_identified, quality_models, quality_filtered, curation_report]
CHECKS: list = []
