"""CommonCrawl: WARC response records (HTML -> main text with resiliparse) and WET conversion records (text as is).

Layout: `<dump>/commoncrawl/<snapshot>/*.warc.gz | *.warc | *.warc.wet.gz | *.wet.gz | *.wet`; the first
sub-folder is the snapshot name (e.g. CC-MAIN-2024-22). One document per response/conversion record; other
record types (warcinfo, request, metadata, resource) are not documents and are not counted.
Origin: `<file>#<offset of the record in the decompressed stream>`.

A record whose body is over `limits.record_bytes` is a counted skip (`too_large`) decided from its
Content-Length before anything is read; fastwarc then skips the body in chunks. A stream that holds no
record header within that many bytes (e.g. a gzip of zeros) is a ReaderError, so fastwarc never buffers
an unbounded header line.

Gzip is decompressed by Python's gzip module (not fastwarc's own reader) because it raises on a stream
that ends early, where fastwarc silently stops: a truncated download must not look like a short dump.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Iterator

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from pipelines.document import Document
from pipelines.readers.base import ReadContext, ReaderError, decode_utf8, list_files, open_regular

WARC_SUFFIXES = (".warc.gz", ".warc")
WET_SUFFIXES = (".wet.gz", ".wet")
HTML_TYPES = ("text/html", "application/xhtml+xml")


def _uri(record) -> str | None:
    uri = record.headers.get("WARC-Target-URI")
    return uri.strip("<>") if uri else None  # WARC/1.0 writers such as wget wrap it in <>


def html_to_text(html: bytes, charset: str | None) -> str:
    """Main-content text of an HTML page (boilerplate such as menus and footers removed)."""
    enc = charset or detect_encoding(html)
    page = bytes_to_str(html, enc)  # falls back to detection, replaces undecodable bytes
    return extract_plain_text(page, main_content=True, preserve_formatting=True, list_bullets=False,
                              alt_texts=False).strip()


class _Bounded:
    """The decompressed stream fastwarc reads, failing when it runs more than `gap` bytes past the end
    of the last record's body without a new record: a header line, or junk between records, that long
    is a bomb, and fastwarc would hold it whole."""

    def __init__(self, raw, gap: int):
        self.raw, self.gap, self.pos, self.mark = raw, gap, 0, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and 0 <= n <= (1 << 20) else 1 << 20)
        self.pos += len(data)
        if self.pos - self.mark > self.gap:
            raise OSError(f"no WARC record header within {self.gap} bytes after offset {self.mark}")
        return data

    def tell(self) -> int:
        return self.pos

    def readable(self) -> bool:
        return True

    def allow(self, start: int, nbytes: int) -> None:
        """A record starting at `start` (stream offset) with an nbytes body is being read."""
        self.mark = max(self.mark, start + nbytes)


def _records(ctx: ReadContext, path: Path):
    """(record, body bytes or None when over the cap) of response and conversion records; ReaderError on
    a broken container."""
    last, cap = 0, ctx.limits.record_bytes
    fh = open_regular(ctx, path, ctx.origin(path))
    if fh is None:
        return
    try:
        with fh, (gzip.GzipFile(fileobj=fh, mode="rb") if path.name.endswith(".gz") else fh) as raw:
            # fastwarc buffers ahead: leave it a margin of a few of its buffers besides the header
            stream = _Bounded(raw, cap + (4 << 20))
            # Every record type is iterated (not filtered by fastwarc) so that the guard sees each body.
            for record in ArchiveIterator(stream, parse_http=True, stream_detect=False):
                last = record.stream_pos
                stream.allow(last, record.content_length)
                if record.record_type not in (WarcRecordType.response, WarcRecordType.conversion):
                    continue
                if record.content_length > cap:
                    yield record, None  # not read: fastwarc skips the body in chunks
                    continue
                body = record.reader.read()
                if len(body) < record.content_length:
                    raise ReaderError(path, f"truncated WARC record: {len(body)} of {record.content_length} "
                                            f"bytes", offset=last)
                yield record, body
    except ReaderError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError; fastwarc raises OSError
        raise ReaderError(path, f"corrupt or truncated WARC/gzip after record at offset {last}: {e}",
                          offset=last) from e


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, WARC_SUFFIXES + WET_SUFFIXES)


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    snapshot = ctx.dump  # a dump of the commoncrawl source is one snapshot (e.g. CC-MAIN-2019-30)
    for record, body in _records(ctx, path):
        if body is None:
            cap = ctx.limits.record_bytes
            ctx.skip("too_large", ctx.origin(path, record.stream_pos),
                     f"record body {record.content_length} bytes > {cap}", record.content_length)
            continue
        # WARC files hold responses and WET files conversions, but either type is read wherever it is.
        if record.record_type == WarcRecordType.response:
            doc = _from_response(ctx, ctx.origin(path, record.stream_pos), record, body)
        else:
            doc = _from_conversion(ctx, ctx.origin(path, record.stream_pos), record, body)
        if doc is not None:
            doc.snapshot = snapshot
            doc.timestamp = record.headers.get("WARC-Date")
            yield doc


def _from_response(ctx: ReadContext, origin: str, record, body: bytes) -> Document | None:
    if record.http_headers is None:  # no "Content-Type: application/http" in the WARC header
        ctx.skip("not_http", origin, record.headers.get("Content-Type") or "no content type", len(body))
        return None
    status = record.http_headers.status_code
    if status != 200:
        ctx.skip("http_status", origin, f"HTTP {status}", len(body))
        return None
    ctype = (record.http_content_type or "").lower()
    if not ctype.startswith(HTML_TYPES):
        ctx.skip("not_html", origin, ctype or "no content type", len(body))
        return None
    text = html_to_text(body, record.http_charset)
    if not text:
        ctx.skip("empty_text", origin, "no main content extracted", len(body))
        return None
    return ctx.document(origin, text, url=_uri(record))


def _from_conversion(ctx: ReadContext, origin: str, record, body: bytes) -> Document | None:
    text, err = decode_utf8(body)
    if text is None:
        ctx.skip("invalid_utf8", origin, err, len(body))
        return None
    text = text.strip()
    if not text:
        ctx.skip("empty_text", origin, "empty conversion record", len(body))
        return None
    lang = record.headers.get("WARC-Identified-Content-Language")
    return ctx.document(origin, text, url=_uri(record), lang=lang.split(",")[0] if lang else None)
