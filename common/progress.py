"""Progress of a long loop: done/total, rate, elapsed and ETA, logged at most every ~10 s.

    bar = Progress("rlhf_v2 sampling", total=3200, unit="answers", log=context.log.info)
    for chunk in chunks:
        ...
        bar.update(len(chunk))          # or bar(done, total) from a library's callback
    bar.close()                         # one last line with the totals

Libraries take a plain callback `progress(done, total)` (a `Progress` is one), so they need no import
of this module and no Dagster. The log gets a line when the loop starts, then at most one per `every`
seconds, then one at the end: a 40-hour PPO run logs ~15,000 lines, a 40 s one about five. On a
terminal (stderr is a TTY) a bar is redrawn in place as well, at most 5 times a second.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

LOG_EVERY_S = 10.0
BAR_EVERY_S = 0.2
BAR_WIDTH = 30


def duration(seconds: float) -> str:
    """'42s', '3m05s', '2h07m'."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Counts work done out of `total` (None: unknown, then no percentage or ETA) and reports it."""

    def __init__(self, label: str, total: int | None = None, unit: str = "steps",
                 log: Callable[[str], None] | None = None, every: float = LOG_EVERY_S,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit = label, total, unit
        self.log, self.every, self.clock = log, every, clock
        self.stream = stream if stream is not None else (sys.stderr if _is_tty(sys.stderr) else None)
        self.done = 0
        self.start = clock()
        self._last_log = None          # None: nothing logged yet (the first update logs at once)
        self._logged_end = False       # reaching total logs the final line at once; close() does not repeat it
        self._last_bar = -1e9
        self._closed = False

    # A library callback: progress(done, total) with absolute numbers.
    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        self._report()

    def update(self, n: int = 1) -> None:
        self.done += n
        self._report()

    def line(self) -> str:
        """'label: 120/800 steps (15%), 12.3 steps/s, elapsed 10s, ETA 55s'."""
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.label}: {self.done:,}" + (f"/{self.total:,}" if self.total else "") + f" {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{rate:,.3g} {self.unit}/s" if rate < 100 else f"{rate:,.0f} {self.unit}/s")
        parts.append(f"elapsed {duration(elapsed)}")
        if self.total and self.done < self.total:
            parts.append(f"ETA {duration((self.total - self.done) / rate)}" if rate > 0 else "ETA ?")
        return ", ".join(parts)

    def _report(self) -> None:
        now = self.clock()
        end = self.total is not None and self.done >= self.total
        if self.log is not None and (self._last_log is None or now - self._last_log >= self.every or end):
            self._last_log = now
            self._logged_end = end
            self.log(self.line())
        if self.stream is not None and now - self._last_bar >= BAR_EVERY_S:
            self._last_bar = now
            self._draw()

    def _draw(self, end: str = "") -> None:
        filled = int(BAR_WIDTH * self.done / self.total) if self.total else 0
        bar = "#" * min(filled, BAR_WIDTH) + "." * (BAR_WIDTH - min(filled, BAR_WIDTH))
        self.stream.write(f"\r[{bar}] {self.line()}\033[K{end}")
        self.stream.flush()

    def close(self) -> None:
        """Log the final line (once), and end the bar's line."""
        if self._closed:
            return
        self._closed = True
        if self.log is not None and not self._logged_end:
            self.log(self.line())
        if self.stream is not None:
            self._draw(end="\n")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_for(log: Callable[[str], None] | None, label: str, unit: str = "steps") -> Progress | None:
    """A Progress reporting to `log`, or None when there is no log (the library then skips its calls)."""
    return Progress(label, unit=unit, log=log) if log is not None else None
