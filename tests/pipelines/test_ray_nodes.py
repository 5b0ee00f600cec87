"""Curation on a Ray cluster of several nodes (two raylets on this machine, as `ray start` on two hosts):
tasks spread over both nodes and every stage writes the bytes a local single-worker run writes."""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pytest

from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.samples import bundled_dumps_dir


def node_of(_item) -> str:
    import ray

    time.sleep(0.2)  # long enough that one node cannot take every task
    return ray.get_runtime_context().get_node_id()


def files_of(root: Path) -> dict[str, str]:
    """sha256 of every committed part file, done-record and manifest (not `_stat.json`: file times)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and (p.name.startswith("part-") or p.name == "_manifest.json" or p.parent.name == "_done")}


def curate(engine, root: Path) -> None:
    for source, dump in (("c4", "en"), ("commoncrawl", "CC-MAIN-2023-50")):
        curation.ingest(engine, root, bundled_dumps_dir(), source, dump)
        curation.dedup(engine, root, source, dump, MinHashParams())
        curation.map_stage(engine, root, "deduplicated", "language_identified", source, dump, curation.LID)


@pytest.mark.slow
def test_two_ray_nodes_share_the_work_and_write_the_local_bytes(tmp_path):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from pipelines.engine import RayEngine

    curate(LocalEngine(1), tmp_path / "local")
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this module
    try:
        cluster.wait_for_nodes()
        engine = RayEngine(address=cluster.address)
        assert engine.workers == 2
        assert len(set(engine.map(node_of, range(12)))) == 2
        curate(engine, tmp_path / "ray")
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()
        cluster.shutdown()
    local, on_ray = files_of(tmp_path / "local"), files_of(tmp_path / "ray")
    assert on_ray == local and len(local) > 12
