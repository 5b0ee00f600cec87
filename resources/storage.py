"""Artifact storage rooted at $LLAMA_DATA_DIR (default ./data). Every write is atomic (see pipelines.io)."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines import io


class ArtifactStorage(dg.ConfigurableResource):
    """Artifacts are laid out as <root>/<asset>/<partition>/...; dropped documents under <root>/dropped/."""

    root: str = "data"

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """Where an artifact lives (nothing is created)."""
        return self.root_path.joinpath(*parts)

    def dir(self, *parts: str) -> Path:
        """Like path(), but makes sure the folder exists."""
        p = self.path(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def write_text(self, text: str, *parts: str) -> Path:
        return io.write_text(self.path(*parts), text)

    def write_bytes(self, data: bytes, *parts: str) -> Path:
        return io.write_bytes(self.path(*parts), data)

    def atomic(self, *parts: str):
        """Context manager yielding a temp path renamed to <root>/<parts> on success (file or folder)."""
        return io.atomic_path(self.path(*parts))
