"""Where curation work runs: a local process pool (default) or Ray tasks on a cluster, behind one small interface.

    from pipelines.engine import get_engine
    engine = get_engine()                         # LLAMA_ENGINE=local|ray, LLAMA_WORKERS=N
    results = engine.map(count_rows, paths)       # one task per item, results in item order

A stage is written as plain functions over files: `map` runs one task per input file (a task takes
paths and small parameters and returns a small result: counts, paths, digests; never a table), and
`bucket_join` is the global step: every input task scatters its rows into `buckets` files by key,
then one task per bucket gathers them. Results come back in item order whatever the engine or the
number of workers, so the bytes a stage writes never depend on where it ran (tests check local with
1 and 2 workers against Ray).

Backends:
- `local`: `workers == 1` runs tasks in this process (the demo: no start-up cost); more workers use a
  process pool started with `spawn` (safe inside a threaded host such as Dagster).
- `ray`: tasks on the cluster at `RAY_ADDRESS`, or on a local Ray started for the run
  (`num_cpus = LLAMA_WORKERS`). Ray is the optional extra `llama-pipeline[ray]`. The driver keeps a
  window of tasks in flight and collects them in batches (constant work per task: benchmarks/ray_driver.py);
  a task whose worker dies is run again; an address where nothing answers fails in CONNECT_TIMEOUT_S.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common.progress import Progress

ENGINES = ("local", "ray")
CONNECT_TIMEOUT_S = 10.0  # to reach RAY_ADDRESS before giving up
RAY_RETRIES = 3           # runs of a task whose worker died, after the first
WINDOW_PER_CPU = 4        # Ray tasks in flight per cluster CPU (and at least WINDOW_MIN)
WINDOW_MIN = 16
WAIT_S = 1.0


class Engine:
    name = "base"
    workers = 1

    def map(self, fn: Callable, items: Sequence, *, desc: str = "tasks",
            log: Callable[[str], None] | None = None) -> list:
        """[fn(item) for item in items], possibly in parallel; results in item order."""
        raise NotImplementedError

    def bucket_join(self, scatter: Callable, gather: Callable, items: Sequence, buckets: int,
                    workdir: str | os.PathLike, *, desc: str = "join",
                    log: Callable[[str], None] | None = None) -> tuple[list, list]:
        """The global step of a stage, as two maps.

        scatter(item, index, bucket_dirs) writes its rows for bucket b under bucket_dirs[b] in a file
        named by `index` (so the gather side reads files in input order); gather(bucket_dir) reads one
        bucket. Returns (scatter results, gather results), each in order.
        """
        workdir = Path(workdir)
        dirs = [str(workdir / f"bucket-{b:05d}") for b in range(buckets)]
        for d in dirs:
            Path(d).mkdir(parents=True, exist_ok=True)
        scattered = self.map(_Scatter(scatter, dirs), list(enumerate(items)), desc=f"{desc} scatter", log=log)
        gathered = self.map(gather, dirs, desc=f"{desc} gather", log=log)
        return scattered, gathered


class _Scatter:
    """Picklable adapter: (index, item) -> scatter(item, index, bucket_dirs)."""

    def __init__(self, fn: Callable, dirs: list[str]):
        self.fn, self.dirs = fn, dirs

    def __call__(self, pair: tuple[int, Any]):
        index, item = pair
        return self.fn(item, index, self.dirs)


class LocalEngine(Engine):
    name = "local"

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def _executor(self) -> cf.ProcessPoolExecutor:
        # One pool for the engine's life: spawned workers import the stage code once, not per map.
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def map(self, fn, items, *, desc="tasks", log=None) -> list:
        """Items are taken one at a time (a lazy Sequence stays lazy); the pool has a window of a few
        tasks per worker in flight, so the driver holds a bounded number of items and futures."""
        items = items if isinstance(items, Sequence) else list(items)
        progress = Progress(desc, len(items), unit="tasks", log=log)
        if self.workers == 1 or len(items) <= 1:
            out = []
            for i in range(len(items)):
                out.append(fn(items[i]))
                progress.update()
            progress.close()
            return out
        results: list = [None] * len(items)
        futures: dict = {}
        window, submitted = max(WINDOW_MIN, WINDOW_PER_CPU * self.workers), 0
        try:
            pool = self._executor()
            while submitted < len(items) or futures:
                while submitted < len(items) and len(futures) < window:
                    futures[pool.submit(fn, items[submitted])] = submitted
                    submitted += 1
                done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    results[futures.pop(fut)] = fut.result()
                    progress.update()
        except cf.process.BrokenProcessPool:
            self._pool = None  # a worker died (killed, out of memory): the next map starts a new pool
            raise
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        progress.close()
        return results


class RayEngine(Engine):
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_S, max_retries: int = RAY_RETRIES):
        try:
            import ray
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("LLAMA_ENGINE=ray needs Ray: pip install 'llama-pipeline[ray]'") from e
        self._ray = ray
        self.max_retries = max_retries
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            if address:
                # ray.init retries an unreachable address for minutes: fail fast with one line instead.
                _reachable_or_die(address, connect_timeout)
                ray.init(address=address, log_to_driver=False)
            else:
                # A local Ray for this run; its workers import the project like the pool's do.
                ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False, configure_logging=False,
                         runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(_project_paths())}})
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map(self, fn, items, *, desc="tasks", log=None) -> list:
        """Tasks are submitted through a window of a few per CPU and collected in batches, so the
        driver's work per completed task does not grow with the number of items (one `ray.wait` over
        every pending reference per completion made a map of n items cost n²). A task whose worker
        dies (killed, out of memory, node lost) is run again by Ray up to `max_retries` times; an
        exception raised by the task itself is not retried and fails the map, as on the local engine."""
        ray = self._ray
        items = items if isinstance(items, Sequence) else list(items)
        progress = Progress(desc, len(items), unit="tasks", log=log)
        remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(_call)
        fn_ref = ray.put(fn)  # the function (often a configured object) crosses once, not once per task
        window = max(WINDOW_MIN, WINDOW_PER_CPU * self.workers)
        results: list = [None] * len(items)
        index: dict = {}
        pending: list = []
        submitted = 0
        try:
            while submitted < len(items) or pending:
                while submitted < len(items) and len(pending) < window:
                    ref = remote.remote(fn_ref, items[submitted])
                    index[ref] = submitted
                    pending.append(ref)
                    submitted += 1
                # Wake when a quarter of the window is done (or after WAIT_S, to keep the log live):
                # each wait costs O(window) and returns O(window) results.
                want = max(1, min(len(pending), window // 4))
                done, pending = ray.wait(pending, num_returns=want, timeout=WAIT_S)
                for ref, value in zip(done, ray.get(done)):
                    results[index.pop(ref)] = value
                progress.update(len(done))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        progress.close()
        return results


def _reachable_or_die(address: str, timeout: float) -> None:
    """Raise one ConnectionError line unless `host:port` of a Ray address accepts a TCP connection
    within `timeout` seconds ("auto" and "local" are Ray's own lookups and are left to it)."""
    hostport = address.split("://", 1)[-1]
    if hostport in ("auto", "local") or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as e:
        raise ConnectionError(f"no Ray cluster at RAY_ADDRESS={address} "
                              f"(nothing answered within {timeout:g}s: {e})") from None


def _call(fn, item):
    return fn(item)


def _project_paths() -> list[str]:
    root = str(Path(__file__).resolve().parent.parent)
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [root] + [p for p in extra if p != root]


def default_workers() -> int:
    raw = os.environ.get("LLAMA_WORKERS")
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"LLAMA_WORKERS must be a whole number, got {raw!r}") from None
        if n < 1:
            raise ValueError(f"LLAMA_WORKERS must be >= 1, got {n}")
        return n
    return 1


_ENGINES: dict[tuple[str, int], Engine] = {}


def get_engine(name: str | None = None, workers: int | None = None) -> Engine:
    """The engine named by `name` or $LLAMA_ENGINE (default local), with `workers` or $LLAMA_WORKERS.

    Engines are kept for the life of the process (a Dagster run materializes many partitions), so a
    pool or a Ray connection is started once."""
    name = (name or os.environ.get("LLAMA_ENGINE") or "local").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"LLAMA_ENGINE must be one of {', '.join(ENGINES)}, got {name!r}")
    workers = workers or default_workers()
    key = (name, workers)
    if key not in _ENGINES:
        _ENGINES[key] = LocalEngine(workers) if name == "local" else RayEngine(workers)
    return _ENGINES[key]
