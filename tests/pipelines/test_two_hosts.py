"""Two runs sharing one data folder from two PID namespaces (as two pods on one shared file system do),
on the local engine and on Ray (each run its own one-CPU Ray):
run A is paused mid-dedup while run B deduplicates another partition; A resumes and its output is
byte-identical to a run alone. Pid-based cleanup let B delete A's live scratch (issue 22)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine
from pipelines.integrity import STAT
from pipelines.samples import bundled_dumps_dir

ROOT = Path(__file__).resolve().parents[2]
A, B = ("commoncrawl", "CC-MAIN-2023-50"), ("c4", "en")

# One run in its own PID namespace. A waits after the dedup scatter, its scratch full, until `resume`
# appears. `/bin/true` forty times first: A's python gets a pid number that is no process in B's
# namespace (equal or low numbers would hide a pid test).
DRIVER = r"""
import sys, time
from pathlib import Path
from pipelines import curation
from pipelines.dedup.minhash import MinHashParams
from pipelines.engine import LocalEngine, RayEngine

data, source, dump, flags, engine = sys.argv[1:6]

class Pausing(LocalEngine if engine == "local" else RayEngine):
    def map(self, fn, items, *, desc="tasks", log=None):
        out = super().map(fn, items, desc=desc, log=log)
        if flags != "-" and desc.endswith("scatter"):
            Path(flags, "paused").write_text("")
            while not Path(flags, "resume").exists():
                time.sleep(0.05)
        return out

curation.dedup(Pausing(1), data, source, dump, MinHashParams(num_perm=128, bands=25, ngram=5))
"""


def namespaced(*args: str, pad: int) -> list[str]:
    cmd = " ".join(["/bin/true;"] * pad + ['"$@";', "exit $?"])
    return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", cmd, "sh", *args]


def digests(d: Path) -> dict:
    """Every committed file's sha256; not `_stat.json`, this host's record of the mtimes it verified."""
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.name.startswith(".") and p.name != STAT}


@pytest.fixture(scope="module")
def can_unshare():
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    r = subprocess.run(namespaced("true", pad=0), capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot make PID namespaces here: {r.stderr.decode().strip()}")


@pytest.mark.parametrize("engine", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_a_paused_run_survives_another_hosts_run_on_shared_scratch(can_unshare, engine, tmp_path):
    if engine == "ray":
        pytest.importorskip("ray")
    dumps, data, alone, flags = tmp_path / "dumps", tmp_path / "data", tmp_path / "alone", tmp_path / "flags"
    flags.mkdir()
    for source, dump in (A, B):
        shutil.copytree(bundled_dumps_dir() / source / dump, dumps / source / dump)
        curation.ingest(LocalEngine(1), data, dumps, source, dump)
    shutil.copytree(data, alone)
    curation.dedup(LocalEngine(1), alone, *A, MinHashParams(num_perm=128, bands=25, ngram=5))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("RAY_ADDRESS", None)  # each run starts its own one-CPU Ray
    run_a = subprocess.Popen(namespaced(sys.executable, "-c", DRIVER, str(data), *A, str(flags), engine, pad=40), env=env)
    try:
        for _ in range(1800):
            if (flags / "paused").exists() or run_a.poll() is not None:
                break
            time.sleep(0.1)
        assert (flags / "paused").exists(), "run A never reached its pause"
        scratch = [p for p in (data / "tmp").iterdir() if p.is_dir()]
        assert len(scratch) == 1 and any(scratch[0].rglob("*.parquet"))
        subprocess.run(namespaced(sys.executable, "-c", DRIVER, str(data), *B, "-", engine, pad=0), env=env,
                       check=True, timeout=300)
        assert scratch[0].is_dir() and any(scratch[0].rglob("*.parquet")), "run B removed A's live scratch"
        (flags / "resume").write_text("")
        assert run_a.wait(timeout=300) == 0
    finally:
        if run_a.poll() is None:
            run_a.kill()
    part = Path("deduplicated", *A)
    assert digests(data / part) == digests(alone / part) != {}
    assert digests(data / "dropped" / part) == digests(alone / "dropped" / part)
    assert [p.name for p in (data / "tmp").iterdir()] == []
