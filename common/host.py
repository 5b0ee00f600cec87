"""What this process may use of the machine, as the kernel enforces it, not as the hardware reports it.

A pod or container sees the host's physical memory in sysconf and /proc/meminfo, while its cgroup may
allow a small part of it. A tool told "10% of memory" (lmplz's `-S 10%`) then sizes its buffers from
the host: on a large host in a small container that is more than the container holds.
"""
from __future__ import annotations

import os
import resource
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_limit(path: Path) -> int | None:
    """A cgroup limit file's bytes, or None for none ("max", a v1 "no limit", unreadable)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < 1 << 60 else None  # v1 writes ~2^63 for no limit


def _cgroup_files(proc_cgroup: Path, root: Path) -> list[Path]:
    """The memory limit files of this process's cgroups (v2 and v1), then the mount's root files (a
    container often sees its own cgroup as the root of the mount)."""
    files = []
    try:
        lines = proc_cgroup.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        rel = path.lstrip("/")
        if controllers == "":
            files.append(root / rel / "memory.max")
        elif "memory" in controllers.split(","):
            files.append(root / "memory" / rel / "memory.limit_in_bytes")
    return files + [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]


def memory_limit(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> int:
    """Bytes of memory this process may use: the least of physical memory, its cgroup limits and its
    address-space limit."""
    limits = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    limits += [v for f in _cgroup_files(proc_cgroup, root) if (v := _read_limit(f)) is not None]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    return min(limits)
