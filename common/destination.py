"""Output folders of the commands that write one (convert, make-samples): never destroy what they did not write.

    with output_folder(dst, "convert --to hf", force=args.force, sources=[src]) as out:
        export_hf(src, out)              # writes a fresh folder `out`; its files are then moved into dst

The rule: dst must be missing, empty, or the same command's earlier output (its marker file
`.llama-pipeline-output.json` lists the files it wrote); `force=True` also accepts a folder with other
files in it, which are left alone. A file the command did not write is never replaced, even with force
(the command fails naming it), and from an earlier output only the files its marker lists are removed.
A destination that is a source, or contains one, or lies inside one, is refused.

The command writes into a temporary sibling folder first; a fresh destination is then one rename, an
existing one receives the files one rename each, the marker last.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator

MARKER = ".llama-pipeline-output.json"


class DestinationError(ValueError):
    """A destination the command refuses to write (one line, with what to do)."""


def _marker(dst: Path) -> dict | None:
    try:
        data = json.loads((dst / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None


def _inside(a: Path, b: Path) -> bool:
    return a == b or b in a.parents


def check_destination(dst: str | os.PathLike, command: str, force: bool = False,
                      sources: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Raise DestinationError if `command` may not write `dst`; else the files of its earlier output there."""
    dst = Path(dst)
    real = dst.resolve()
    for src in sources:
        s = Path(src).resolve()
        if _inside(real, s) or _inside(s, real):
            raise DestinationError(f"{dst}: the destination overlaps the source {src}; choose another folder")
    if dst.exists() and not dst.is_dir():
        raise DestinationError(f"{dst} exists and is not a folder")
    if not dst.is_dir() or not any(dst.iterdir()):
        return []
    mark = _marker(dst)
    if mark is not None and mark.get("command") == command:
        return [f for f in mark["files"] if isinstance(f, str)]
    if not force:
        what = f"the output of `{mark.get('command')}`" if mark else "files this command did not write"
        raise DestinationError(f"{dst} is not empty ({what}); choose an empty or new folder, or pass --force "
                               "to add the output beside them (nothing already there is deleted)")
    return [f for f in mark["files"] if isinstance(f, str)] if mark else []


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink())


def _safe(dst: Path, rel: str) -> Path | None:
    """dst/rel if rel stays inside dst (a marker is a file a user could edit)."""
    p = dst / rel
    return p if not os.path.isabs(rel) and ".." not in Path(rel).parts else None


def commit_folder(tmp: Path, dst: Path, command: str, previous: list[str]) -> list[str]:
    """Move the files of `tmp` into `dst` (see the module doc); return the relative paths written."""
    new = _files(tmp)
    ours = set(previous)
    clash = [f for f in new if f not in ours and (dst / f).exists()]
    if clash:
        raise DestinationError(f"{dst / clash[0]} exists and was not written by `{command}`"
                               + (f" (and {len(clash) - 1} more)" if len(clash) > 1 else "")
                               + ": move it away or choose another folder")
    record = {"command": command, "files": new}
    if not dst.exists():
        (tmp / MARKER).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, dst)
        return new
    for f in new:
        target = dst / f
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / f, target)
    for f in sorted(ours - set(new)):      # stale files of the earlier output, and only those
        p = _safe(dst, f)
        if p is not None and (p.is_file() or p.is_symlink()):
            p.unlink()
            for parent in p.parents:       # folders it leaves empty, up to dst
                if parent == dst or not parent.is_relative_to(dst):
                    break
                with contextlib.suppress(OSError):
                    parent.rmdir()
    tmp_marker = dst / f".{MARKER}.tmp-{uuid.uuid4().hex[:8]}"
    tmp_marker.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_marker, dst / MARKER)
    return new


@contextlib.contextmanager
def output_folder(dst: str | os.PathLike, command: str, force: bool = False,
                  sources: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a path (not yet existing) for the command to write its folder to; on success its files go to
    dst by the rules above, on failure nothing in dst changes. The temporary folder is always removed."""
    dst = Path(dst)
    previous = check_destination(dst, command, force, sources)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp / "out"
        out = tmp / "out"
        if not out.is_dir():
            out.mkdir()
        commit_folder(out, dst, command, previous)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
