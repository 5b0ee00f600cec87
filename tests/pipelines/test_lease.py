"""Leases on shared storage (pipelines/lease.py): one holder at a time, expiry, renewal, on files and S3."""
from __future__ import annotations

import json
import threading
import time

import pytest
from s3_server import local_s3

from pipelines import lease
from pipelines.lease import Lease, LeaseLost, hold


def test_one_holder_at_a_time_and_release_frees_it(tmp_path):
    path = tmp_path / "part" / ".lease"
    a, b = Lease(path, ttl=30, owner="host-a-1"), Lease(path, ttl=30, owner="host-b-1")
    assert a.try_acquire() and not b.try_acquire()
    assert json.loads(path.read_text())["owner"] == "host-a-1"
    a.release()
    assert not path.exists() and b.try_acquire()
    with pytest.raises(TimeoutError, match="held by host-b-1"):
        a.acquire(wait=0.1)


def test_an_expired_lease_is_broken_and_its_holder_learns_it(tmp_path):
    path = tmp_path / ".lease"
    a, b = Lease(path, ttl=30, owner="host-a-1"), Lease(path, ttl=30, owner="host-b-1")
    assert a.try_acquire()
    record = json.loads(path.read_text())
    path.write_text(json.dumps(dict(record, expires=time.time() - lease.GRACE_S - 1)))  # a stopped heartbeat
    assert b.try_acquire() and json.loads(path.read_text())["owner"] == "host-b-1"
    assert not a.renew() and a.lost
    a.release()  # a lost lease is not ours to remove
    assert json.loads(path.read_text())["owner"] == "host-b-1"


def test_hold_renews_while_held_and_waiters_get_it_after(tmp_path):
    path, order = tmp_path / ".lease", []

    def second():
        with hold(path, ttl=30, owner="host-b-1"):
            order.append("b")

    with hold(path, ttl=0.3, owner="host-a-1"):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(1.2)  # four ttls: only renewal keeps it ours
        first_expiry = json.loads(path.read_text())["expires"]
        assert json.loads(path.read_text())["owner"] == "host-a-1" and first_expiry > time.time() - 0.3
        order.append("a")
    t.join()
    assert order == ["a", "b"]


def test_a_lease_lost_while_held_is_reported(tmp_path):
    path = tmp_path / ".lease"
    with pytest.raises(LeaseLost, match="expired while held"):
        with hold(path, ttl=0.3, owner="host-a-1"):
            path.write_text(json.dumps({"owner": "host-b-1", "expires": time.time() + 60}))
            time.sleep(0.5)
    assert json.loads(path.read_text())["owner"] == "host-b-1"


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    with local_s3("bucket") as (_, client):
        yield client


def test_s3_lease_by_conditional_writes(s3):
    uri = "s3://bucket/data/deduplicated/c4/en/.lease"
    a, b = Lease(uri, ttl=30, owner="host-a-1"), Lease(uri, ttl=30, owner="host-b-1")
    assert a.try_acquire() and not b.try_acquire()
    assert a.renew() and not b.try_acquire()
    # Expired (a's host stopped renewing): b breaks it; a's next renewal fails (its ETag is gone).
    body = json.loads(s3.get_object(Bucket="bucket", Key="data/deduplicated/c4/en/.lease")["Body"].read())
    s3.put_object(Bucket="bucket", Key="data/deduplicated/c4/en/.lease",
                  Body=json.dumps(dict(body, expires=time.time() - 60)))
    assert b.try_acquire() and not a.renew()
    a.release()
    assert json.loads(s3.get_object(Bucket="bucket", Key="data/deduplicated/c4/en/.lease")["Body"].read())[
        "owner"] == "host-b-1"
    b.release()
    assert s3.list_objects_v2(Bucket="bucket", Prefix="data/")["KeyCount"] == 0
    with hold(uri, ttl=30):
        assert not Lease(uri, owner="host-c-1").try_acquire()
