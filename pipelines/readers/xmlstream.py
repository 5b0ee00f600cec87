"""Streaming XML for the Wikipedia and StackExchange readers: defusedxml's hardened expat parser fed in
bounded chunks, with the reader's own target collecting only the fields it needs.

Why not ElementTree.iterparse: it builds each element whole, so one 2 GB `<text>` or `Body="..."` is
2 GB of memory before the reader sees it, and it uses whatever entity handling the runtime's expat has.
Here entity declarations and external references are refused (defusedxml), character data is counted
as it arrives (the target drops what is over its cap), and a single token that expat must buffer whole
(a start tag with a huge attribute, a huge comment) fails as soon as more than `max_token` bytes went in
without the parser reporting anything.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from pipelines.readers.base import ReaderError

CHUNK = 1 << 16


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Target:
    """Base of a reader's target: counts callbacks (progress) and queues finished records in `done`."""

    def __init__(self):
        self.events = 0
        self.done: list = []

    def start(self, tag: str, attrib: dict) -> None:
        self.events += 1

    def end(self, tag: str) -> None:
        self.events += 1

    def data(self, text: str) -> None:
        self.events += 1

    def close(self) -> None:
        return None


def feed(chunks: Iterable[bytes], path: str | Path, target: Target, max_token: int, where=lambda: "") -> Iterator:
    """Parse the byte chunks (each at most about `max_token` long) into `target`; yield the records it
    finishes, as they finish.

    Raises ReaderError naming the file for malformed XML, forbidden constructs (entities, external
    references) and tokens over `max_token` bytes. `where()` describes the last good record."""
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    fed, last_progress, events = 0, 0, -1
    try:
        for chunk in chunks:
            parser.feed(chunk)
            fed += len(chunk)
            if target.events != events:
                events, last_progress = target.events, fed
            elif fed - last_progress > max_token + len(chunk):
                raise ReaderError(path, f"an XML token longer than {max_token} bytes at byte {last_progress} of "
                                        f"the decompressed stream{where()}", offset=f"byte {last_progress}")
            if target.done:
                yield from target.done
                target.done.clear()
        parser.close()
        yield from target.done
        target.done.clear()
    except SyntaxError as e:  # ElementTree.ParseError (defusedxml's may be another module's class)
        line, col = getattr(e, "position", (0, 0))
        raise ReaderError(path, f"malformed XML at line {line}, column {col}{where()}: {e}",
                          offset=f"line {line}") from e
    except DefusedXmlException as e:
        raise ReaderError(path, f"refused XML construct ({type(e).__name__}: {e}){where()}") from e
    except (LookupError, ValueError) as e:  # an unknown or multi-byte encoding in the XML declaration
        raise ReaderError(path, f"unreadable XML ({type(e).__name__}: {e}){where()}") from e
