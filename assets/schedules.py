"""Schedules: the weekly alignment refresh and the nightly evaluation of the newest checkpoints.

Both jobs select their assets by key name and keep only the keys some stage defines, so a missing
asset never breaks the Definitions (a job with no asset left is not defined at all). Schedules start
STOPPED; turn them on in the UI (Overview > Schedules) or with
`dagster schedule start -w workspace.yaml weekly_alignment_refresh_schedule` (the same location name as `dg dev`).
"""
from __future__ import annotations

import dagster as dg

from assets import align, curate, evaluate, ingest, pretrain, tokens

# Llama 2 §3: each week brings a new preference batch -> both RMs retrained -> the next RLHF versions.
ALIGNMENT_REFRESH = ["preference_data", "helpfulness_rm", "safety_rm",
                     "rlhf_v1", "rlhf_v2", "rlhf_v3", "rlhf_v4", "rlhf_v5"]
NIGHTLY_EVAL = ["base_model_eval", "reward_model_eval", "chat_eval"]


def defined_assets() -> dict[str, dg.AssetsDefinition]:
    """{asset key as a string: its definition} over every stage module's ASSETS."""
    out = {}
    for stage in (ingest, curate, tokens, pretrain, align, evaluate):
        for a in stage.ASSETS:
            for key in getattr(a, "keys", None) or [a.key]:
                out[key.to_user_string()] = a
    return out


def build_schedules(assets: dict[str, dg.AssetsDefinition]) -> list[dg.ScheduleDefinition]:
    schedules = []
    refresh = [k for k in ALIGNMENT_REFRESH if k in assets]
    if refresh:
        pdef = assets["preference_data"].partitions_def if "preference_data" in assets else None
        description = "Weekly alignment refresh: the new week's preference batch, both RMs, RLHF v1-v5."
        job = dg.define_asset_job("weekly_alignment_refresh", selection=dg.AssetSelection.assets(*refresh),
                                  description=description)
        if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
            schedules.append(_new_partition_schedule(job, pdef))
        else:
            schedules.append(dg.ScheduleDefinition(name="weekly_alignment_refresh_schedule", job=job,
                                                   cron_schedule="0 3 * * 1", execution_timezone="UTC"))
    evals = [k for k in NIGHTLY_EVAL if k in assets]
    if evals:
        job = dg.define_asset_job("nightly_eval", selection=dg.AssetSelection.assets(*evals),
                                  description="Nightly evaluation of the newest base, reward and chat checkpoints.")
        schedules.append(dg.ScheduleDefinition(name="nightly_eval_schedule", job=job, cron_schedule="0 2 * * *",
                                               execution_timezone="UTC"))
    return schedules


def _new_partition_schedule(job, pdef: dg.TimeWindowPartitionsDefinition) -> dg.ScheduleDefinition:
    """At the end of each time window, one run for the window that just closed (the new week's batch);
    the job's unpartitioned assets (RMs, RLHF versions) run in the same run, after it."""

    @dg.schedule(name="weekly_alignment_refresh_schedule", job=job, cron_schedule=pdef.get_cron_schedule(),
                 execution_timezone=pdef.timezone, description=job.description)
    def _schedule(context: dg.ScheduleEvaluationContext):
        window = pdef.get_prev_partition_window(context.scheduled_execution_time)
        if window is None:
            return dg.SkipReason("no complete time window yet")
        key = pdef.get_partition_key_for_timestamp(window.start.timestamp())
        return dg.RunRequest(run_key=key, partition_key=key)

    return _schedule


SCHEDULES: list = build_schedules(defined_assets())
