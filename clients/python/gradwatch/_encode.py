"""JSON encoding for the wire: NaN and +/-Infinity travel as the strings "NaN", "Infinity"
and "-Infinity" (JSON has no such numbers). With the optional `msgpack` package, sequenced
messages can travel as MessagePack binary frames instead (docs/protocol.md, "Binary frames"),
non-finite numbers as raw floats."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

try:  # optional (the `fast` extra): binary frames when the server accepts them
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - depends on the environment
    _msgpack = None


def _default(obj: Any) -> Any:
    """Numbers from numpy/torch become floats (or lists); anything else its str()."""
    item = getattr(obj, "item", None)
    if callable(item):
        with contextlib.suppress(Exception):  # best effort: str() below otherwise
            if getattr(obj, "ndim", 0) == 0 or getattr(obj, "size", None) == 1:
                return item()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        with contextlib.suppress(Exception):
            return tolist()
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


def dumps_local(obj: Any) -> str:
    """Compact JSON keeping non-finite floats as bare NaN/Infinity tokens, which Python's json
    reads back: for the client's own files only, never for the wire."""
    return _dumps(obj)


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


_MARKERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _unmark_flat(d: Any) -> None:
    """Markers among a flat dict's values (scalars, metrics, a stats object) to raw floats."""
    if isinstance(d, dict):
        for k, v in d.items():
            if v.__class__ is str and v in _MARKERS:
                d[k] = _MARKERS[v]


def _unmark(msg: dict[str, Any]) -> None:
    """Markers to raw floats where the protocol has measurements (steps, eval); a string field
    that merely reads "NaN" (a layer name, say) stays a string. Markers left anywhere else
    (optimizer hyper-parameters) are accepted by the server as they are."""
    t = msg.get("type")
    if t == "steps":
        for it in msg.get("items") or ():
            _unmark_flat(it.get("scalars"))
            _unmark_flat(it.get("inputs"))
            for ls in (it.get("layers") or {}).values():
                if isinstance(ls, dict):
                    for st in ls.values():
                        _unmark_flat(st)
    elif t == "eval":
        _unmark_flat(msg.get("metrics"))
        _unmark_flat(msg.get("inputs"))


def msgpack_available() -> bool:
    return _msgpack is not None


def to_msgpack(text: str) -> bytes:
    """A wire JSON message as MessagePack (the same object; NaN and +/-Infinity as floats)."""
    assert _msgpack is not None, "the msgpack package is not installed"
    msg = json.loads(text)
    if "NaN" in text or "Infinity" in text:
        _unmark(msg)
    out: bytes = _msgpack.packb(msg, use_bin_type=True)
    return out
