"""Where the native dumps are: $LLAMA_DUMPS_DIR/<source>/<dump>/…; default the bundled samples."""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.document import SOURCES
from pipelines.samples import bundled_dumps_dir


class DumpsResource(dg.ConfigurableResource):
    root: str = ""  # empty: the bundled samples

    @property
    def root_path(self) -> Path:
        if "://" in self.root:
            # Readers open dump files by path (WARC, bz2 XML, git trees): mount the bucket instead.
            raise ValueError(f"LLAMA_DUMPS_DIR must be a local folder, got {self.root!r}: mount the bucket "
                             f"(e.g. s3fs / rclone mount) or copy the dump; LLAMA_DATA_DIR may be s3://")
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

    def dump_dir(self, source: str, dump: str) -> Path:
        """`<root>/<source>/<dump>`; a clear error when it is missing."""
        d = self.source_dir(source) / dump
        if not d.is_dir() or d.is_symlink():
            raise FileNotFoundError(f"no dump folder {d} (partition {source}/{dump}): was it moved or deleted? "
                                    f"`llama-pipeline register-dumps` lists the dumps found")
        return d

    def partition_keys(self, problems: list[str] | None = None) -> list[str]:
        """Every partition key `<source>/<dump>` found under the root (problems: see pipelines.dumps)."""
        from pipelines.dumps import find_dumps

        return find_dumps(self.root_path, problems)
