"""The client's one way to tell the user something: a line on stderr, never an exception,
because a monitoring problem must not interrupt training."""

from __future__ import annotations

import sys


def warn(msg: str) -> None:
    print(f"gradwatch: {msg}", file=sys.stderr, flush=True)
