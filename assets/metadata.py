"""Dagster's standard metadata for our assets, in one place every stage module uses.

    from assets import metadata as md
    md.table(rows)                        # {"dagster/row_count": n, "dagster/column_schema": ...}
    md.table_value(rows)                  # a TableMetadataValue: sortable rows in the UI, not markdown
    md.schema({"source": "string", "tokens": "int"})
    md.report(path)                       # {"report": path, "report_url": http://127.0.0.1:8787/... URL}
    md.rounded({"loss": 2.123456789})     # floats rounded for the UI (exact values stay in the JSON files)

The UI reads `dagster/row_count` (the row count column of the catalog and its history plot) and
`dagster/column_schema` (the Columns tab) by name; everything else is ours.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import dagster as dg

from pipelines import version

DIGITS = 4          # significant enough for losses and win rates, short enough to read
# Files listed per step of a partition's lineage in its metadata: the event stays a few KB at 80,000 files
# per partition (`llama-pipeline lineage ASSET/SOURCE/DUMP` lists them all).
LINEAGE_FILES = 20


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


def schema(columns: Mapping[str, str], descriptions: Mapping[str, str] | None = None) -> dg.TableSchema:
    """A TableSchema from {column: type name}."""
    descriptions = descriptions or {}
    return dg.TableSchema(columns=[dg.TableColumn(name, type=kind, description=descriptions.get(name))
                                   for name, kind in columns.items()])


def schema_of_rows(rows: Iterable[Mapping[str, Any]]) -> dg.TableSchema:
    """The schema of rows of plain values: columns in first-seen order, the type of the first non-None value."""
    kinds: dict[str, str] = {}
    for r in rows:
        for k, v in r.items():
            if kinds.get(k) in (None, "none") and v is not None:
                kinds[k] = _type_of(v)
            kinds.setdefault(k, "none")
    return schema({k: ("string" if v == "none" else v) for k, v in kinds.items()})


def schema_of_arrow(arrow_schema) -> dg.TableSchema:
    """A TableSchema from a pyarrow schema (Parquet files)."""
    return schema({f.name: str(f.type) for f in arrow_schema})


def clean(value: Any, digits: int = DIGITS) -> Any:
    """Floats rounded to `digits` decimals (NaN/inf -> None), recursively through dicts and lists."""
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v, digits) for v in value]
    return value


def rounded(values: Mapping[str, Any], digits: int = DIGITS) -> dict[str, Any]:
    """Metadata entries with every plain float rounded (MetadataValue objects pass through)."""
    return {k: v if isinstance(v, (dg.MetadataValue, dg.TableSchema)) or not isinstance(v, (float, dict, list))
            else clean(v, digits) for k, v in values.items()}


def table_value(rows: list[Mapping[str, Any]], table_schema: dg.TableSchema | None = None,
                digits: int = DIGITS) -> dg.TableMetadataValue:
    """Rows as a TableMetadataValue (floats rounded, None where a value is missing)."""
    rows = [{str(k): clean(v, digits) for k, v in r.items()} for r in rows]
    return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in rows],
                                  schema=table_schema or schema_of_rows(rows))


def table(rows: list[Mapping[str, Any]] | None = None, row_count: int | None = None,
          table_schema: dg.TableSchema | None = None) -> dict[str, Any]:
    """The standard entries of a tabular asset: its row count and its column schema."""
    out: dict[str, Any] = {}
    n = row_count if row_count is not None else (len(rows) if rows is not None else None)
    if n is not None:
        out["dagster/row_count"] = dg.MetadataValue.int(int(n))
    if table_schema is None and rows:
        table_schema = schema_of_rows(rows)
    if table_schema is not None:
        out["dagster/column_schema"] = table_schema
    return out


def path(p: str | Path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(p))


def report(html: str | Path, key: str = "report") -> dict[str, dg.MetadataValue]:
    """A report file as a path and as a URL the UI opens: http://127.0.0.1:$LLAMA_REPORTS_PORT/... where
    `llama-pipeline reports` serves the reports folder (common/report_server.py); file:// for a file
    outside a `reports/` folder (a browser does not open file:// links from an http page)."""
    from common.report_server import report_url

    p = Path(html).resolve()
    return {key: dg.MetadataValue.path(str(p)), f"{key}_url": dg.MetadataValue.url(report_url(p) or p.as_uri())}


def code_version(asset_module: str | Path, stage=None, roots: Iterable[str] = (), **data: Any) -> str:
    """The Dagster code_version of an asset, derived (pipelines/version.py), never typed: the asset
    module's bytes with, for a curation stage, that stage's version (code closure, every source's recipe,
    models), else the closure of the project modules the asset module imports and of `roots` (the
    entry points it launches by name, e.g. llama_model.train); plus `data`, the profile
    fields the asset reads. Any edit of these marks the asset (and so its descendants) stale in the UI."""
    if stage is not None:
        return version.digest_of({"file": version.file_digest(asset_module), "stage": stage.version(), "data": data})
    return version.file_version(asset_module, roots=roots, **data)


def data_version(manifest: Mapping[str, Any]) -> dg.DataVersion:
    """A partition's data version: the digest of the files its manifest commits (kept and dropped), so a
    rerun that writes the same bytes leaves its descendants up to date, and any other bytes mark them stale."""
    from pipelines.partition import data_version as digest

    return dg.DataVersion(digest(manifest))


def profile_fields(section: Any, *names: str) -> dict[str, Any]:
    """{name: value} of the profile fields an asset reads (a dataclass section: profile.data, ...)."""
    import dataclasses

    values = dataclasses.asdict(section)
    return {n: values[n] for n in names} if names else values


def resolved_config(profile) -> dict[str, dg.MetadataValue]:
    """The profile a stage trained with, every field (after LLAMA_CONFIG and its overrides), and the file."""
    import os

    from llama_model.config_file import resolved

    out = {"resolved config": dg.MetadataValue.json(resolved(profile))}
    if os.environ.get("LLAMA_CONFIG"):
        out["config file"] = dg.MetadataValue.path(os.environ["LLAMA_CONFIG"])
    return out
