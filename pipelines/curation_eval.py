"""Score the curation outputs against a planted ground truth (`ground_truth.json` of the sample dumps).

    python -m pipelines.curation_eval $LLAMA_DATA_DIR pipelines/samples/bundled/ground_truth.json

Reads only the Parquet outputs (raw_documents, the stages and their dropped tables) and prints:
exact-duplicate recall; near-duplicate recall and precision for planted pairs at Jaccard >= 0.8;
LID accuracy on the planted languages; English documents with LID score >= 0.9 dropped by LID;
and how many planted low-quality / bad GitHub / non-permissive / overlapping-book documents were dropped.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from pipelines.dedup.minhash import shingles
from pipelines.partition import committed_files

NEAR = 0.8


def _dropped(root: Path, asset: str) -> list[dict]:
    files = committed_files(root / asset, "dropped")
    if not files:
        return []
    return duckdb.sql(f"SELECT * FROM read_parquet({[str(f) for f in files]})").to_arrow_table().to_pylist()


def _jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = set(shingles(a, n)), set(shingles(b, n))
    return len(sa & sb) / max(1, len(sa | sb))


def evaluate(root: str | Path, truth: dict) -> dict:
    root = Path(root)
    dedup_drops = _dropped(root, "deduplicated")
    parent = {d["id"]: d["detail"] for d in dedup_drops if d["reason"] in ("exact_duplicate", "near_duplicate")}

    def rootof(x: str) -> str:
        seen = set()
        while x in parent and x not in seen:
            seen.add(x)
            x = parent[x]
        return x

    out: dict = {}
    exact = truth.get("exact_duplicates", [])
    out["exact_pairs"] = len(exact)
    out["exact_recall"] = sum(rootof(a) == rootof(b) for a, b in exact) / max(1, len(exact))

    near = truth.get("near_duplicates", [])
    pos = [p for p in near if p["jaccard"] >= NEAR]
    out["near_pairs_planted_ge_0.8"] = len(pos)
    out["near_recall"] = sum(rootof(p["a"]) == rootof(p["b"]) for p in pos) / max(1, len(pos))
    # Precision: every (dropped, survivor) link made by MinHash must be a pair at Jaccard >= 0.8.
    files = committed_files(root / "raw_documents")
    links = [(d["id"], d["detail"]) for d in dedup_drops if d["reason"] == "near_duplicate"
             and d["source"] != "books"]
    truth_j = {frozenset((p["a"], p["b"])): p["jaccard"] for p in near}
    ids = sorted({x for l in links for x in l})
    texts = {}
    if ids and files:
        rows = duckdb.sql(f"SELECT id, text FROM read_parquet({[str(f) for f in files]}) "
                          f"WHERE id IN (SELECT unnest({ids}))").fetchall()
        texts = dict(rows)
    # A drop is right when the dropped document has a partner at Jaccard >= 0.8 in its cluster (clusters
    # are closures of verified pairs, so a member may be further than 0.8 from the survivor itself).
    members: dict[str, list[str]] = {}
    for x in ids:
        members.setdefault(rootof(x), []).append(x)
    good = 0
    for a, b in links:
        ok = False
        for c in [b] + [m for m in members.get(rootof(a), []) if m not in (a, b)]:
            j = truth_j.get(frozenset((a, c)))
            if j is None and a in texts and c in texts:
                j = _jaccard(texts[a], texts[c])
            if (j or 0) >= NEAR:
                ok = True
                break
        good += ok
    out["near_links"] = len(links)
    out["near_precision"] = good / len(links) if links else 1.0
    below = [p for p in near if p["jaccard"] < NEAR]
    out["near_planted_below_0.8_merged"] = sum(rootof(p["a"]) == rootof(p["b"]) for p in below)

    # Language ID: the label of every planted document, kept or dropped.
    lid_files = committed_files(root / "language_identified")
    labels = {}
    if lid_files:
        labels = dict(duckdb.sql(f"SELECT id, lid_lang FROM read_parquet({[str(f) for f in lid_files]})").fetchall())
    lid_drops = _dropped(root, "language_identified")
    for d in lid_drops:
        labels[d["id"]] = (d["detail"] or ":").split(":")[0]
    langs = {i: l for i, l in truth.get("languages", {}).items() if i in labels}
    out["lid_planted"] = len(langs)
    out["lid_accuracy"] = sum(labels[i] == l for i, l in langs.items()) / max(1, len(langs))
    out["lid_english_ge_0.9_dropped"] = sum(
        1 for d in lid_drops if (d["detail"] or "").startswith("en:") and float(d["detail"].split(":")[1]) >= 0.9)
    wiki_other = set(truth.get("wiki_other_language", []))
    out["wiki_other_language_dropped"] = f"{sum(d['id'] in wiki_other for d in lid_drops)}/{len(wiki_other)}"

    all_drops = {d["id"]: d["reason"] for a in ("deduplicated", "language_identified", "quality_filtered")
                 for d in _dropped(root, a)}
    low = truth.get("low_quality", {})
    out["low_quality_dropped"] = f"{sum(i in all_drops for i in low)}/{len(low)}"
    out["low_quality_missed"] = sorted({r for i, r in low.items() if i not in all_drops})
    bad = truth.get("github_bad", {})
    out["github_bad_dropped"] = f"{sum(i in all_drops for i in bad)}/{len(bad)}"
    books = truth.get("book_overlap", [])
    out["book_overlap_pairs_merged"] = f"{sum(rootof(p['a']) == rootof(p['b']) for p in books)}/{len(books)}"
    repos = set(truth.get("github_nonpermissive_repos", []))
    gh = committed_files(root / "quality_filtered" / "github")
    if gh and repos:
        left = duckdb.sql(f"SELECT count(*) FROM read_parquet({[str(f) for f in gh]}) "
                          f"WHERE repo IN (SELECT unnest({sorted(repos)}))").fetchall()[0][0]
        out["github_nonpermissive_files_kept"] = int(left)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root, truth_path = argv
    result = evaluate(root, json.loads(Path(truth_path).read_text()))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
