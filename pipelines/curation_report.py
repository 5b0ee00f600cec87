"""DuckDB queries over the curation outputs: drops per source, stage and reason; what is left per source."""
from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines.fs import as_path, register_parquet
from pipelines.partition import committed_files

STAGES = ("deduplicated", "language_identified", "quality_filtered")


def _files(directory: Path, which: str = "output") -> list:
    return committed_files(directory, which)


def _sql(sql: str, **views: list) -> list[tuple]:
    """Run `sql` with each keyword a view over Parquet files (pyarrow datasets when on object storage)."""
    con = duckdb.connect()
    try:
        for name, files in views.items():
            register_parquet(con, name, files)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def drop_table(root: str | Path) -> list[tuple]:
    """[(source, stage, reason, documents, bytes)] over every curation stage's dropped table."""
    root = as_path(root)
    files = [f for s in STAGES for f in _files(root / s, "dropped")]
    if not files:
        return []
    return _sql("""SELECT source, stage, reason, count(*)::BIGINT AS documents, coalesce(sum(bytes), 0)::BIGINT AS bytes
                   FROM drops GROUP BY ALL ORDER BY source, stage, documents DESC, reason""", drops=files)


def kept_table(root: str | Path) -> list[tuple]:
    """[(source, raw documents, curated documents, curated bytes)]."""
    root = as_path(root)
    out = []
    base = root / "quality_filtered"
    for src_dir in sorted(p for p in (base.iterdir() if base.is_dir() else []) if p.is_dir()):
        files = _files(src_dir)
        raw = _files(root / "raw_documents" / src_dir.name)
        if not files:
            continue
        n, b = _sql("SELECT count(*), coalesce(sum(strlen(text)), 0)::BIGINT FROM kept", kept=files)[0]
        n_raw = _sql("SELECT count(*) FROM raw", raw=raw)[0][0] if raw else 0
        out.append((src_dir.name, int(n_raw), int(n), int(b)))
    return out


# The order in which a CommonCrawl page meets the rules (pipelines/recipes.py); other reasons follow.
RULE_ORDER = ("null_text", "empty_text", "exact_duplicate", "near_duplicate", "line_dedup_empty", "language",
              "perplexity_tail", "not_wiki_reference")


def rule_shares(root: str | Path, source: str = "commoncrawl") -> list[tuple]:
    """[(stage, rule, documents reaching the rule, kept by it, share kept)] for one source, in the order
    the rules run: what each rule keeps of what reached it."""
    root = as_path(root)
    raw = _files(root / "raw_documents" / source)
    if not raw:
        return []
    n = _sql("SELECT count(*) FROM raw", raw=raw)[0][0]
    drops = {(st, r): d for s, st, r, d, _ in drop_table(root) if s == source}
    order = {r: i for i, r in enumerate(RULE_ORDER)}
    out = []
    for stage in STAGES:
        for (st, rule) in sorted((k for k in drops if k[0] == stage), key=lambda k: (order.get(k[1], 99), k[1])):
            kept = n - drops[(st, rule)]
            out.append((stage, rule, int(n), int(kept), round(kept / n, 4) if n else None))
            n = kept
    return out


if __name__ == "__main__":  # python -m pipelines.curation_report $LLAMA_DATA_DIR [source]
    import sys

    for row in rule_shares(sys.argv[1], *(sys.argv[2:3] or ["commoncrawl"])):
        print("\t".join(map(str, row)))
