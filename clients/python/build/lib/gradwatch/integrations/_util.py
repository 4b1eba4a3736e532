from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional


def numeric(v: Any) -> Optional[float]:
    """A float for numbers and 0-d tensors; None for anything else."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    numel = getattr(v, "numel", None)
    if callable(numel):
        try:
            if numel() == 1:
                return float(v.detach().float().item())
        except Exception:  # noqa: BLE001
            return None
    return None


def plain_config(d: Mapping[str, Any]) -> Dict[str, Any]:
    """JSON-friendly copy of a config mapping (non-finite floats and objects as strings)."""
    out: Dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
            out[str(k)] = v
        elif isinstance(v, float):
            out[str(k)] = v if math.isfinite(v) else str(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str)) for x in v):
            out[str(k)] = list(v)
        else:
            out[str(k)] = str(v)[:200]
    return out


def strip_split(key: str, prefixes: tuple) -> Optional[str]:
    for p in prefixes:
        for sep in ("_", "/", "."):
            if key.startswith(p + sep):
                return key[len(p) + 1:]
    return None
