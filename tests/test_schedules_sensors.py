"""The weekly alignment refresh, the nightly eval and the new-dump sensor (cursor, run keys, partitions)."""
import datetime as dt
import json
import os

import dagster as dg
import pytest

from assets.partitions import dump_partitions
from assets.schedules import SCHEDULES, build_schedules, defined_assets
from assets.sensors import SENSORS, dump_listing, new_dump_folders, new_entries
from resources import DumpsResource

weekly = dg.WeeklyPartitionsDefinition(start_date="2025-01-05")


@dg.asset(partitions_def=weekly)
def preference_data():
    pass


@dg.asset(deps=[preference_data])
def helpfulness_rm():
    pass


@dg.asset(deps=[helpfulness_rm])
def rlhf_v1():
    pass


@dg.asset(deps=[rlhf_v1])
def chat_eval():
    pass


@dg.asset(partitions_def=dump_partitions)
def raw_documents():
    pass


def _toy_assets(*defs):
    return {a.key.to_user_string(): a for a in defs}


def test_weekly_refresh_runs_the_new_week_through_rms_and_rlhf():
    schedules = build_schedules(_toy_assets(preference_data, helpfulness_rm, rlhf_v1, chat_eval))
    defs = dg.Definitions(assets=[preference_data, helpfulness_rm, rlhf_v1, chat_eval], schedules=schedules)
    names = sorted(s.name for s in schedules)
    assert names == ["nightly_eval_schedule", "weekly_alignment_refresh_schedule"]
    job = defs.resolve_job_def("weekly_alignment_refresh")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {
        "preference_data", "helpfulness_rm", "rlhf_v1"}  # safety_rm, rlhf_v2.. are not defined here: left out
    tick = dt.datetime(2025, 3, 4, 12, tzinfo=dt.timezone.utc)
    with dg.DagsterInstance.ephemeral() as instance:
        sched = defs.resolve_schedule_def("weekly_alignment_refresh_schedule")
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                         repository_def=defs.get_repository_def())
        reqs = sched.evaluate_tick(ctx).run_requests
        assert [r.partition_key for r in reqs] == ["2025-02-23"]  # the last complete week
        nightly = defs.resolve_job_def("nightly_eval")
        assert {k.to_user_string() for k in nightly.asset_layer.executable_asset_keys} == {"chat_eval"}
        assert defs.resolve_schedule_def("nightly_eval_schedule").cron_schedule == "0 2 * * *"
        result = defs.resolve_job_def("weekly_alignment_refresh").execute_in_process(
            partition_key="2025-02-23", instance=instance)
        assert result.success


def test_missing_assets_leave_the_schedules_out():
    assert build_schedules({}) == []
    only_eval = build_schedules(_toy_assets(chat_eval))
    assert [s.name for s in only_eval] == ["nightly_eval_schedule"]


def test_project_schedules_and_sensors_resolve():
    from assets.definitions import defs

    assert {s.name for s in SCHEDULES} <= {"weekly_alignment_refresh_schedule", "nightly_eval_schedule"}
    for s in SCHEDULES:
        defs.resolve_job_def(s.job_name)
    present = defined_assets()
    assert ("nightly_eval_schedule" in {s.name for s in SCHEDULES}) == ("chat_eval" in present or
                                                                         "base_model_eval" in present)
    assert (len(SENSORS) == 1) == ("raw_documents" in present)


def test_dump_listing_and_new_entries(tmp_path):
    (tmp_path / "commoncrawl" / "2019-30").mkdir(parents=True)
    (tmp_path / "commoncrawl" / "2019-30" / "a.warc.wet.gz").write_bytes(b"abc")
    (tmp_path / "commoncrawl" / ".partial").write_bytes(b"")
    (tmp_path / "books" / "gutenberg").mkdir(parents=True)
    (tmp_path / "books" / "gutenberg" / "pg1.txt").write_text("12345")
    (tmp_path / "not-a-source").mkdir()
    listing = dump_listing(tmp_path)
    assert sorted(listing) == ["books/gutenberg", "commoncrawl/2019-30"]
    assert new_entries(listing, listing) == []
    # A new file inside an existing snapshot changes that snapshot's fingerprint.
    (tmp_path / "commoncrawl" / "2019-30" / "b.warc.wet.gz").write_bytes(b"")
    assert new_entries(listing, dump_listing(tmp_path)) == ["commoncrawl/2019-30"]
    assert new_entries({}, listing) == ["books/gutenberg", "commoncrawl/2019-30"]


def test_files_directly_in_a_source_folder_are_a_layout_error(tmp_path):
    from pipelines.dumps import DumpLayoutError

    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "pg1.txt").write_text("x")
    with pytest.raises(DumpLayoutError, match="put each dump in its own folder"):
        dump_listing(tmp_path)


def test_sensor_registers_and_requests_only_new_dumps(tmp_path):
    (tmp_path / "commoncrawl" / "2019-30").mkdir(parents=True)
    (tmp_path / "books" / "gutenberg").mkdir(parents=True)
    (tmp_path / "books" / "gutenberg" / "pg1.txt").write_text("x")
    resources = {"dumps": DumpsResource(root=str(tmp_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        first = new_dump_folders(dg.build_sensor_context(instance=instance, resources=resources))
        assert sorted(r.partition_key for r in first.run_requests) == ["books/gutenberg", "commoncrawl/2019-30"]
        [add] = first.dynamic_partitions_requests
        assert add.partitions_def_name == "dumps" and sorted(add.partition_keys) == [
            "books/gutenberg", "commoncrawl/2019-30"]
        instance.add_dynamic_partitions("dumps", list(add.partition_keys))

        # Nothing new: a skip, and the cursor carries over.
        again = new_dump_folders(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
        assert again.run_requests == [] and "no new or changed dumps" in again.skip_reason.skip_message

        # A new CommonCrawl snapshot: registered, and one run for that partition only.
        (tmp_path / "commoncrawl" / "2020-05").mkdir()
        third = new_dump_folders(dg.build_sensor_context(instance=instance, cursor=again.cursor, resources=resources))
        assert [r.partition_key for r in third.run_requests] == ["commoncrawl/2020-05"]
        assert list(third.dynamic_partitions_requests[0].partition_keys) == ["commoncrawl/2020-05"]
        assert third.run_requests[0].run_key.startswith("commoncrawl/2020-05:")


def test_sensor_logs_a_missing_dumps_folder(tmp_path):
    resources = {"dumps": DumpsResource(root=str(tmp_path / "nowhere"))}
    with dg.DagsterInstance.ephemeral() as instance:
        out = new_dump_folders(dg.build_sensor_context(instance=instance, resources=resources))
    assert out.run_requests == [] and "does not exist" in out.skip_reason.skip_message


def test_sensor_targets_raw_documents_in_a_definitions(tmp_path):
    (tmp_path / "c4" / "en").mkdir(parents=True)
    (tmp_path / "c4" / "en" / "c4-train.00000-of-01024.json.gz").write_bytes(b"")
    defs = dg.Definitions(assets=[raw_documents], sensors=[new_dump_folders],
                          resources={"dumps": DumpsResource(root=str(tmp_path))})
    sensor = defs.resolve_sensor_def("new_dump_folders")
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_sensor_context(instance=instance, definitions=defs,
                                      resources={"dumps": DumpsResource(root=str(tmp_path))})
        # The daemon registers the tick's new keys, then validates its run requests against them.
        instance.add_dynamic_partitions("dumps", ["c4/en"])
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            data = sensor.evaluate_tick(ctx)
    assert [r.partition_key for r in data.run_requests] == ["c4/en"]
    job = defs.resolve_job_def(sensor.job_name)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {"raw_documents"}


def _evaluate(instance, resources, cursor=None):
    return new_dump_folders(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))


def test_a_dump_returning_to_an_earlier_state_is_ingested_again(tmp_path):
    book = tmp_path / "books" / "s1" / "pg1.txt"
    book.parent.mkdir(parents=True)
    book.write_text("state A")
    resources = {"dumps": DumpsResource(root=str(tmp_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        keys = []
        cursor = None
        for text in ("state A", "state B, longer", "state A", "state A"):
            book.write_text(text)
            out = _evaluate(instance, resources, cursor)
            cursor = out.cursor
            keys += [r.run_key for r in out.run_requests]
        assert len(keys) == 3 and len(set(keys)) == 3          # A, B, A again; the unchanged 4th starts nothing
        assert keys[0].split(":")[1] == keys[2].split(":")[1]   # same fingerprint, yet a new run key


def test_sensor_watches_the_good_dumps_beside_a_bad_name_and_hidden_files(tmp_path):
    (tmp_path / "books" / "good").mkdir(parents=True)
    (tmp_path / "books" / "good" / "pg1.txt").write_text("x")
    (tmp_path / "books" / "bad name").mkdir()
    (tmp_path / "books" / ("x" * 120)).mkdir()
    (tmp_path / "books" / "émile").mkdir()
    resources = {"dumps": DumpsResource(root=str(tmp_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        first = _evaluate(instance, resources)
        assert [r.partition_key for r in first.run_requests] == ["books/good"]
        # A hidden file or folder (a copy in progress) changes nothing: the readers never read it.
        (tmp_path / "books" / "good" / ".pg2.txt").write_text("copying")
        (tmp_path / "books" / "good" / ".in-progress").mkdir()
        (tmp_path / "books" / "good" / ".in-progress" / "pg84.txt").write_text("half")
        assert _evaluate(instance, resources, first.cursor).run_requests == []
        # A file name that is not UTF-8 is fingerprinted like any other (the readers skip and count it).
        (tmp_path / "books" / "good" / os.fsdecode(b"pg\xff.txt")).write_text("y")
        assert [r.partition_key for r in _evaluate(instance, resources, first.cursor).run_requests] == ["books/good"]


def test_sensor_logs_registered_keys_whose_folder_is_gone(tmp_path, capsys):
    (tmp_path / "books" / "good").mkdir(parents=True)
    resources = {"dumps": DumpsResource(root=str(tmp_path))}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("dumps", ["books/good", "books/removed"])
        out = _evaluate(instance, resources)
        assert [r.partition_key for r in out.run_requests] == ["books/good"]
        assert json.loads(out.cursor)["gone"] == ["books/removed"]
        assert "books/removed: registered but its dump folder is gone" in capsys.readouterr().err
