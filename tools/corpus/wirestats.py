"""Tensor statistics exactly as docs/protocol.md defines them and the Python client computes
them (gradwatch/stats.py): over the finite elements, `nonFinite` counting the rest,
`fracDeadUnits` per unit (a neuron or channel zero for every example and position), and
`fracSaturated` for bounded activations. Values are rounded to 4 significant digits and
non-finite numbers written as the wire's markers, so a fixture holds wire messages as sent."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import torch

SATURATION = {
    "sigmoid": (0.01, 0.99),
    "tanh": (-0.99, 0.99),
}


def wire(v: float) -> Any:
    """A number for the wire: 4 significant digits, NaN/Infinity as marker strings."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return 0
    r = float(f"{v:.4g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def stats(t: torch.Tensor, act: bool = False, activation: Optional[str] = None,
          unit_dim: int = -1) -> Dict[str, Any]:
    x = t.detach().to(torch.float64)
    flat = x.reshape(-1)
    n_all = flat.numel()
    fin = torch.isfinite(flat)
    bad = int(n_all - int(fin.sum()))
    xf = flat[fin] if bad else flat
    n = xf.numel()
    if n == 0:
        out: Dict[str, Any] = {k: "NaN" for k in ("mean", "std", "meanAbs", "min", "max", "norm")}
    else:
        mean = float(xf.mean())
        var = float(((xf - mean) ** 2).mean())
        out = {
            "mean": wire(mean), "std": wire(math.sqrt(max(var, 0.0))),
            "meanAbs": wire(float(xf.abs().mean())), "min": wire(float(xf.min())),
            "max": wire(float(xf.max())), "norm": wire(float(torch.linalg.vector_norm(xf))),
        }
    out["nonFinite"] = bad
    if act and n_all > 0:
        out["fracZero"] = wire(float((flat == 0).sum()) / n_all)
        if x.dim() >= 2:
            d = unit_dim % x.dim()
            others = tuple(i for i in range(x.dim()) if i != d)
            units = x.shape[d]
            dead = int((x.abs().nan_to_num(nan=1.0).amax(dim=others) == 0).sum())
            out["fracDeadUnits"] = wire(dead / max(1, units))
        sat = SATURATION.get(activation or "")
        if sat is not None:
            out["fracSaturated"] = wire(float(((flat < sat[0]) | (flat > sat[1])).sum()) / n_all)
    return out


def input_stats(t: torch.Tensor) -> Dict[str, Any]:
    s = stats(t)
    return {"mean": s["mean"], "std": s["std"], "min": s["min"], "max": s["max"],
            "nonFinite": s["nonFinite"]}
