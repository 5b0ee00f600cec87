"""One Dagster backfill that groups the runs `llama-pipeline demo` (or `materialize`) executes itself.

The runs are executed in this process, step by step, not by the daemon. So the backfill is recorded as
already *requested* for its whole target: a daemon that sees it (under `make ui`) has nothing left to
launch and only follows the materializations, as it would for a backfill started from the UI. Every run
carries the `dagster/backfill` tag, so the Runs page and the Overview show one backfill row with its runs
under it, and `close()` records the final status when this process is done.
"""
from __future__ import annotations

import time

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.asset_backfill import AssetBackfillData
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

BACKFILL_TAG = "dagster/backfill"
# Our own tag as well: `--tags llama/demo=...` in the Runs filter finds the runs without the backfill.
DEMO_TAG = "llama/demo"


def _subset(graph, steps) -> AssetGraphSubset:
    return AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(k, pk) for keys, pk in steps for k in keys}, asset_graph=graph)


def open_backfill(instance: dg.DagsterInstance, defs: dg.Definitions, steps, title: str,
                  description: str) -> str:
    """Record a backfill over every (asset, partition) of `steps`; return its id (also the run tag)."""
    graph = defs.resolve_asset_graph()
    backfill_id = make_new_backfill_id()
    now = time.time()
    target = _subset(graph, steps)
    data = AssetBackfillData.from_asset_graph_subset(target, instance, now)
    # Everything is requested by this process: a daemon must not launch any of it a second time.
    data = data.with_requested_runs_for_target_roots(True).replace_requested_subset(target)
    backfill = PartitionBackfill(
        backfill_id=backfill_id, status=BulkActionStatus.REQUESTED, from_failure=False,
        tags={DEMO_TAG: backfill_id}, backfill_timestamp=now, serialized_asset_backfill_data=None,
        asset_backfill_data=data, asset_selection=sorted(target.asset_keys, key=lambda k: k.to_user_string()),
        title=title, description=description)
    instance.add_backfill(backfill)
    return backfill_id


def run_tags(backfill_id: str) -> dict[str, str]:
    """The backfill, and the profile the run resolves (with the config file, when one is in use)."""
    import os

    from llama_model.configs import get_profile

    tags = {BACKFILL_TAG: backfill_id, DEMO_TAG: backfill_id, "llama/profile": get_profile().name}
    if os.environ.get("LLAMA_CONFIG"):
        tags["llama/config"] = os.environ["LLAMA_CONFIG"]
    return tags


def close_backfill(instance: dg.DagsterInstance, defs: dg.Definitions, backfill_id: str, done_steps,
                   failed_steps=()) -> None:
    """The final status: COMPLETED_SUCCESS when every step succeeded, else COMPLETED_FAILED."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        return
    graph = defs.resolve_asset_graph()
    data = backfill.asset_backfill_data
    if data is not None:
        failed = _subset(graph, failed_steps)
        data = data._replace(materialized_subset=_subset(graph, done_steps), failed_and_downstream_subset=failed)
        backfill = backfill.with_asset_backfill_data(data, instance, graph)
    status = BulkActionStatus.COMPLETED_FAILED if failed_steps else BulkActionStatus.COMPLETED_SUCCESS
    instance.update_backfill(backfill.with_status(status).with_end_timestamp(time.time()))


# ------------------------------------------------------------------------------------------ run origin

LOCATION = "llama_pipeline"        # workspace.yaml's and [tool.dg]'s code location (tests/test_dg.py)


def remote_origin(job_name: str):
    """The origin a run launched from the UI carries (code location, repository, job): with it, runs the
    CLI executes in its own process show on the job's page and the Overview timeline like launched ones."""
    import os

    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    target = LoadableTargetOrigin(module_name="assets.definitions", working_directory=os.getcwd())
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION)
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


class with_origin:
    """`with with_origin(instance, job_name):` the runs this process creates carry remote_origin(job_name).
    execute_in_process takes no origin, so the instance's create_run_for_job is wrapped for the block."""

    def __init__(self, instance: dg.DagsterInstance, job_name: str):
        self.instance, self.origin = instance, remote_origin(job_name)

    def __enter__(self):
        create = type(self.instance).create_run_for_job

        def create_with_origin(*args, **kwargs):
            kwargs.setdefault("remote_job_origin", self.origin)
            return create(self.instance, *args, **kwargs)

        self.instance.create_run_for_job = create_with_origin
        return self

    def __exit__(self, *exc):
        del self.instance.create_run_for_job
