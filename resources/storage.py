"""Artifact storage rooted at $LLAMA_DATA_DIR (default ./data), a local folder or an s3://bucket/prefix URI.

Every write is atomic: locally temp + rename (pipelines.io); on object storage a single PUT per file
(an object appears whole or not at all) and partitions committed by their manifest, written last
(pipelines.partition). Which artifacts live where when the root is s3:// (docs/architecture.md,
"Object storage"):
- on the object store: the curation partitions (raw_documents, deduplicated, language_identified,
  quality_filtered, their dropped rows under dropped/), quality_models and curation_report;
- in the local folder $LLAMA_LOCAL_DIR: everything opened by path or memory-mapped (tokenizer model,
  token shards, training runs and checkpoints, aligned models, reports). Without LLAMA_LOCAL_DIR
  those assets fail with an error that says so, instead of writing somewhere unexpected.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg

from pipelines import io
from pipelines.fs import RemotePath, as_path, is_remote, scratch_dir, upload

# Assets (first path part) that live on the object store when the root is remote.
OBJECT_STORE_ASSETS = frozenset({"raw_documents", "deduplicated", "language_identified", "quality_filtered",
                                 "dropped", "quality_models", "curation_report"})


class LocalOnlyArtifactError(RuntimeError):
    """A local-only artifact was asked for while LLAMA_DATA_DIR is remote and LLAMA_LOCAL_DIR is unset."""


class ArtifactStorage(dg.ConfigurableResource):
    """Artifacts are laid out as <root>/<asset>/<partition>/...; dropped documents under <root>/dropped/."""

    root: str = "data"

    @property
    def remote(self) -> bool:
        return is_remote(self.root)

    @property
    def root_path(self) -> Path | RemotePath:
        # as_path reads file:///abs as /abs and refuses other URIs ("file:///x" must not become ./file:/x)
        return as_path(self.root) if self.remote else as_path(self.root).expanduser().resolve()

    def local_root(self, asset: str = "") -> Path:
        """Where local-only artifacts live: the root itself when local, else $LLAMA_LOCAL_DIR."""
        if not self.remote:
            return self.root_path
        local = os.environ.get("LLAMA_LOCAL_DIR")
        if not local:
            raise LocalOnlyArtifactError(
                f"LLAMA_DATA_DIR is {self.root}: the artifact {asset!r} is opened by path or memory-mapped, so it "
                f"is kept on local disk; set LLAMA_LOCAL_DIR to a local folder for it (object storage holds "
                f"only {', '.join(sorted(OBJECT_STORE_ASSETS))})")
        return Path(local).expanduser().resolve()

    def path(self, *parts: str) -> Path | RemotePath:
        """Where an artifact lives (nothing is created): a RemotePath for the object-store assets when the
        root is s3://, a local Path otherwise."""
        if self.remote and parts and parts[0] not in OBJECT_STORE_ASSETS:
            return self.local_root(parts[0]).joinpath(*parts)
        return self.root_path.joinpath(*parts)

    def dir(self, *parts: str) -> Path | RemotePath:
        """Like path(), but makes sure the folder exists (nothing to make on object storage)."""
        p = self.path(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def write_text(self, text: str, *parts: str) -> Path | RemotePath:
        return self.write_bytes(text.encode("utf-8"), *parts)

    def write_bytes(self, data: bytes, *parts: str) -> Path | RemotePath:
        p = self.path(*parts)
        if isinstance(p, RemotePath):
            p.write_bytes(data)  # one PUT
            return p
        return io.write_bytes(p, data)

    def atomic(self, *parts: str):
        """Context manager yielding a temp path that becomes <root>/<parts> on success (file or folder).
        Remote: built in a local temp folder, then uploaded (files of a folder one by one, then its
        stale files removed)."""
        p = self.path(*parts)
        return _remote_atomic(p) if isinstance(p, RemotePath) else io.atomic_path(p)


@contextlib.contextmanager
def _remote_atomic(target: RemotePath):
    tmpdir = Path(tempfile.mkdtemp(prefix="llama-upload-", dir=scratch_dir()))
    try:
        tmp = tmpdir / target.name
        yield tmp
        upload(tmp, target)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
