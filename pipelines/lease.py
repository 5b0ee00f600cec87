"""Leases on shared storage: who owns a partition or a run's scratch folder, across hosts, without pids.

    from pipelines import lease
    with lease.hold(partition_dir / lease.LEASE):      # waits while another run holds it; renewed while held
        ...
    with lease.run_scratch(data_dir / "tmp") as wd:    # tmp/run-<host>-<id>/, owned by this run
        ...

Many Dagster run pods and Ray nodes share one file system or bucket; a pid says nothing about a process
on another host (or in another PID namespace), so liveness is a lease: a small JSON record
{"owner", "host", "pid", "expires"} that its holder renews every ttl/3 from a thread. A lease whose
`expires` has passed (its holder died, lost the network, or was paused longer than ttl) may be broken by
anyone; until then nobody touches what it guards. `pid` and `host` are for people reading the record,
never tested. Hosts' clocks are assumed to agree within GRACE_S.

Taking a lease is an exclusive create that exactly one contender wins:
- local or shared (NFS) file system: the record is written to a unique temporary file, then hard-linked
  to the lease's name (`link` fails when the name exists, atomically on NFS, where O_EXCL was not
  always); renewal rewrites it (temp + rename) after checking it is still ours; breaking renames the
  stale record to a unique name, which one breaker wins.
- S3: a PUT with `If-None-Match: *` (S3's conditional write); renewal is a PUT with `If-Match` of the
  ETag we wrote last, breaking and release a DELETE with `If-Match` of the ETag read.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

from pipelines.fs import RemotePath, as_path

LEASE = ".lease"
TTL_S = 60.0
GRACE_S = 5.0
POLL_MAX_S = 1.0


class LeaseLost(RuntimeError):
    """Our lease was broken (we stopped renewing it for longer than its ttl) while we held it."""


def new_owner() -> str:
    """A run id unique across hosts: `<host>-<random>`."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40] or "host"
    return f"{host}-{uuid.uuid4().hex[:12]}"


def expired(record: dict | None, now: float | None = None) -> bool:
    return record is None or float(record.get("expires", 0)) + GRACE_S < (time.time() if now is None else now)


class Lease:
    """One lease at `path` (a local path or an s3:// URI) for `owner`."""

    def __init__(self, path, ttl: float = TTL_S, owner: str | None = None):
        self.path, self.ttl = as_path(path), float(ttl)
        self.owner = owner or new_owner()
        self.store = _S3Store(self.path) if isinstance(self.path, RemotePath) else _FileStore(Path(self.path))
        self.lost = False

    def record(self) -> dict:
        return {"owner": self.owner, "host": socket.gethostname(), "pid": os.getpid(),
                "expires": time.time() + self.ttl}

    def try_acquire(self) -> bool:
        """Take the lease if it is free or expired (breaking the expired one); True if we hold it now."""
        if self.store.create(self.record()):
            return True
        current, tag = self.store.read()
        if current is not None and not expired(current):
            return False
        self.store.break_stale(current, tag)
        return self.store.create(self.record())

    def acquire(self, wait: float | None = None) -> None:
        """Wait (forever, or `wait` seconds, then TimeoutError) until the lease is ours."""
        start, pause = time.monotonic(), 0.02
        while not self.try_acquire():
            if wait is not None and time.monotonic() - start > wait:
                current, _ = self.store.read()
                raise TimeoutError(f"{self.path} is held by {current and current.get('owner')} "
                                   f"(waited {wait:g}s)")
            time.sleep(pause)
            pause = min(POLL_MAX_S, pause * 2)

    def renew(self) -> bool:
        if not self.lost and not self.store.renew(self.owner, self.record()):
            self.lost = True
        return not self.lost

    def release(self) -> None:
        if not self.lost:
            self.store.remove(self.owner)


@contextlib.contextmanager
def hold(path, ttl: float = TTL_S, wait: float | None = None, owner: str | None = None) -> Iterator[Lease]:
    """Hold the lease at `path` for the block, renewed every ttl/3; LeaseLost at the end if it expired
    meanwhile (another run may then have taken what it guarded)."""
    lease = Lease(path, ttl, owner)
    lease.acquire(wait)
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(lease.ttl / 3):
            try:
                if not lease.renew():
                    return
            except Exception:  # noqa: BLE001 - a storage hiccup: try again at the next beat
                continue

    thread = threading.Thread(target=heartbeat, name=f"lease {lease.path}", daemon=True)
    thread.start()
    try:
        yield lease
    finally:
        stop.set()
        thread.join()
        lease.release()
    if lease.lost:
        raise LeaseLost(f"lease {lease.path} of {lease.owner} expired while held")


@contextlib.contextmanager
def run_scratch(tmp_root, ttl: float = TTL_S) -> Iterator[Path]:
    """A scratch folder `run-<owner>` under a local or shared `tmp_root`, owned by a lease
    `run-<owner>.lease` next to it and removed at the end. Folders of runs whose lease expired are
    removed first; a live run's folder is never touched, whatever host or PID namespace it runs in."""
    tmp_root = Path(tmp_root)
    tmp_root.mkdir(parents=True, exist_ok=True)
    remove_expired_scratch(tmp_root, ttl)
    owner = new_owner()
    with hold(tmp_root / f"run-{owner}.lease", ttl, wait=0, owner=owner):
        wd = tmp_root / f"run-{owner}"  # created after its lease: a folder without one is not live
        wd.mkdir()
        try:
            yield wd
        finally:
            shutil.rmtree(wd, ignore_errors=True)


def remove_expired_scratch(tmp_root: Path, ttl: float = TTL_S) -> int:
    """Remove `run-*` folders whose lease expired (the breaker that wins removes it), and folders with
    no lease older than ttl (left by a crash after release, or by older versions). Returns how many."""
    n = 0
    for lease_file in sorted(tmp_root.glob("run-*.lease")):
        store = _FileStore(lease_file)
        record, tag = store.read()
        if record is None or not expired(record) or not store.break_stale(record, tag):
            continue
        shutil.rmtree(tmp_root / lease_file.name.removesuffix(".lease"), ignore_errors=True)
        n += 1
    for d in sorted(tmp_root.glob("run-*")):
        if d.is_dir() and not (tmp_root / f"{d.name}.lease").exists():
            with contextlib.suppress(FileNotFoundError):
                if time.time() - d.stat().st_mtime > ttl + GRACE_S:
                    shutil.rmtree(d, ignore_errors=True)
                    n += 1
    return n


class _FileStore:
    """A lease file on a local or shared POSIX file system."""

    def __init__(self, path: Path):
        self.path = path

    def _temp(self, record: dict) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not `.*.tmp-*`: partition.remove_stale_temporaries removes those, and this one is live.
        tmp = self.path.with_name(f".{self.path.name}.new-{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(record, sort_keys=True))
        return tmp

    def create(self, record: dict) -> bool:
        tmp = self._temp(record)
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink()

    def read(self) -> tuple[dict | None, str | None]:
        try:
            text = self.path.read_text()
            return json.loads(text), text
        except FileNotFoundError:
            return None, None
        except ValueError:
            # A record cut short (a crash mid-write on a file system without atomic rename): stale.
            return {"owner": "?", "expires": 0}, None

    def renew(self, owner: str, record: dict) -> bool:
        current, _ = self.read()
        if current is None or current.get("owner") != owner:
            return False
        os.replace(self._temp(record), self.path)
        return True

    def break_stale(self, record: dict | None, tag: str | None) -> bool:
        """Move the stale record away; True if we moved exactly the record we judged stale."""
        if record is None:
            return True
        moved = self.path.with_name(f".{self.path.name}.broken-{uuid.uuid4().hex}")
        try:
            os.rename(self.path, moved)
        except FileNotFoundError:
            return False  # another breaker won
        ours = tag is None or moved.read_text() == tag
        if not ours:  # renewed between our read and the rename: put it back
            with contextlib.suppress(FileExistsError):
                os.link(moved, self.path)
        moved.unlink()
        return ours

    def remove(self, owner: str) -> None:
        current, text = self.read()
        if current is not None and current.get("owner") == owner:
            self.break_stale(current, text)


class _S3Store:
    """A lease object on S3 (conditional writes: `If-None-Match: *`, `If-Match: <etag>`)."""

    def __init__(self, path: RemotePath):
        self.bucket, _, self.key = path.key.partition("/")
        self.client = _s3_client()

    def _failed(self, e) -> bool:
        code = getattr(e, "response", {}).get("Error", {}).get("Code", "")
        return code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")

    def _put(self, record: dict, **cond) -> str | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=json.dumps(record, sort_keys=True),
                                       **cond)
            return r["ETag"]
        except ClientError as e:
            if self._failed(e):
                return None
            raise

    def create(self, record: dict) -> bool:
        self.etag = self._put(record, IfNoneMatch="*")
        return self.etag is not None

    def read(self) -> tuple[dict | None, str | None]:
        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except self.client.exceptions.NoSuchKey:
            return None, None
        try:
            return json.loads(r["Body"].read()), r["ETag"]
        except ValueError:
            return {"owner": "?", "expires": 0}, r["ETag"]

    def renew(self, owner: str, record: dict) -> bool:
        etag = self._put(record, IfMatch=self.etag)
        if etag is None:
            return False
        self.etag = etag
        return True

    def break_stale(self, record: dict | None, tag: str | None) -> bool:
        from botocore.exceptions import ClientError

        if record is None:
            return True
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=tag)
            return True
        except ClientError as e:
            if self._failed(e) or e.response.get("Error", {}).get("Code") == "NoSuchKey":
                return False
            raise

    def remove(self, owner: str) -> None:
        self.break_stale({"owner": owner}, self.etag)


def _s3_client():
    """boto3 for the conditional writes pyarrow's S3 file system does not offer; the same AWS_*
    settings as pipelines/fs.py, with bounded connect and read times."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("leases on s3:// need boto3: pip install 'llama-pipeline[s3]'") from e
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client("s3", endpoint_url=endpoint, region_name=region,
                        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3}))
