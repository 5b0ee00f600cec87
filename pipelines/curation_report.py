"""DuckDB queries over the curation outputs: drops per source, stage and reason; what is left per source."""
from __future__ import annotations

import html
from pathlib import Path

import duckdb

from pipelines.fs import as_path, register_parquet
from pipelines.io import write_bytes, write_text
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


# ------------------------------------------------------------------------------------------ HTML page

_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}")


def _table(header: list[str], rows: list) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def per_rule(drops: list[tuple]) -> list[tuple]:
    """[(stage, reason, documents, bytes, sources)] summed over sources, most documents first."""
    acc: dict[tuple, list] = {}
    for source, stage, reason, n, b in drops:
        a = acc.setdefault((stage, reason), [0, 0, set()])
        a[0] += n
        a[1] += b
        a[2].add(source)
    rows = [(st, r, n, b, ", ".join(sorted(srcs))) for (st, r), (n, b, srcs) in acc.items()]
    return sorted(rows, key=lambda r: (STAGES.index(r[0]) if r[0] in STAGES else 99, -r[2], r[1]))


def write_html(out_dir: str | Path, drops: list[tuple], kept: list[tuple], shares: list[tuple],
               truth: dict | None, png: bytes | None) -> Path:
    """reports/curation_report/index.html (+ drops.png): drops per rule and per source, what each source
    keeps, the CommonCrawl rules in order, and the planted-truth recall when the dumps carry a ground truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>curation_report</title><style>{_CSS}"
             "</style></head><body><h1>curation_report</h1>",
             f"<p>{sum(r[3] for r in drops)} documents ({sum(r[4] for r in drops)} bytes) dropped by "
             f"{len(per_rule(drops))} rules over {len({r[0] for r in drops})} sources.</p>"]
    if png:
        write_bytes(out / "drops.png", png)
        parts.append("<img src='drops.png' alt='drops'>")
    parts += ["<h2>Drops per rule</h2>", _table(["stage", "rule", "documents", "bytes", "sources"], per_rule(drops)),
              "<h2>Drops per source</h2>", _table(["source", "stage", "rule", "documents", "bytes"], drops),
              "<h2>Kept per source</h2>",
              _table(["source", "raw documents", "curated documents", "curated bytes"], kept)]
    if shares:
        parts += ["<h2>CommonCrawl: what each rule keeps of what reaches it</h2>",
                  _table(["stage", "rule", "documents reaching it", "kept", "share kept"], shares)]
    if truth:
        parts += ["<h2>Planted truth (the bundled samples' ground_truth.json)</h2>",
                  _table(["measure", "value"], [(k, v) for k, v in truth.items()])]
    parts.append("</body></html>\n")
    return write_text(out / "index.html", "\n".join(parts))


if __name__ == "__main__":  # python -m pipelines.curation_report $LLAMA_DATA_DIR [source]
    import sys

    for row in rule_shares(sys.argv[1], *(sys.argv[2:3] or ["commoncrawl"])):
        print("\t".join(map(str, row)))
