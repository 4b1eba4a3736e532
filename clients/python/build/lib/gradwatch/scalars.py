"""Scalars as the user logs them: which names may be sent, and turning numpy/torch values
into floats. Checked on the training thread, so an allowed name is checked only once."""

from __future__ import annotations

from typing import Any, Set

from ._warn import warn

# name prefixes of series the server derives itself
RESERVED = ("layer/", "inputs/", "eval/", "derived/")


def to_float(v: Any) -> float:
    if type(v) is float:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        item = getattr(v, "item", None)
        if callable(item):
            return float(item())
        raise


class ScalarNames:
    """Allowed scalar names seen so far; a bad name is warned about once and not sent."""

    def __init__(self) -> None:
        self.ok: Set[str] = set()
        self._warned: Set[str] = set()

    def check(self, k: str) -> bool:
        if k in self.ok:
            return True
        ok = (isinstance(k, str) and 0 < len(k) <= 200
              and not any(k.startswith(p) for p in RESERVED))
        if ok:
            self.ok.add(k)
        elif k not in self._warned:
            self._warned.add(k)
            warn(f"scalar name {k!r} is not allowed (empty, over 200 characters, or starting "
                 f"with one of {', '.join(RESERVED)}); it is not sent")
        return ok
