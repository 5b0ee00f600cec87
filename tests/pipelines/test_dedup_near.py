"""Near-duplicate clusters by key range (pipelines/dedup/near.py): local components per range task,
merged in DuckDB, equal the connected components of all verified pairs in one process."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.dedup.minhash import MinHashParams, clusters
from pipelines.dedup.near import PAIRS, VerifyRange, _path, components, ranges
from pipelines.dedup.plan import Plan, write_parquet


def _plan(tmp_path, n: int, buckets: int) -> Plan:
    return Plan(work=str(tmp_path / "work"), source="commoncrawl", files=(), offsets=(0, n), n_ref_files=0,
                buckets=buckets, minhash=MinHashParams(num_perm=128, bands=25, ngram=5, threshold=0.8))


def _labels(plan: Plan, pairs: np.ndarray) -> dict[int, int]:
    """Accepted pairs (a < b) to the range tasks by `a`, as EstimateRange writes them; the merged labels."""
    verified = 0
    for k, (lo, hi) in enumerate(ranges(plan)):
        mine = pairs[(pairs[:, 0] >= lo) & (pairs[:, 0] < hi)]
        write_parquet(pa.table({"a": mine[:, 0], "b": mine[:, 1]}, schema=PAIRS), _path(plan, "acc", k))
        write_parquet(pa.table({"a": [], "b": []}, schema=PAIRS), _path(plan, "chk", k))
        verified += VerifyRange(plan, [])(k)
    assert verified == len(pairs)
    t = pq.read_table(components(plan))
    lab = t.column("lab").to_numpy()
    assert (np.diff(lab) >= 0).all()  # sorted by label: a survivor task reads its labels' row groups
    return dict(zip(t.column("doc").to_numpy().tolist(), lab.tolist()))


def _expected(pairs: np.ndarray) -> dict[int, int]:
    nodes, local = np.unique(pairs, return_inverse=True)
    return dict(zip(nodes.tolist(), nodes[clusters(len(nodes), local.reshape(-1, 2))].tolist()))


def test_a_chain_across_every_range_is_one_cluster(tmp_path):
    # 0-1-2-...-299: each range task sees a piece of the chain; the merge joins the pieces.
    pairs = np.stack([np.arange(299), np.arange(1, 300)], axis=1).astype(np.int64)
    plan = _plan(tmp_path, 300, 7)
    assert _labels(plan, pairs) == {d: 0 for d in range(300)}


def test_random_graphs_match_one_process_components(tmp_path):
    rng = np.random.default_rng(0)
    for trial, buckets in enumerate((1, 3, 16)):
        n = 2_000
        a = rng.integers(0, n, 1_500)
        b = rng.integers(0, n, 1_500)
        pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[a != b], axis=0).astype(np.int64)
        plan = _plan(tmp_path / str(trial), n, buckets)
        assert _labels(plan, pairs) == _expected(pairs)
        # Scratch: a few small files per range task, no file per pair or per document.
        assert len(list(plan.path("near").iterdir())) == 3 * buckets + 1
