"""Paths that may live on object storage: a local folder, or an `s3://bucket/prefix` URI (pyarrow S3).

    from pipelines.fs import as_path, read_table, parquet_file
    p = as_path("s3://bucket/data") / "quality_filtered" / "books"   # a RemotePath
    p = as_path("/data") / "quality_filtered" / "books"               # a plain pathlib.Path

`as_path` returns a `pathlib.Path` for local paths (so local code and the local on-disk format are
unchanged) and a `RemotePath` for `s3://` URIs: the small part of the Path interface the data layer
uses (`/`, name, parent, exists, is_file, is_dir, iterdir, glob, read/write, unlink), over a pyarrow
S3FileSystem. A RemotePath deliberately has no `__fspath__`: code that would open it as a local file
fails (TypeError) instead of silently writing a local folder named `s3:`.

Semantics on object storage (no rename, no locks): an object appears whole when its upload ends, so
writers put the final name directly; commits are "unique content-named files, then the manifest
last" (pipelines/partition.py). A folder upload (`upload`) replaces its files one by one.

Connection settings come from the usual AWS variables: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN (or any pyarrow credential source), AWS_REGION or AWS_DEFAULT_REGION, and
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for an S3-compatible server (MinIO, moto), e.g.
`http://127.0.0.1:9000` (the scheme picks http or https).
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs
import pyarrow.parquet as pq

SCHEMES = ("s3",)


class RemotePath:
    """`s3://bucket/key` with a Path-like interface; objects under it are read and written via pyarrow."""

    __slots__ = ("key",)

    def __init__(self, uri: str):
        scheme, _, rest = str(uri).partition("://")
        if scheme != "s3" or not rest.strip("/"):
            raise ValueError(f"not an s3://bucket/... URI: {uri!r}")
        self.key = "/".join(part for part in rest.split("/") if part)   # bucket/prefix/..., no empty parts

    # -- names -------------------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"s3://{self.key}"

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, RemotePath) and other.key == self.key

    def __hash__(self) -> int:
        return hash(("s3", self.key))

    def __lt__(self, other: RemotePath) -> bool:
        return self.key < other.key

    def __truediv__(self, other) -> RemotePath:
        return RemotePath(f"s3://{self.key}/{other}")

    def joinpath(self, *parts) -> RemotePath:
        return RemotePath("/".join([str(self), *map(str, parts)]))

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def parent(self) -> RemotePath:
        head = self.key.rsplit("/", 1)[0]
        return RemotePath(f"s3://{head}")

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        return PurePosixPath(posixpath.relpath(self.key, other.key))

    def as_posix(self) -> str:
        return str(self)

    # -- the filesystem ----------------------------------------------------------------------------
    @property
    def fs(self) -> pafs.FileSystem:
        return s3_filesystem()

    def _type(self) -> pafs.FileType:
        return self.fs.get_file_info(self.key).type

    def exists(self) -> bool:
        return self._type() != pafs.FileType.NotFound

    def is_file(self) -> bool:
        return self._type() == pafs.FileType.File

    def is_dir(self) -> bool:
        return self._type() == pafs.FileType.Directory

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: object stores have no folders (a prefix exists once an object is under it)."""

    def iterdir(self) -> Iterator[RemotePath]:
        sel = pafs.FileSelector(self.key, allow_not_found=True, recursive=False)
        for info in sorted(self.fs.get_file_info(sel), key=lambda i: i.path):
            yield RemotePath(f"s3://{info.path}")

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        """Direct children whose name matches `pattern` (no "**", no "/")."""
        if "/" in pattern:
            raise ValueError(f"RemotePath.glob takes a name pattern, got {pattern!r}")
        return (p for p in self.iterdir() if fnmatch.fnmatchcase(p.name, pattern))

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.key) as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        """One PUT: readers see the previous object or this one, never a part."""
        with self.fs.open_output_stream(self.key) as f:
            f.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def open(self, mode: str = "rb"):
        if mode in ("r", "rb"):
            return self.fs.open_input_file(self.key)
        if mode in ("w", "wb"):
            return self.fs.open_output_stream(self.key)
        raise ValueError(f"RemotePath.open supports 'rb' and 'wb', got {mode!r}")


AnyPath = Path | RemotePath


def is_remote(path) -> bool:
    return isinstance(path, RemotePath) or (isinstance(path, str) and "://" in path and not path.startswith("file://"))


def as_path(path) -> AnyPath:
    """A Path for local paths (and file:// URIs), a RemotePath for s3:// URIs; anything else is an error."""
    if isinstance(path, RemotePath):
        return path
    s = os.fspath(path)
    if isinstance(path, Path):
        if s.startswith(tuple(f"{scheme}:/" for scheme in SCHEMES)):
            # Path("s3://b/k") is the local path "s3:/b/k": a URI went through pathlib somewhere.
            raise ValueError(f"{s!r} looks like an object-storage URI turned into a local path: "
                             f"keep it a str or use pipelines.fs.as_path")
        return path
    if s.startswith("file:"):
        return _file_uri(s)
    if "://" in s:
        scheme = s.split("://", 1)[0]
        if scheme not in SCHEMES:
            raise ValueError(f"unsupported storage URI {s!r}: use a local folder or s3://bucket/prefix")
        return RemotePath(s)
    if _URI_LIKE.match(s):
        # "s3:/bucket" or "gs:bucket" would silently become a local folder named "s3:" under the cwd
        raise ValueError(f"{s!r} looks like a URI but is not one we read: use a local folder (./{s} if that is "
                         "what you mean), file:///absolute/path or s3://bucket/prefix")
    return Path(s)


_URI_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _file_uri(s: str) -> Path:
    """file:///abs/path (or file://localhost/abs/path) -> /abs/path; other forms are refused."""
    u = urlparse(s)
    if not s.startswith("file://") or u.netloc not in ("", "localhost") or not u.path.startswith("/"):
        raise ValueError(f"{s!r}: a file URI must be file:///absolute/path (three slashes)")
    if u.query or u.fragment:
        raise ValueError(f"{s!r}: a file URI with a query or fragment is not a folder")
    return Path(unquote(u.path))


def plain(path) -> Path | str:
    """What to hand to code that takes `str | PathLike`: a Path stays a Path, a remote path becomes its URI."""
    p = as_path(path)
    return str(p) if isinstance(p, RemotePath) else p


def _env_key() -> tuple:
    names = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return tuple(os.environ.get(n) for n in names)


def s3_filesystem() -> pafs.S3FileSystem:
    """The S3 filesystem for the current AWS_* settings (one per distinct setting, per process)."""
    return _s3(_env_key())


@lru_cache(maxsize=8)
def _s3(env: tuple) -> pafs.S3FileSystem:
    endpoint = env[0] or env[1]
    kwargs: dict = {}
    if endpoint:
        u = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        kwargs.update(endpoint_override=u.netloc, scheme=u.scheme)
    region = env[2] or env[3]
    if region:
        kwargs["region"] = region
    if env[4] and env[5]:
        kwargs.update(access_key=env[4], secret_key=env[5], session_token=env[6])
    return pafs.S3FileSystem(**kwargs)


def scratch_dir() -> Path:
    """Local scratch space for work on object-storage roots: $LLAMA_TMP_DIR, else the system temp folder."""
    d = Path(os.environ.get("LLAMA_TMP_DIR") or tempfile.gettempdir())
    d.mkdir(parents=True, exist_ok=True)
    return d


def fs_and_path(path) -> tuple[pafs.FileSystem, str]:
    p = as_path(path)
    if isinstance(p, RemotePath):
        return p.fs, p.key
    return pafs.LocalFileSystem(), str(p)


# -- Parquet ---------------------------------------------------------------------------------------
def parquet_file(path) -> pq.ParquetFile:
    p = as_path(path)
    if isinstance(p, RemotePath):
        return pq.ParquetFile(p.fs.open_input_file(p.key))
    return pq.ParquetFile(p)


def read_table(path, **kwargs):
    fs, key = fs_and_path(path)
    return pq.read_table(key, filesystem=fs, **kwargs)


def read_schema(path):
    fs, key = fs_and_path(path)
    with fs.open_input_file(key) as f:
        return pq.read_schema(f)


def dataset(files: list):
    """A pyarrow dataset over Parquet files (local or on one object store), for DuckDB to scan without
    its httpfs extension: `con.register(name, dataset(files))`."""
    import pyarrow.dataset as ds

    fs, _ = fs_and_path(files[0])
    return ds.dataset([fs_and_path(f)[1] for f in files], filesystem=fs, format="parquet")


def register_parquet(con, name: str, files: list) -> None:
    """Make `name` a DuckDB view over the files: read_parquet when local (unchanged plan, spilling),
    a pyarrow dataset scan when any file is remote."""
    if any(is_remote(f) for f in files):
        con.register(name, dataset(files))
    else:
        con.read_parquet([str(f) for f in files]).create_view(name, replace=True)


def copy_from_parquet(con, table: str, files: Iterable, select: str, batch: int) -> int:
    """CREATE TABLE `table` AS SELECT `select` FROM the Parquet files, scanned `batch` files at a time:
    DuckDB holds reader state per file of a scan, so one scan of a partition's 80,000 files would hold
    it for all of them. `files` may be a stream. Returns the number of files (no table when none)."""
    import duckdb

    try:  # DuckDB >= 1.3 caches the bytes of the files it read, evicted only near its memory limit
        con.execute("SET enable_external_file_cache = false")  # each file is read once here
    except duckdb.Error:
        pass  # an older DuckDB: no such cache
    n = 0
    for chunk in batches(files, batch):
        register_parquet(con, "_chunk", chunk)
        con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM _chunk" if not n else
                    f"INSERT INTO {table} SELECT {select} FROM _chunk")  # each chunk replaces the last
        n += len(chunk)
    return n


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` consecutive items (the last one shorter), taken from `items` as they come."""
    batch: list = []
    for x in items:
        batch.append(x)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- whole files and folders -----------------------------------------------------------------------
def file_sha256(path) -> str:
    h = hashlib.sha256()
    p = as_path(path)
    with (p.open("rb") if isinstance(p, RemotePath) else open(p, "rb")) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def upload(local: str | os.PathLike, remote) -> None:
    """Copy a local file, or a folder's files, to `remote` (after the local write succeeded).
    A folder's stale remote files (not in the local folder) are removed after the copy."""
    local, remote = Path(local), as_path(remote)
    if not isinstance(remote, RemotePath):
        raise TypeError(f"upload target must be remote, got {remote}")
    if local.is_dir():
        names = set()
        for p in sorted(q for q in local.rglob("*") if q.is_file()):
            rel = p.relative_to(local).as_posix()
            names.add(rel)
            upload(p, remote / rel)
        sel = pafs.FileSelector(remote.key, allow_not_found=True, recursive=True)
        for info in remote.fs.get_file_info(sel):
            if info.type == pafs.FileType.File and posixpath.relpath(info.path, remote.key) not in names:
                remote.fs.delete_file(info.path)
        return
    with open(local, "rb") as src, remote.fs.open_output_stream(remote.key) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def download(remote, local: str | os.PathLike) -> Path:
    """Copy a remote file or folder to a local path, atomically (temp + rename)."""
    remote, local = as_path(remote), Path(local)
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=local.parent, prefix=f".{local.name}.tmp-"))
    try:
        if remote.is_dir():
            sel = pafs.FileSelector(remote.key, recursive=True)
            for info in remote.fs.get_file_info(sel):
                if info.type == pafs.FileType.File:
                    dst = tmp / posixpath.relpath(info.path, remote.key)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(RemotePath(f"s3://{info.path}").read_bytes())
            if local.exists():
                shutil.rmtree(local) if local.is_dir() else local.unlink()
            os.replace(tmp, local)
        else:
            (tmp / "f").write_bytes(remote.read_bytes())
            os.replace(tmp / "f", local)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return local


def local_copy(path, tag: str = "") -> Path:
    """A local copy of a (remote) file or folder that code must open by path (models); a local path is
    returned as is. Copies are cached under the temp folder by URI and `tag` (e.g. a content stamp)."""
    p = as_path(path)
    if not isinstance(p, RemotePath):
        return p
    digest = hashlib.sha256(f"{p}\0{tag}".encode()).hexdigest()[:16]
    local = scratch_dir() / "llama-pipeline-cache" / f"{digest}-{p.name}"
    if not local.exists():
        download(p, local)
    return local
