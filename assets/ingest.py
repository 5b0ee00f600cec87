"""Ingest stage: `raw_documents`, one partition per LLaMA source, read from the native dumps.

    dagster asset materialize -m assets.definitions --select raw_documents --partition wikipedia
"""

import warnings

import dagster as dg

from assets.partitions import source_partitions
from pipelines.readers.ingest import check_accounting, ingest_source
from resources import ArtifactStorage, DumpsResource

ASSET = "raw_documents"


def _preview_md(preview: list[dict]) -> str:
    rows = ["| id | title / url | text |", "|---|---|---|"]
    for d in preview:
        text = d["text"].replace("\n", " ").replace("|", "\\|")[:200]
        label = (d["title"] or d["url"] or d["origin"] or "").replace("|", "\\|")
        rows.append(f"| `{d['id']}` | {label} | {text}… |")
    return "\n".join(rows)


@dg.asset(partitions_def=source_partitions, group_name="ingest", kinds={"python", "parquet"}, code_version="1")
def raw_documents(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                  dumps: DumpsResource) -> dg.MaterializeResult:
    """Documents read from one source's native dumps (WARC/WET, json.gz, XML, LaTeX, ...), as Parquet."""
    source = context.partition_key
    s = ingest_source(source, dumps.source_dir(source), storage.path(ASSET, source),
                      storage.path("dropped", ASSET, source), log=context.log.info)
    context.log.info(f"{source}: {s['documents']} documents, {s['skipped']} skipped {s['skipped_by_reason']}")
    return dg.MaterializeResult(metadata={
        "documents": s["documents"],
        "records_read": s["records_read"],
        "bytes": s["bytes"],
        "skipped": s["skipped"],
        "skipped_by_reason": dg.MetadataValue.json(s["skipped_by_reason"]),
        "notes": dg.MetadataValue.json(s["notes"]),
        "seconds": s["seconds"],
        "docs_per_s": s["docs_per_s"],
        "mb_per_s": s["mb_per_s"],
        "shards": s["shards"],
        "path": dg.MetadataValue.path(str(storage.path(ASSET, source))),
        "preview": dg.MetadataValue.md(_preview_md(s["preview"])),
    })


def raw_documents_accounting(context: dg.AssetCheckExecutionContext, storage: ArtifactStorage) -> dg.AssetCheckResult:
    """Every record read is either a written document or a skipped record with its reason."""
    source = context.partition_key
    ok, info = check_accounting(storage.path(ASSET, source), storage.path("dropped", ASSET, source))
    return dg.AssetCheckResult(passed=ok, metadata={k: (dg.MetadataValue.json(v) if isinstance(v, dict) else v)
                                                    for k, v in info.items()})


# Partitioned asset checks are a preview feature in Dagster 1.13: the warning says so at every import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    raw_documents_accounting = dg.asset_check(asset=raw_documents, partitions_def=source_partitions,
                                              blocking=True)(raw_documents_accounting)


ASSETS: list = [raw_documents]
CHECKS: list = [raw_documents_accounting]
