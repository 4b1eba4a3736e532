"""Finishing at interpreter exit: a run the user never finished is ended as `completed`, or
as `failed` when an uncaught exception is on its way out, so the dashboard never shows a run
stuck as running."""

from __future__ import annotations

import atexit
import sys
import weakref
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from .run import Run

_uncaught: List[BaseException] = []
_hook_installed = False


def install_excepthook() -> None:
    """Records uncaught exceptions (and still reports them as before)."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    prev = sys.excepthook

    def hook(tp: Any, value: Any, tb: Any) -> None:
        _uncaught.append(value)
        prev(tp, value, tb)

    sys.excepthook = hook


live_runs: "weakref.WeakSet[Run]" = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    for run in list(live_runs):
        try:
            if not run.finished:
                status = "failed" if _uncaught else "completed"
                run.finish(status, timeout=run._exit_timeout)
        except Exception:  # noqa: BLE001
            pass
