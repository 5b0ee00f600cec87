"""Accounting shared by readers and curation steps: what came in, what went on, what was dropped and why."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Counts of one stage on one partition. Invariant: read == kept + sum(dropped.values())."""

    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> documents
    bytes_in: int = 0
    bytes_kept: int = 0
    bytes_dropped: Counter = field(default_factory=Counter)  # reason -> UTF-8 bytes

    def keep(self, nbytes: int = 0) -> None:
        self.read += 1
        self.kept += 1
        self.bytes_in += nbytes
        self.bytes_kept += nbytes

    def drop(self, reason: str, nbytes: int = 0) -> None:
        self.read += 1
        self.dropped[reason] += 1
        self.bytes_in += nbytes
        self.bytes_dropped[reason] += nbytes

    @property
    def balanced(self) -> bool:
        return self.read == self.kept + sum(self.dropped.values())

    def merge(self, other: "Stats") -> "Stats":
        self.read += other.read
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.bytes_in += other.bytes_in
        self.bytes_kept += other.bytes_kept
        self.bytes_dropped.update(other.bytes_dropped)
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "Stats":
        """The inverse of as_dict (a manifest entry's `stats`)."""
        return cls(read=d["read"], kept=d["kept"], dropped=Counter(d["dropped"]), bytes_in=d["bytes_in"],
                   bytes_kept=d["bytes_kept"], bytes_dropped=Counter(d["bytes_dropped"]))

    def as_dict(self) -> dict:
        return {
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "bytes_in": self.bytes_in,
            "bytes_kept": self.bytes_kept,
            "bytes_dropped": dict(sorted(self.bytes_dropped.items())),
        }
