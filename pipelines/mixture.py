"""The LLaMA-1 pretraining mixture (SPEC §1, Table 1): how many tokens each source contributes.

    from pipelines.mixture import PROPORTIONS, plan_mixture, split_validation
    val_ids = split_validation(ids, val_fraction=0.05)          # held-out documents, by document
    plan = plan_mixture({"commoncrawl": [812, 95, ...], ...}, token_budget=2_000_000, seed=0)
    plan["wikipedia"].epochs  -> 2.4   (the source is repeated because its data ran out)

Each source is sampled to its proportion of a token budget: whole passes over the source's training
documents (each pass in a fresh seeded order) and then a partial pass, whose last document is cut so the
source gets exactly its target. The achieved tokens therefore equal the targets, to the token, whenever a
source has data; an empty source gets nothing and is reported (the mixture cannot reach its proportion).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import xxhash

from pipelines.document import SOURCES

# SPEC §1: sampling proportion of each source (sums to 1).
PROPORTIONS: dict[str, float] = {
    "commoncrawl": 0.670,
    "c4": 0.150,
    "github": 0.045,
    "wikipedia": 0.045,
    "books": 0.045,
    "arxiv": 0.025,
    "stackexchange": 0.020,
}
# SPEC §1: epochs of each source at 1.4T tokens (for reference in reports; the plan computes its own).
PAPER_EPOCHS: dict[str, float] = {
    "commoncrawl": 1.10, "c4": 1.06, "github": 0.64, "wikipedia": 2.45, "books": 2.23, "arxiv": 1.06,
    "stackexchange": 1.03,
}
assert tuple(PROPORTIONS) == SOURCES and abs(sum(PROPORTIONS.values()) - 1.0) < 1e-12

# Tolerance of the mixture check, in percentage points of the whole training set.
TOLERANCE_PP = 0.5


def _hash64(text: str, seed: int = 0) -> int:
    return xxhash.xxh64_intdigest(text.encode("utf-8"), seed=seed)


class ValidationSplit:
    """Which documents of one source are held out for validation, decided per document by id hash.

    A document is held out when a seeded 64-bit hash of its id falls below `val_fraction` of the hash
    range, so the decision needs no global sort and no list of ids: it streams, and every stage
    (tokenizer, shards) and every machine agrees on it. Two guards for tiny sources, computed in the
    same single pass: a source of two or more documents holds out at least one (the smallest hash) and
    never all of them (the largest hash stays in training).
    """

    def __init__(self, val_fraction: float, seed: int = 0):
        self.seed = seed
        self.threshold = int(min(max(val_fraction, 0.0), 1.0) * 2**64) if val_fraction > 0 else 0
        self.n = self.held = 0
        self._min: tuple[int, str] | None = None
        self._max: tuple[int, str] | None = None

    def add(self, doc_id: str) -> None:
        h = (_hash64(doc_id, self.seed), doc_id)
        self.n += 1
        self.held += h[0] < self.threshold
        self._min = h if self._min is None or h < self._min else self._min
        self._max = h if self._max is None or h > self._max else self._max

    @classmethod
    def of(cls, ids: Iterable[str], val_fraction: float, seed: int = 0) -> "ValidationSplit":
        split = cls(val_fraction, seed)
        for i in ids:
            split.add(i)
        return split

    @classmethod
    def of_files(cls, files: Sequence[str | Path], val_fraction: float, seed: int = 0) -> "ValidationSplit":
        """One pass over the `id` column of Parquet files (local paths or s3:// URIs), batch by batch."""
        from pipelines.fs import parquet_file

        split = cls(val_fraction, seed)
        for f in files:
            for batch in parquet_file(f).iter_batches(batch_size=65_536, columns=["id"]):
                for i in batch.column(0).to_pylist():
                    split.add(i)
        return split

    def __contains__(self, doc_id: str) -> bool:
        if self.n < 2 or self.threshold == 0:
            return False
        h = (_hash64(doc_id, self.seed), doc_id)
        if self.held == 0:
            return h == self._min
        if self.held == self.n:
            return h != self._max
        return h[0] < self.threshold


def split_validation(ids: Sequence[str], val_fraction: float, seed: int = 0) -> set[str]:
    """Ids of the held-out validation documents of one source (see ValidationSplit)."""
    split = ValidationSplit.of(ids, val_fraction, seed)
    return {i for i in ids if i in split}


def targets(token_budget: int, proportions: Mapping[str, float] = PROPORTIONS) -> dict[str, int]:
    """Integer token target per source summing exactly to the budget (largest-remainder rounding)."""
    exact = {s: token_budget * p for s, p in proportions.items()}
    out = {s: int(np.floor(v)) for s, v in exact.items()}
    short = token_budget - sum(out.values())
    for s in sorted(exact, key=lambda s: (-(exact[s] - out[s]), s))[:short]:
        out[s] += 1
    return out


@dataclass
class SourcePlan:
    """What one source contributes: the documents to write, in order, and how many tokens of each."""

    source: str
    target: int                      # tokens asked for
    available: int                   # unique training tokens the source has
    documents: int                   # unique training documents
    order: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))  # document indices
    take: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))   # tokens of each

    @property
    def achieved(self) -> int:
        return int(self.take.sum())

    @property
    def epochs(self) -> float:
        return self.achieved / self.available if self.available else 0.0

    @property
    def note(self) -> str | None:
        if self.target and not self.available:
            return f"{self.source}: no training tokens (empty source), target {self.target} tokens not met"
        return None


def plan_source(source: str, lengths: Sequence[int], target: int, seed: int = 0) -> SourcePlan:
    """Whole seeded passes over the documents, then a partial pass cut to hit `target` exactly."""
    lengths = np.asarray(lengths, dtype=np.int64)
    available = int(lengths.sum())
    plan = SourcePlan(source, target, available, len(lengths))
    if available == 0 or target <= 0:
        return plan
    orders, takes, remaining, epoch = [], [], target, 0
    # Source index in the seed keeps the passes of different sources independent.
    src = SOURCES.index(source) if source in SOURCES else _hash64(source) % 1000
    while remaining > 0:
        perm = np.random.default_rng([seed, src, epoch]).permutation(len(lengths))
        perm = perm[lengths[perm] > 0]
        cum = np.cumsum(lengths[perm])
        if cum[-1] <= remaining:      # a whole pass fits
            orders.append(perm)
            takes.append(lengths[perm])
            remaining -= int(cum[-1])
        else:                         # partial pass: documents until the target, the last one cut
            n = int(np.searchsorted(cum, remaining)) + 1
            take = lengths[perm[:n]].copy()
            take[-1] -= int(cum[n - 1]) - remaining
            orders.append(perm[:n])
            takes.append(take)
            remaining = 0
        epoch += 1
    plan.order = np.concatenate(orders)
    plan.take = np.concatenate(takes)
    return plan


def plan_mixture(lengths_by_source: Mapping[str, Sequence[int]], token_budget: int, seed: int = 0,
                 proportions: Mapping[str, float] = PROPORTIONS) -> dict[str, SourcePlan]:
    """One SourcePlan per source of `proportions` (sources missing from lengths_by_source are empty)."""
    tgt = targets(token_budget, proportions)
    return {s: plan_source(s, lengths_by_source.get(s, ()), tgt[s], seed) for s in proportions}


def accounting(plans: Mapping[str, SourcePlan], proportions: Mapping[str, float] = PROPORTIONS) -> list[dict]:
    """Achieved vs target per source: tokens, proportions (percent), epochs, deviation in points."""
    total = sum(p.achieved for p in plans.values())
    rows = []
    for s, p in plans.items():
        achieved_pct = 100.0 * p.achieved / total if total else 0.0
        rows.append({
            "source": s, "target_tokens": p.target, "achieved_tokens": p.achieved,
            "target_pct": 100.0 * proportions[s], "achieved_pct": achieved_pct,
            "deviation_pp": achieved_pct - 100.0 * proportions[s], "epochs": p.epochs,
            "unique_tokens": p.available, "documents": p.documents,
        })
    return rows


def check_proportions(rows: Sequence[dict], tolerance_pp: float = TOLERANCE_PP) -> tuple[bool, list[str]]:
    """(every source within tolerance, notes explaining each miss) from accounting()-like rows."""
    empty = [r["source"] for r in rows if r.get("unique_tokens", 1) == 0 and r["target_tokens"] > 0]
    notes = []
    for r in rows:
        dev = r["achieved_pct"] - r["target_pct"]
        if abs(dev) > tolerance_pp:
            if r["source"] in empty:
                why = "the source has no training tokens (empty source)"
            elif r["target_tokens"] == 0:
                why = "the token budget is too small to give it a single token"
            elif empty:
                why = f"the other sources' share grows because {', '.join(empty)} is empty"
            else:
                why = "achieved differs from target"
            notes.append(f"{r['source']}: {r['achieved_pct']:.2f}% vs target {r['target_pct']:.2f}% "
                         f"({dev:+.2f} pp): {why}")
    return not notes, notes


def source_files(directory: str | Path) -> list[Path]:
    """The committed Parquet files of one source's folder (every dump partition in it, in dump order,
    each in manifest order); [] when nothing is committed there. `directory` may be an s3:// URI (then
    the files are RemotePaths: open them with pipelines.fs.parquet_file)."""
    from pipelines.partition import committed_files

    return committed_files(directory)


# ---- the mixture report: DuckDB over the shard manifest ----

def report_rows(shard_dir: str | Path, proportions: Mapping[str, float] = PROPORTIONS) -> list[dict]:
    """Per source, from manifest.parquet + mixture.parquet: tokens, achieved vs target share, epochs.

    achieved_pct is recomputed from the shards actually written (the manifest), not from the plan.
    """
    import duckdb

    shard_dir = Path(shard_dir)
    manifest, mixture = shard_dir / "manifest.parquet", shard_dir / "mixture.parquet"
    for p in (manifest, mixture):
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing: materialize token_shards first")
    con = duckdb.connect()
    con.execute("CREATE TABLE target(source VARCHAR, ord INTEGER, target_pct DOUBLE, paper_epochs DOUBLE)")
    con.executemany("INSERT INTO target VALUES (?, ?, ?, ?)",
                    [(s, i, 100.0 * p, PAPER_EPOCHS.get(s)) for i, (s, p) in enumerate(proportions.items())])
    rows = con.execute(f"""
        WITH m AS (
            SELECT source,
                   coalesce(sum(tokens) FILTER (WHERE split = 'train'), 0) AS train_tokens,
                   coalesce(sum(documents) FILTER (WHERE split = 'train'), 0) AS train_documents,
                   coalesce(sum(tokens) FILTER (WHERE split = 'val'), 0) AS val_tokens,
                   coalesce(sum(documents) FILTER (WHERE split = 'val'), 0) AS val_documents,
                   count(*) FILTER (WHERE split = 'train') AS train_shards
            FROM read_parquet('{manifest.as_posix()}') GROUP BY source)
        SELECT t.source, x.target_tokens, coalesce(m.train_tokens, 0) AS achieved_tokens, t.target_pct,
               100.0 * coalesce(m.train_tokens, 0) / nullif(sum(coalesce(m.train_tokens, 0)) OVER (), 0) AS achieved_pct,
               x.unique_tokens,
               coalesce(m.train_tokens, 0) / nullif(x.unique_tokens, 0) AS epochs,
               t.paper_epochs, coalesce(m.train_documents, 0) AS train_documents,
               coalesce(m.val_tokens, 0) AS val_tokens, coalesce(m.val_documents, 0) AS val_documents,
               coalesce(m.train_shards, 0) AS train_shards
        FROM target t
        LEFT JOIN read_parquet('{mixture.as_posix()}') x USING (source)
        LEFT JOIN m USING (source)
        ORDER BY t.ord""").fetchall()
    cols = ["source", "target_tokens", "achieved_tokens", "target_pct", "achieved_pct", "unique_tokens", "epochs",
            "paper_epochs", "train_documents", "val_tokens", "val_documents", "train_shards"]
    out = [dict(zip(cols, r)) for r in rows]
    for r in out:
        r["achieved_pct"] = r["achieved_pct"] or 0.0
        r["epochs"] = r["epochs"] or 0.0
        r["deviation_pp"] = r["achieved_pct"] - r["target_pct"]
    return out


def markdown_table(rows: Sequence[dict]) -> str:
    lines = ["| source | target % | achieved % | Δ pp | train tokens | target tokens | epochs | paper epochs | val tokens |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['target_pct']:.2f} | {r['achieved_pct']:.2f} | {r['deviation_pp']:+.3f} | "
                     f"{r['achieved_tokens']:,} | {r['target_tokens']:,} | {r['epochs']:.2f} | "
                     f"{r['paper_epochs'] if r['paper_epochs'] is not None else ''} | {r['val_tokens']:,} |")
    total = sum(r["achieved_tokens"] for r in rows)
    lines.append(f"| **total** | 100.00 | {100.0 if total else 0.0:.2f} | | {total:,} | "
                 f"{sum(r['target_tokens'] or 0 for r in rows):,} | | | {sum(r['val_tokens'] for r in rows):,} |")
    return "\n".join(lines)


def chart_png(rows: Sequence[dict], path: str | Path) -> Path:
    """Grouped bars: target vs achieved share per source, epochs written above; saved atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.io import atomic_path

    names = [r["source"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    ax.bar(x - 0.2, [r["target_pct"] for r in rows], 0.4, label="target (SPEC §1)", color="#bbbbbb")
    ax.bar(x + 0.2, [r["achieved_pct"] for r in rows], 0.4, label="achieved", color="#3b75af")
    for i, r in enumerate(rows):
        ax.text(i + 0.2, r["achieved_pct"] * 1.15 + 0.1, f"{r['epochs']:.2f} ep", ha="center", fontsize=7)
    ax.set_xticks(x, names, rotation=20, fontsize=8)
    ax.set_ylabel("% of training tokens")
    ax.set_yscale("symlog", linthresh=1)   # 67% and 2% on one axis; symlog, not log: an empty source is 0
    ax.set_ylim(0, 1.8 * max([r["target_pct"] for r in rows] + [r["achieved_pct"] for r in rows]))
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Pretraining mixture: target vs achieved (epochs above bars)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})  # no version stamp: same bytes every run
    plt.close(fig)
    return path
