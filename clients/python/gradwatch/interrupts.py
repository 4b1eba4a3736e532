"""Ctrl-C held back while gradwatch is in the middle of something that must not be cut.

Python raises KeyboardInterrupt between any two bytecodes of the main thread. Raised inside a
write to the overflow file, it leaves a half-written line and counters that disagree with the
file; raised inside an import's send, it can leave a step half-queued. Inside `HeldInterrupt`
the first Ctrl-C only sets `requested`; the code checks it at a point where stopping is safe.
A second Ctrl-C still interrupts at once, so a user can always get out.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType


class HeldInterrupt:
    """Holds SIGINT back on the main thread while Python's own handler is the installed one.
    Anywhere else (another thread, a handler the application installed, a nested guard) it
    changes nothing and `requested` stays False."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False

    def __enter__(self) -> HeldInterrupt:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, tp: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


def raise_if_requested(held: HeldInterrupt) -> None:
    """Raises the KeyboardInterrupt that `held` kept back, now that it is safe to."""
    if held.requested:
        held.requested = False
        raise KeyboardInterrupt
