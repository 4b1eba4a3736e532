"""A progress line on stderr for long imports: redrawn in place on a terminal, a plain line
every 10 s otherwise (logs, CI), nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


class Progress:
    def __init__(self, total_bytes: int, quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.total = max(total_bytes, 1)
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last = 0.0
        self._every = 0.25 if self.tty else 10.0
        self._drawn = False
        self.done_before = 0  # bytes of the runs already finished

    def update(self, done_in_run: int, label: str, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not force and now - self._last < self._every:
            return
        self._last = now
        done = min(self.done_before + done_in_run, self.total)
        frac = done / self.total
        rate = done / max(now - self.start, 1e-6)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        text = (f"importing {label} [{bar}] {frac * 100:5.1f}% {_mb(done)}/{_mb(self.total)} "
                f"{_mb(rate)}/s eta {eta:4.0f} s")
        if self.tty:
            self.stream.write("\r" + text[:160] + "\x1b[K")
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        if self._drawn and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
