"""memory_limit: the least of physical memory, the process's cgroup limits (v1 and v2) and RLIMIT_AS."""
import os
import subprocess
import sys
from pathlib import Path

from common.host import memory_limit

PHYSICAL = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _tree(tmp_path, proc: str, files: dict) -> tuple:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    proc_file = tmp_path / "proc-cgroup"
    proc_file.write_text(proc)
    return proc_file, root


def test_a_v2_cgroup_limit_below_physical_memory_is_the_limit(tmp_path):
    proc, root = _tree(tmp_path, "0::/kubepods/pod1\n", {"kubepods/pod1/memory.max": "2147483648\n"})
    assert memory_limit(proc, root) == min(PHYSICAL, 2 << 30)


def test_a_v1_memory_controller_limit_counts_and_no_limit_does_not(tmp_path):
    proc, root = _tree(tmp_path, "9:pids:/\n4:memory:/job7\n0::/\n",
                       {"memory/job7/memory.limit_in_bytes": "1073741824", "memory.max": "max\n"})
    assert memory_limit(proc, root) == min(PHYSICAL, 1 << 30)
    proc, root = _tree(tmp_path / "b", "4:memory:/job7\n",
                       {"memory/job7/memory.limit_in_bytes": "9223372036854771712"})
    assert memory_limit(proc, root) == memory_limit(tmp_path / "missing", tmp_path / "none")  # no limit


def test_a_container_that_sees_its_cgroup_as_the_root_of_the_mount(tmp_path):
    # /proc/self/cgroup names a path outside the container's view: the mount's own root file is read
    proc, root = _tree(tmp_path, "0::/system.slice/docker-abc.scope\n", {"memory.max": "536870912"})
    assert memory_limit(proc, root) == min(PHYSICAL, 512 << 20)


def test_an_address_space_limit_counts(tmp_path):
    # in a child: lowering RLIMIT_AS here could fail the test process's own next allocation
    code = ("import resource, sys; from pathlib import Path; from common.host import memory_limit; "
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY)); "
            "print(memory_limit(Path(sys.argv[1]), Path(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none")], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).parents[2]).stdout
    assert int(out) == min(PHYSICAL, 3 << 30)


def test_unreadable_or_garbage_files_are_no_limit(tmp_path):
    proc, root = _tree(tmp_path, "garbage line without colons\n0::/x\n",
                       {"x/memory.max": "lots", "memory/memory.limit_in_bytes": "-1"})
    assert memory_limit(proc, root) == memory_limit(tmp_path / "missing", tmp_path / "none")
    assert memory_limit(tmp_path / "missing", tmp_path / "none") <= PHYSICAL
