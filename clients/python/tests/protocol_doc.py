"""The error-code table of docs/protocol.md, read from the document itself: the ground truth
the client's table is checked against and that the fake server acts on."""

from __future__ import annotations

import re
from pathlib import Path

PROTOCOL_MD = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
_ROW = re.compile(r"^\s*\| `([a-z_]+)` \| (rejected|retry|resend|reconnect|fatal) \|", re.M)


def doc_error_actions() -> dict[str, str]:
    """code -> action, in the document's order."""
    return dict(_ROW.findall(PROTOCOL_MD.read_text(encoding="utf-8")))


def codes_with(*actions: str) -> list:
    return [c for c, a in doc_error_actions().items() if a in actions]
