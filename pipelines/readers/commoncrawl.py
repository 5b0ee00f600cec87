"""CommonCrawl: WARC response records (HTML -> main text with resiliparse) and WET conversion records (text as is).

Layout: `<dump>/commoncrawl/<snapshot>/*.warc.gz | *.warc | *.warc.wet.gz | *.wet.gz | *.wet`; the first
sub-folder is the snapshot name (e.g. CC-MAIN-2024-22). One document per response/conversion record; other
record types (warcinfo, request, metadata, resource) are not documents and are not counted.
Origin: `<file>#<offset of the record in the decompressed stream>`.

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
from pipelines.readers.base import ReadContext, ReaderError, decode_utf8, list_files

WARC_SUFFIXES = (".warc.gz", ".warc")
WET_SUFFIXES = (".wet.gz", ".wet")
HTML_TYPES = ("text/html", "application/xhtml+xml")


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _uri(record) -> str | None:
    uri = record.headers.get("WARC-Target-URI")
    return uri.strip("<>") if uri else None  # WARC/1.0 writers such as wget wrap it in <>


def html_to_text(html: bytes, charset: str | None) -> str:
    """Main-content text of an HTML page (boilerplate such as menus and footers removed)."""
    enc = charset or detect_encoding(html)
    page = bytes_to_str(html, enc)  # falls back to detection, replaces undecodable bytes
    return extract_plain_text(page, main_content=True, preserve_formatting=True, list_bullets=False,
                              alt_texts=False).strip()


def _records(ctx: ReadContext, path: Path):
    """(record, body bytes) of response and conversion records; ReaderError on a broken container."""
    last = 0
    try:
        with _open(path) as fh:
            it = ArchiveIterator(fh, record_types=WarcRecordType.response | WarcRecordType.conversion,
                                 parse_http=True, stream_detect=False)
            for record in it:
                last = record.stream_pos
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
