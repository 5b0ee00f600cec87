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

from assets import metadata as md
from assets.ingest import allow_empty
from assets.partitions import dump_partitions, key_parts
from llama_model.configs import get_profile
from pipelines import curation, recipes
from pipelines.dedup.minhash import MinHashParams
from pipelines.dumps import split_key
from pipelines.engine import get_engine
from pipelines.lineage import partition_lineage
from pipelines.partition import committed_files, partition_dirs
from pipelines.quality import train_models
from pipelines.stage import balance, stats_of
from resources import ArtifactStorage, DumpsResource, ProfileResource

GROUP = "curate"
RAW = "raw_documents"
BALANCE = "input_equals_kept_plus_dropped"


_STAGES = {s.asset: s for s in curation.STAGES}
PROFILE = get_profile()


def _column_schema(stage: str):
    return md.schema_of_arrow(_STAGES[stage].schema)


def _metadata(manifest: dict, source: str, stage: str, info: dict, root=None, dump: str = "",
              params: dict | None = None) -> dict:
    s = stats_of(manifest)
    rows = ["| reason | documents | bytes |", "|---|---|---|"]
    rows += [f"| {r} | {n} | {s.bytes_dropped[r]} |" for r, n in sorted(s.dropped.items())]
    return {
        "dagster/row_count": s.kept,
        "dagster/column_schema": _column_schema(stage),
        "documents_in": s.read, "kept": s.kept, "dropped": sum(s.dropped.values()),
        "bytes_in": s.bytes_in, "bytes_kept": s.bytes_kept,
        "files": len(manifest["files"]), "files_run": manifest.get("ran", len(manifest["files"])),
        "drop_reasons": dg.MetadataValue.md("\n".join(rows) if s.dropped else "nothing dropped"),
        "recipe": dg.MetadataValue.md(recipes.markdown(stage, source)),
        "details": dg.MetadataValue.json(json.loads(json.dumps(info, default=str))),
        "utf8_repaired_texts": sum(e.get("utf8_repaired", 0) for e in manifest["files"]),
        "stage_version": dg.MetadataValue.json(_STAGES[stage].explain(source, params)),
        **({"lineage": dg.MetadataValue.json(partition_lineage(root, stage, source, dump, max_files=md.LINEAGE_FILES))} if root else {}),
    }


def _check(storage: ArtifactStorage, upstream: str, asset: str, key: str) -> dg.AssetCheckResult:
    up, _ = partition_dirs(storage.root_path, upstream, *split_key(key))
    out, _ = partition_dirs(storage.root_path, asset, *split_key(key))
    b = balance(up, out)
    return dg.AssetCheckResult(check_name=BALANCE, passed=bool(b["passed"]), metadata=b)


def _log_result(context, asset: str, key: str, manifest: dict) -> None:
    s = stats_of(manifest)
    if s.read and not s.kept:
        context.log.warning(f"every document of {asset}[{key}] was dropped: {dict(s.dropped)}")
    context.log.info(f"{asset}[{key}]: {s.read} in, {s.kept} kept, dropped {dict(s.dropped)}")


def _map_stage(context, storage: ArtifactStorage, upstream: str, asset: str, stage,
               params: dict | None = None) -> dg.MaterializeResult:
    """A per-document stage: one task per upstream file (unchanged files are not run again)."""
    source, dump = key_parts(context)
    m = curation.map_stage(get_engine(), storage.root_path, upstream, asset, source, dump, stage, params,
                           log=context.log.info, allow_empty=allow_empty())
    _log_result(context, asset, context.partition_key, m)
    info = {"steps": recipes.as_dict(source, asset), "files": len(m["files"]), "files_run": m["ran"]}
    for e in m["files"][:1]:
        info.update({k: v for k, v in e.get("info", {}).items() if k != "steps"})
    return dg.MaterializeResult(metadata=_metadata(m, source, asset, info, storage.root_path, dump, params),
                                data_version=md.data_version(m),
                                check_results=[_check(storage, upstream, asset, context.partition_key)])


def _spec(asset: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(BALANCE, asset=asset, description="every input document is kept or dropped, once")]


@dg.asset(partitions_def=dump_partitions, deps=[RAW], group_name=GROUP, kinds={"python", "parquet"},
          code_version=md.code_version(__file__, curation.DEDUP, minhash=md.profile_fields(
              PROFILE.data, "minhash_perms", "minhash_bands", "minhash_ngram")), check_specs=_spec("deduplicated"),
          pool="curation",
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.DEDUP))})
def deduplicated(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                 profile: ProfileResource) -> dg.MaterializeResult:
    """Exact, MinHash LSH near-duplicate and CCNet line dedup of one dump (or against the source's
    earlier dumps, per the recipe's scope), by hash bucket."""
    source, dump = key_parts(context)
    d = profile.get().data
    params = MinHashParams(num_perm=d.minhash_perms, bands=d.minhash_bands, ngram=d.minhash_ngram)
    m = curation.dedup(get_engine(), storage.root_path, source, dump, params, log=context.log.info,
                       allow_empty=allow_empty())
    _log_result(context, "deduplicated", context.partition_key, m)
    return dg.MaterializeResult(metadata=_metadata(m, source, "deduplicated", m.get("info", {}),
                                                   storage.root_path, dump, curation.minhash_params(source, params)),
                                data_version=md.data_version(m), check_results=[_check(storage, RAW, "deduplicated", context.partition_key)])


@dg.asset(partitions_def=dump_partitions, deps=[deduplicated], group_name=GROUP, kinds={"python", "parquet"},
          code_version=md.code_version(__file__, curation.LID), check_specs=_spec("language_identified"),
          pool="curation",
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.LID))})
def language_identified(context: dg.AssetExecutionContext, storage: ArtifactStorage) -> dg.MaterializeResult:
    """fastText lid.176 label and score on every document; drops the languages its recipe excludes."""
    return _map_stage(context, storage, "deduplicated", "language_identified", curation.LID)


def _files_of(storage: ArtifactStorage, asset: str, source: str) -> list:
    return committed_files(storage.path(asset, source))


@dg.asset(deps=[dg.AssetDep(language_identified, partition_mapping=dg.AllPartitionMapping())],
          group_name=GROUP, kinds={"python", "kenlm"},
          code_version=md.code_version(__file__, quality=md.profile_fields(
              PROFILE.data, "quality_seed", "quality_lm_docs", "quality_classifier_docs")))
def quality_models(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                   profile: ProfileResource) -> dg.MaterializeResult:
    """SentencePiece + 5-gram KenLM on Wikipedia, cut-offs at the 30th/60th percentile of the CommonCrawl
    pages' perplexity; the reference classifier (CommonCrawl pages cited by Wikipedia vs random pages).
    Streams every dump's files."""
    d = profile.get().data
    wiki = _files_of(storage, "language_identified", "wikipedia")
    cc = _files_of(storage, "language_identified", "commoncrawl")
    with storage.atomic("quality_models") as tmp:
        manifest = train_models(wiki, cc, tmp, seed=d.quality_seed, max_lm_docs=d.quality_lm_docs,
                                max_classifier_docs=d.quality_classifier_docs, allow_fallbacks=d.quality_fallbacks)
    for k in ("skipped", "lm_backend_note", "classifier_skipped"):
        if manifest.get(k):
            context.log.warning(f"quality models: {manifest[k]}")
    context.log.info(f"quality models: {manifest}")
    keys = ("lm_backend", "lm_docs", "cutoff_docs", "cutoff_source", "wiki_documents", "cited_urls_found", "cited_urls_distinct",
            "cc_pages", "cited_pages_matched", "classifier_positives", "classifier_negatives", "seconds")
    return dg.MaterializeResult(metadata={
        **{k: manifest.get(k) for k in keys if manifest.get(k) is not None},
        "perplexity_cutoffs_p30_p60": dg.MetadataValue.json(manifest["cutoffs"]),
        "classifier_heldout": dg.MetadataValue.json(manifest.get("classifier_heldout")),
        "classifier_folds": len(manifest["classifier"]),
    })


@dg.asset(partitions_def=dump_partitions, deps=[language_identified, quality_models], group_name=GROUP,
          kinds={"python", "parquet"}, code_version=md.code_version(__file__, curation.QUALITY),
          check_specs=_spec("quality_filtered"), pool="curation",
          metadata={"recipes": dg.MetadataValue.md(recipes.markdown(recipes.QUALITY))})
def quality_filtered(context: dg.AssetExecutionContext, storage: ArtifactStorage) -> dg.MaterializeResult:
    """Perplexity buckets and reference classifier (CC), C4 and GitHub heuristics: the curated text."""
    models = storage.path("quality_models")
    # The models' manifest is part of each file's digest: new models rerun every file.
    stamp = (models / "models.json").read_text() if (models / "models.json").is_file() else ""
    return _map_stage(context, storage, "language_identified", "quality_filtered",
                      curation.QUALITY, {"models_dir": str(models), "models_stamp": stamp})


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
          kinds={"duckdb", "python"}, code_version=md.code_version(__file__))
def curation_report(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                    dumps: DumpsResource) -> dg.MaterializeResult:
    """Documents and bytes dropped per source, stage and reason (DuckDB), a plot, and planted-truth scores."""
    from pipelines.curation_report import drop_table, kept_table, rule_shares

    root = storage.root_path
    rows = drop_table(root)
    kept = kept_table(root)
    md = ["| source | stage | reason | documents | bytes |", "|---|---|---|---|---|"]
    md += [f"| {s} | {st} | {r} | {n} | {b} |" for s, st, r, n, b in rows]
    kmd = ["| source | raw documents | curated documents | curated bytes |", "|---|---|---|---|"]
    kmd += [f"| {s} | {n_in} | {n} | {b} |" for s, n_in, n, b in kept]
    rmd = ["| stage | rule | CC documents reaching it | kept | share kept |", "|---|---|---|---|---|"]
    rmd += [f"| {st} | {r} | {n} | {k} | {sh} |" for st, r, n, k, sh in rule_shares(root)]
    png = _plot_png(rows)
    storage.write_bytes(png, "curation_report", "drops.png")
    storage.write_text("\n".join(md) + "\n", "curation_report", "drops.md")
    meta = {
        "drops": dg.MetadataValue.md("\n".join(md)),
        "curated": dg.MetadataValue.md("\n".join(kmd)),
        "commoncrawl_kept_by_rule": dg.MetadataValue.md("\n".join(rmd)),
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
    # The same as an HTML page beside the eval reports (served by `llama-pipeline reports`; local folders only).
    from pathlib import Path

    from assets.metadata import report as report_links
    from pipelines.curation_report import write_html
    # reports/ is local-only: with an s3:// root it lives under LLAMA_LOCAL_DIR, when one is set.
    local = not storage.remote or os.environ.get("LLAMA_LOCAL_DIR")
    report_dir = storage.path("reports", "curation_report") if local else None
    if isinstance(report_dir, Path):
        truth_scores = meta["planted_truth"].value if "planted_truth" in meta else None
        meta |= report_links(write_html(report_dir, rows, kept, rule_shares(root), truth_scores, png))
    return dg.MaterializeResult(metadata=meta)


ASSETS: list = [deduplicated, language_identified, quality_models, quality_filtered, curation_report]
CHECKS: list = []
