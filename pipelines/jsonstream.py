"""JSON values read one at a time from a binary file, holding the text from the current value on only.

    s = JsonStream(open(path, "rb"))
    s.take("{"); key = s.value(); s.take(":"); ...

What pipelines/manifest.py iter_entries reads a manifest with: its list of files entry by entry.
"""
from __future__ import annotations

import codecs
import json
import re

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class JsonStream:
    """JSON values read one by one from a binary file, the text held from the current value on only."""

    def __init__(self, fh, read_bytes: int = 1 << 16):
        self.read_bytes = read_bytes
        self.fh, self.text, self.pos, self.eof = fh, "", 0, False
        self.decode = codecs.getincrementaldecoder("utf-8")().decode

    def _more(self) -> bool:
        if self.eof:
            return False
        data = self.fh.read(max(self.read_bytes, len(self.text) - self.pos))  # doubles for a long value
        self.eof = not data
        self.text = self.text[self.pos:] + self.decode(data, final=self.eof)
        self.pos = 0
        return not self.eof

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return ""

    def take(self, allowed: str) -> str:
        c = self.peek()
        if not c or c not in allowed:
            raise ValueError(f"expected one of {allowed!r}, found {c or 'the end of the file'!r}")
        self.pos += 1
        return c

    def value(self):
        self.peek()
        while True:
            try:
                v, end = _DECODER.raw_decode(self.text, self.pos)
                # A value that ends where the text read so far ends may go on (a number): read on.
                if end < len(self.text) or self.eof:
                    self.pos = end
                    return v
            except json.JSONDecodeError:
                if self.eof:
                    raise
            self._more()
