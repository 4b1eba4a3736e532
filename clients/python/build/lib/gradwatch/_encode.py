"""JSON encoding for the wire: NaN and +/-Infinity travel as the strings "NaN", "Infinity"
and "-Infinity" (JSON has no such numbers)."""

from __future__ import annotations

import json
import math
from typing import Any



def _default(obj: Any) -> Any:
    """Numbers from numpy/torch become floats (or lists); anything else its str()."""
    item = getattr(obj, "item", None)
    if callable(item):
        try:
            if getattr(obj, "ndim", 0) == 0 or getattr(obj, "size", None) == 1:
                return item()
        except Exception:  # noqa: BLE001 - best effort
            pass
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        try:
            return tolist()
        except Exception:  # noqa: BLE001
            pass
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    return str(obj)


_dumps = json.JSONEncoder(
    allow_nan=True, separators=(",", ":"), ensure_ascii=False, default=_default
).encode


def _sanitize(obj: Any) -> Any:
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        if math.isnan(obj):
            return "NaN"
        return "Infinity" if obj > 0 else "-Infinity"
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON with non-finite floats as marker strings.

    Fast path: encode with allow_nan and only sanitize when a bare NaN/Infinity token may be
    present (a key or string containing those letters merely takes the slow path)."""
    text = _dumps(obj)
    if "NaN" in text or "Infinity" in text:
        text = _dumps(_sanitize(obj))
    return text


def decode_num(v: Any) -> float:
    """Decodes a wire number (or marker string) into a float."""
    if isinstance(v, str):
        if v == "NaN":
            return math.nan
        if v == "Infinity":
            return math.inf
        if v == "-Infinity":
            return -math.inf
        return float(v)
    return float(v)
