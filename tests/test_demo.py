"""The demo runner orders partitioned and unpartitioned assets correctly and reports failed checks."""
import dagster as dg

from assets.demo import plan, run_all

parts = dg.StaticPartitionsDefinition(["a", "b"])
seen: list[str] = []


@dg.asset(partitions_def=parts)
def first(context):
    seen.append(f"first[{context.partition_key}]")


@dg.asset(partitions_def=parts, deps=[first])
def second(context):
    seen.append(f"second[{context.partition_key}]")


@dg.asset(deps=[dg.AssetDep(second, partition_mapping=dg.AllPartitionMapping())])
def combined():
    seen.append("combined")


@dg.asset(partitions_def=dg.WeeklyPartitionsDefinition(start_date="2025-01-05"), deps=[combined])
def weekly(context):
    seen.append("weekly")


@dg.asset_check(asset=combined)
def combined_fails():
    return dg.AssetCheckResult(passed=False)


DEFS = dg.Definitions(assets=[first, second, combined, weekly], asset_checks=[combined_fails],
                      executor=dg.in_process_executor)


def test_plan_orders_levels_and_partitions():
    steps = plan(DEFS, dg.DagsterInstance.ephemeral())
    labels = [(",".join(k.to_user_string() for k in keys), pk) for keys, pk in steps]
    # A chain over the same partitions runs as one run per key.
    assert labels[:3] == [("first,second", "a"), ("first,second", "b"), ("combined", None)]
    # The first three weeks of a time-partitioned asset (the same keys on any date).
    assert labels[3:] == [("weekly", "2025-01-05"), ("weekly", "2025-01-12"), ("weekly", "2025-01-19")]


def test_run_all_materializes_everything_and_reports_failed_checks():
    seen.clear()
    instance = dg.DagsterInstance.ephemeral()
    summary = run_all(DEFS, instance, log=lambda *_: None)
    assert seen[:5] == ["first[a]", "second[a]", "first[b]", "second[b]", "combined"]
    assert summary["steps"] == 6
    assert summary["checks_failed"] == ["combined:combined_fails"]
    later = summary["skipped_partitions"]["weekly"]      # left to the schedule, named in the demo's summary
    assert later[0] == "2025-01-26" and len(later) > 40
    assert instance.get_latest_materialization_event(dg.AssetKey("combined")) is not None


def test_the_demo_runs_are_one_backfill():
    from dagster._core.execution.backfill import BulkActionStatus

    instance = dg.DagsterInstance.ephemeral()
    summary = run_all(DEFS, instance, log=lambda *_: None)
    backfill = instance.get_backfill(summary["backfill_id"])
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS and backfill.title == "llama-pipeline demo"
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": summary["backfill_id"]}))
    assert len(runs) == summary["steps"] == 6 and all(r.is_success for r in runs)
    # each carries the code location's origin, as a run launched from the UI does (the timeline needs it)
    assert {(r.remote_job_origin.location_name, r.job_name) for r in runs} == {("llama_pipeline", "__ASSET_JOB")}
    data = backfill.asset_backfill_data
    assert data.materialized_subset == data.target_subset
    assert {k.to_user_string() for k in data.target_subset.asset_keys} == {"first", "second", "combined", "weekly"}
