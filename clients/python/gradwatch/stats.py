"""Tensor statistics computed on the tensor's own device, without a host sync.

Every function here returns *device* tensors (lazy results); `Collector.resolve()` stacks all of
them and moves them to the host in one transfer, the single host sync of a reporting step.

All statistics are over the finite elements; `nonFinite` counts NaN/+-Inf elements. The common
all-finite case is computed with few kernels (sum, dot, sum of |x|, aminmax); a tensor found
non-finite after the sync is recomputed with masking (rare: the run is already broken).

Counts are summed in the tensor's own float dtype, so every statistic of a report shares one
dtype: stacking 0-d tensors of mixed dtypes costs several times more than the reductions of a
small layer (counts stay exact up to 2**24 elements in float32, and only ever become fractions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

Tensor = torch.Tensor

# activation saturation thresholds: output within 1% of the asymptotes
SATURATION = {
    "sigmoid": (0.01, 0.99),
    "tanh": (-0.99, 0.99),
    "hardsigmoid": (0.01, 0.99),
    "hardtanh": (-0.99, 0.99),
}

# The fields of a full stats object in the order of the flattened vector.
_BASE = ("mean", "var", "sumabs", "min", "max")


def _flat(t: Tensor) -> Tensor:
    t = t.detach()
    if not t.is_floating_point() or t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.reshape(-1)


def base_stats(t: Tensor, two_pass: bool = True, absx: Tensor | None = None
               ) -> list[Tensor]:
    """two_pass: [mean, sum((x-mean)^2), sum|x|, min, max]; otherwise [sum, sum(x^2), sum|x|,
    min, max]; 0-d device tensors.

    two_pass: variance from the centred values (exact when |mean| >> std: activations,
    inputs). Otherwise one pass, sum(x^2) with a dot product, mean and variance finished on
    the host in float64 (weights, gradients and updates are centred near zero). Both are an
    order of magnitude faster on CPU than torch.var_mean for weight-sized tensors."""
    x = _flat(t)
    mn, mx = torch.aminmax(x)
    ax = x.abs() if absx is None else absx.reshape(-1)
    if two_pass:
        mean = x.mean()
        d = x - mean
        return [mean, torch.dot(d, d), ax.sum(), mn, mx]
    return [x.sum(), torch.dot(x, x), ax.sum(), mn, mx]


def act_extra(t: Tensor, activation: str | None, unit_dim: int = -1,
              absx: Tensor | None = None) -> list[Tensor]:
    """[count == 0, dead units, count saturated] of an activation, as 0-d device tensors.

    A unit is a neuron (the last dim of a Linear-like output [B, ..., F]) or a channel (dim 1
    of a conv output [B, C, ...], unit_dim=1); it is dead when it is zero for every example of
    the batch and every other position."""
    x = t.detach()
    dt = x.dtype
    out = [x.eq(0).sum(dtype=dt)]
    if x.dim() >= 2 and x.numel() > 0:
        d = unit_dim % x.dim()
        others = tuple(i for i in range(x.dim()) if i != d)
        ax = x.abs() if absx is None else absx
        out.append(ax.amax(dim=others).eq(0).sum(dtype=dt))
    else:
        out.append(torch.zeros((), device=x.device, dtype=dt))
    sat = SATURATION.get(activation or "")
    if sat is not None:
        out.append(((x < sat[0]) | (x > sat[1])).sum(dtype=dt))
    return out


def _units(t: Tensor, unit_dim: int) -> int:
    if t.dim() >= 2 and t.numel() > 0:
        return int(t.shape[unit_dim % t.dim()])
    return 0


def masked_stats(t: Tensor) -> tuple[dict[str, float], int]:
    """Stats over the finite elements of t, and the count of non-finite ones (host values)."""
    x = _flat(t)
    finite = torch.isfinite(x)
    n_bad = int(x.numel() - int(finite.sum()))
    xf = x[finite].double()
    if xf.numel() == 0:
        nan = math.nan
        return {"mean": nan, "std": nan, "meanAbs": nan, "min": nan, "max": nan,
                "norm": nan}, n_bad
    var, mean = torch.var_mean(xf, correction=0)
    return {
        "mean": float(mean), "std": math.sqrt(max(float(var), 0.0)),
        "meanAbs": float(xf.abs().mean()), "min": float(xf.min()), "max": float(xf.max()),
        "norm": float(torch.linalg.vector_norm(xf)),
    }, n_bad


def finish_stats(v: Sequence[float], n: int, one_pass: bool = False) -> dict[str, float]:
    """Host-side completion of base_stats values for an all-finite tensor of n elements."""
    mean, ssd, sabs, mn, mx = v[0], v[1], v[2], v[3], v[4]
    if one_pass and n:  # [sum, sum(x^2), ...]
        mean = mean / n
        ssd = max(ssd - n * mean * mean, 0.0)
    var = max(ssd / n, 0.0) if n else 0.0
    if n == 0:
        return {"mean": 0.0, "std": 0.0, "meanAbs": 0.0, "min": 0.0, "max": 0.0, "norm": 0.0,
                "nonFinite": 0}
    return {
        "mean": mean, "std": math.sqrt(var), "meanAbs": sabs / n, "min": mn, "max": mx,
        "norm": math.sqrt(max(n * (var + mean * mean), 0.0)), "nonFinite": 0,
    }


def tensor_stats(t: Tensor, activation: str | None = None, act: bool = False,
                 unit_dim: int = -1) -> dict[str, float]:
    """Convenience (one sync): the full stats object of one tensor, as sent on the wire."""
    c = Collector()
    h = c.add(t, act=act, activation=activation, unit_dim=unit_dim)
    c.resolve()
    return c.result(h)


def hist_device(t: Tensor, bins: int, minmax: tuple[Tensor, Tensor] | None = None
                ) -> list[Tensor]:
    """[min, max, counts] of t, all on device (no sync). A tensor with non-finite elements
    gives a non-finite min or max, and hist_message() then drops its histogram. `minmax`:
    t's min and max when its statistics already hold them (one pass fewer). Bin indices are
    int32, and the scaled values are made in one temporary: an int64 cast and fresh
    temporaries cost several times more than the counting on CPU."""
    x = _flat(t)
    mn, mx = minmax if minmax is not None else torch.aminmax(x)
    scale = bins / (mx - mn).clamp_min(1e-12)
    v = torch.sub(x, mn).mul_(scale)
    idx = v.to(torch.int32).clamp_(0, bins - 1)
    counts = torch.bincount(idx, minlength=bins)
    return [mn, mx, counts]


class Collector:
    """Gathers lazy device statistics for a reporting step and resolves them with one host
    sync: a single `.tolist()` of everything concatenated."""

    def __init__(self) -> None:
        self._parts: list[Tensor] = []  # 0-d tensors
        self._vectors: list[Tensor] = []  # histogram counts
        self._vsize = 0
        # (kind, offset, length, numel, activation, units); a hist's units is the offset of
        # its counts among the vectors
        self._specs: list[tuple[str, int, int, int, str | None, int]] = []
        self._size = 0
        self._values: list[float] = []
        self._tensors: list[Tensor | None] = []

    def _push(self, kind: str, parts: list[Tensor], numel: int, activation: str | None,
              units: int, keep: Tensor | None) -> int:
        h = len(self._specs)
        n = len(parts)
        self._specs.append((kind, self._size, n, numel, activation, units))
        self._parts.extend(parts)
        self._tensors.append(keep)
        self._size += n
        return h

    def add(self, t: Tensor, act: bool = False, activation: str | None = None,
            unit_dim: int = -1, two_pass: bool = True) -> int:
        """Queues the stats of t; returns a handle for result()."""
        n = t.numel()
        if n == 0:
            return self._push("empty", [], 0, activation, 0, None)
        if act:
            tt = t.detach()
            if not tt.is_floating_point() or tt.dtype in (torch.float16, torch.bfloat16):
                tt = tt.float()
            ax = tt.abs()
            parts = base_stats(tt, absx=ax) + act_extra(tt, activation, unit_dim, absx=ax)
            return self._push("act", parts, n, activation, _units(t, unit_dim), t)
        parts = base_stats(t, two_pass=two_pass)
        return self._push("stats" if two_pass else "stats1", parts, n, None, 0, t)

    def add_scalar(self, t: Tensor) -> int:
        """Queues a 0-d tensor as it is (result: {"value": float})."""
        return self._push("scalar", [t.detach().reshape(())], 1, None, 0, None)

    def add_hist(self, t: Tensor, bins: int = 32, like: int | None = None) -> int:
        """Queues t's histogram; `like`: the handle of t's own statistics, whose min and
        max it reuses."""
        if t.numel() == 0:
            return self._push("empty", [], 0, None, 0, None)
        minmax = None
        if like is not None and self._specs[like][0] != "empty":
            off = self._specs[like][1]
            minmax = (self._parts[off + 3], self._parts[off + 4])
        mn, mx, counts = hist_device(t, bins, minmax)
        self._vectors.append(counts)
        off = self._vsize
        self._vsize += bins
        return self._push("hist", [mn, mx], bins, None, off, None)

    def __len__(self) -> int:
        return len(self._specs)

    def resolve(self) -> None:
        """The host sync: one transfer of every queued statistic."""
        parts, vectors = self._parts, self._vectors
        self._parts, self._vectors = [], []
        if not parts:
            self._values = []
            return
        self._values = _host_values(parts, vectors)

    def result(self, h: int) -> dict[str, Any]:
        kind, off, ln, numel, activation, units = self._specs[h]
        v = self._values[off:off + ln]
        if kind == "scalar":
            return {"value": v[0]}
        if kind == "empty":
            return {"mean": 0.0, "std": 0.0, "meanAbs": 0.0, "min": 0.0, "max": 0.0,
                    "norm": 0.0, "nonFinite": 0}
        if kind == "hist":
            base = self._size + units
            return {"min": v[0], "max": v[1],
                    "counts": self._values[base:base + numel]}
        if all(math.isfinite(x) for x in v[:5]):
            out = finish_stats(v, numel, one_pass=kind == "stats1")
        else:
            t = self._tensors[h]
            assert t is not None
            stats, bad = masked_stats(t)
            out = dict(stats)
            out["nonFinite"] = bad
        if kind == "act":
            out["fracZero"] = v[5] / numel
            if units > 0:
                out["fracDeadUnits"] = v[6] / units
            if activation in SATURATION:
                out["fracSaturated"] = v[7] / numel
        return out

    def release(self) -> None:
        self._tensors = []


def _host_values(parts: list[Tensor], vectors: list[Tensor]) -> list[float]:
    """Host floats of the 0-d parts, then of the concatenated vectors: one stack per (device,
    dtype) of the parts (a single one in the common case) and one transfer in all."""
    groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, t in enumerate(parts):
        groups.setdefault((t.device, t.dtype), []).append(i)
    pieces: list[Tensor] = []
    order: list[int] = []
    for idx in groups.values():
        pieces.append(torch.stack([parts[i] for i in idx]).to(torch.float64))
        order.extend(idx)
    if vectors:
        dev = vectors[0].device
        vs = vectors if all(v.device == dev for v in vectors) else [v.cpu() for v in vectors]
        pieces.append(torch.cat(vs).to(torch.float64))
    dev = pieces[0].device
    if any(p.device != dev for p in pieces):
        pieces = [p.cpu() for p in pieces]
    flat: list[float] = (torch.cat(pieces) if len(pieces) > 1 else pieces[0]).tolist()
    if len(groups) == 1:
        return flat
    out = flat[:]
    for k, i in enumerate(order):
        out[i] = flat[k]
    return out


def hist_message(res: dict[str, Any]) -> tuple[list[float], list[int]] | None:
    """edges and counts of a resolved hist, or None when the tensor had no finite element."""
    mn, mx = res["min"], res["max"]
    counts = [int(c) for c in res["counts"]]
    if not (math.isfinite(mn) and math.isfinite(mx)) or mn > mx or sum(counts) == 0:
        return None
    bins = len(counts)
    if mx == mn:
        mx = mn + 1e-12
    w = (mx - mn) / bins
    edges = [mn + i * w for i in range(bins)] + [mx]
    return edges, counts
