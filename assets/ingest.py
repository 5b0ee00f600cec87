"""Ingest stage: `raw_documents`, one partition per dump (`<source>/<dump>`), read from the native files.

    dagster asset materialize -m assets.definitions --select raw_documents --partition wikipedia/20220701
"""

import os
import warnings

import dagster as dg

from assets import metadata as md
from assets.partitions import dump_partitions, key_parts
from llama_model.configs import get_profile
from pipelines import curation
from pipelines.document import RAW_SCHEMA
from pipelines.engine import get_engine
from pipelines.lineage import partition_lineage
from pipelines.partition import committed_data_version
from pipelines.readers.idcheck import duplicate_ids, partition_files
from pipelines.readers.ingest import check_accounting, explain_version
from resources import ArtifactStorage, DumpsResource, ProfileResource

ASSET = "raw_documents"


def _preview_md(preview: list[dict]) -> str:
    rows = ["| id | title / url | text |", "|---|---|---|"]
    for d in preview:
        text = d["text"].replace("\n", " ").replace("|", "\\|")[:200]
        label = (d["title"] or d["url"] or d["origin"] or "").replace("|", "\\|")
        rows.append(f"| `{d['id']}` | {label} | {text}… |")
    return "\n".join(rows)


def allow_empty() -> bool:
    return os.environ.get("LLAMA_ALLOW_EMPTY", "") not in ("", "0", "false", "no")


@dg.asset(partitions_def=dump_partitions, group_name="ingest", kinds={"python", "parquet"},
          code_version=md.code_version(__file__, curation.INGEST,
                                       reader_limits=get_profile().data.reader_limits),
          pool="curation")
def raw_documents(context: dg.AssetExecutionContext, storage: ArtifactStorage,
                  dumps: DumpsResource, profile: ProfileResource) -> dg.MaterializeResult:
    """Documents read from one dump's native files (WARC/WET, json.gz, XML, LaTeX, ...), one task per file."""
    source, dump = key_parts(context)
    dumps.dump_dir(source, dump)  # a clear error when the folder is gone
    s = curation.ingest(get_engine(), storage.root_path, dumps.root_path, source, dump, log=context.log.info,
                        allow_empty=allow_empty(), limits=profile.get().data.reader_limits)
    for name in s["files_without_records"]:
        context.log.warning(f"{source}/{dump}: dump file {name} holds no records")
    context.log.info(f"{source}/{dump}: {s['documents']} documents, {s['skipped']} skipped "
                     f"{s['skipped_by_reason']} ({s['files_read']} files read, {s['files_unchanged']} unchanged)")
    # Its files' hashes make the version, the manifest read as a stream.
    version = dg.DataVersion(committed_data_version(storage.path(ASSET, source, dump)))
    return dg.MaterializeResult(data_version=version, metadata={
        "dagster/row_count": s["documents"],
        "documents": s["documents"],
        "records_read": s["records_read"],
        "bytes": s["bytes"],
        "skipped": s["skipped"],
        "skipped_by_reason": dg.MetadataValue.json(s["skipped_by_reason"]),
        "notes": dg.MetadataValue.json(s["notes"]),
        "files": s["files"], "files_read": s["files_read"], "files_unchanged": s["files_unchanged"],
        "files_without_records": dg.MetadataValue.json(s["files_without_records"]),
        "seconds": s["seconds"],
        "docs_per_s": s["docs_per_s"],
        "mb_per_s": s["mb_per_s"],
        "path": dg.MetadataValue.path(str(storage.path(ASSET, source, dump))),
        "preview": dg.MetadataValue.md(_preview_md(s["preview"])),
        "dagster/column_schema": md.schema_of_arrow(RAW_SCHEMA),
        "stage_version": dg.MetadataValue.json(explain_version(source, profile.get().data.reader_limits)),
        "lineage": dg.MetadataValue.json(partition_lineage(storage.root_path, ASSET, source, dump, dumps.root_path,
                                                           max_files=md.LINEAGE_FILES)),
        **_sites(source, dumps.root_path / source / dump),
    })


def _sites(source: str, dump_dir) -> dict:
    """StackExchange: the sites kept (the recipe's largest N by Posts.xml size)."""
    if source != "stackexchange":
        return {}
    from pipelines.readers.stackexchange import select_sites

    return {"sites_kept": dg.MetadataValue.json(select_sites(dump_dir))}


def raw_documents_accounting(context: dg.AssetCheckExecutionContext, storage: ArtifactStorage) -> dg.AssetCheckResult:
    """Every record read is either a written document or a skipped record with its reason, per file."""
    source, dump = key_parts(context)
    ok, info = check_accounting(storage.path(ASSET, source, dump))
    return dg.AssetCheckResult(passed=ok, metadata={k: (dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v)
                                                    for k, v in info.items()})


def raw_documents_unique_ids(context: dg.AssetCheckExecutionContext, storage: ArtifactStorage) -> dg.AssetCheckResult:
    """No id is used twice among the partition's documents and skipped records (ids are 128-bit hashes of
    source, dump, file and record key; a reader reusing an origin, or a collision, fails this)."""
    source, dump = key_parts(context)
    ok, info = duplicate_ids(partition_files(storage.path(ASSET, source, dump), with_dropped=True))
    return dg.AssetCheckResult(passed=ok, metadata={k: (dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v)
                                                    for k, v in info.items()})


# Partitioned asset checks are a preview feature in Dagster 1.13: the warning says so at every import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)
    raw_documents_accounting = dg.asset_check(asset=raw_documents, partitions_def=dump_partitions,
                                              blocking=True)(raw_documents_accounting)
    raw_documents_unique_ids = dg.asset_check(asset=raw_documents, partitions_def=dump_partitions,
                                              blocking=True)(raw_documents_unique_ids)


ASSETS: list = [raw_documents]
CHECKS: list = [raw_documents_accounting, raw_documents_unique_ids]
