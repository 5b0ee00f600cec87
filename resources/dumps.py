"""Where the native dumps are: $LLAMA_DUMPS_DIR with one sub-folder per source; default the bundled samples."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.document import SOURCES
from pipelines.samples import bundled_dumps_dir


class DumpsResource(dg.ConfigurableResource):
    root: str = ""  # empty: the bundled samples

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve() if self.root else bundled_dumps_dir()

    def source_dir(self, source: str) -> Path:
        """The dump folder of one source; a clear error when it is missing."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; sources are {', '.join(SOURCES)}")
        d = self.root_path / source
        if not d.is_dir():
            raise FileNotFoundError(
                f"no dump folder for source {source!r}: expected {d} (LLAMA_DUMPS_DIR={self.root_path}); "
                f"create it with the native dump files, or unset LLAMA_DUMPS_DIR to use the bundled samples"
            )
        return d
