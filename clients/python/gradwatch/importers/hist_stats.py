"""Histograms as TensorBoard stores them, turned into the protocol's `hist` edges/counts and
into per-layer stats (mean, std, meanAbs, min, max, norm).

Two stored forms exist:
  * the legacy HistogramProto (torch's SummaryWriter, TF1): bucket i holds the values in
    (bucket_limit[i-1], bucket_limit[i]], and the proto also carries the exact min, max,
    num, sum and sum of squares, so mean, std, min, max and norm are exact;
  * the TF2 tensor of [left, right, count] rows (tf.summary.histogram, the Keras callback):
    only the buckets, so every stat is estimated from them.
meanAbs is never stored: it is always estimated from the buckets (each bucket's values taken
as spread evenly over it), then kept inside the bounds |mean| <= meanAbs <= rms that hold for
any data."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

Stats = dict[str, float]
Hist = tuple[list[float], list[int]]

MAX_BUCKETS = 1000  # the protocol's limit on counts per histogram
_HUGE = 1e300       # TF1's outermost default limits are +-DBL_MAX: no use as an edge


def _abs_mass(a: float, b: float, c: float) -> float:
    """c values spread evenly over [a, b]: the sum of their absolute values."""
    if a >= 0:
        return c * (a + b) / 2
    if b <= 0:
        return -c * (a + b) / 2
    return c * (a * a + b * b) / (2 * (b - a))


def _bucket_moments(edges: Sequence[float],
                    counts: Sequence[float]) -> tuple[float, float, float, float]:
    """(n, sum, sum of squares, sum of |x|) of values spread evenly within each bucket."""
    n = s = sq = ab = 0.0
    for i, c in enumerate(counts):
        if c <= 0:
            continue
        a, b = edges[i], edges[i + 1]
        n += c
        s += c * (a + b) / 2
        sq += c * (a * a + a * b + b * b) / 3
        ab += _abs_mass(a, b, c)
    return n, s, sq, ab


def _finish(n: float, mean: float, var: float, abs_sum: float, mn: float, mx: float,
            sum_sq: float) -> Stats:
    rms = math.sqrt(sum_sq / n) if n > 0 and sum_sq >= 0 else math.nan
    mean_abs = abs_sum / n if n > 0 else math.nan
    if math.isfinite(mean_abs) and math.isfinite(rms):
        mean_abs = min(max(mean_abs, abs(mean)), rms)
    return {"mean": mean, "std": math.sqrt(var) if var >= 0 else math.nan, "meanAbs": mean_abs,
            "min": mn, "max": mx, "norm": math.sqrt(sum_sq) if sum_sq >= 0 else math.nan}


def merge_buckets(edges: list[float], counts: list[int]) -> Hist:
    """Halves the bucket count (neighbours summed) until it fits the protocol."""
    while len(counts) > MAX_BUCKETS:
        counts = [sum(counts[i:i + 2]) for i in range(0, len(counts), 2)]
        edges = edges[0::2] if len(edges) % 2 == 1 else [*edges[0::2], edges[-1]]
    return edges, counts


def _clean(edges: list[float], counts: list[int]) -> Hist | None:
    if len(counts) < 1 or len(edges) != len(counts) + 1:
        return None
    # Finite ends and no step down leave no room for an infinity inside; NaN fails every test.
    if not (-math.inf < edges[0] and edges[-1] < math.inf
            and all(map(operator.le, edges, edges[1:]))):
        return None
    return merge_buckets(edges, counts) if len(counts) > MAX_BUCKETS else (edges, counts)


def _mean_abs_sum(edges: Sequence[float], counts: Sequence[float], lo: float, hi: float) -> float:
    """Sum of |x| over the buckets, each bucket clipped to [lo, hi] (the tensor's range)."""
    # Called once per imported histogram (half a million in a big import): kept to one pass
    # of plain float arithmetic over the clipped edges.
    ab = 0.0
    e = [lo if x < lo else hi if x > hi else x for x in edges]
    for a, b, c in zip(e, e[1:], counts):
        if c > 0:
            if a >= 0:
                ab += c * (a + b) / 2
            elif b <= 0:
                ab -= c * (a + b) / 2
            else:
                ab += c * (a * a + b * b) / (2 * (b - a))
    return ab


def from_histo(h: object) -> tuple[Hist | None, Stats | None]:
    """A legacy HistogramProto: (edges, counts) for a `hist` message, and layer stats."""
    limits = list(h.bucket_limit)  # type: ignore[attr-defined]
    raw = list(h.bucket)  # type: ignore[attr-defined]
    n = float(h.num)  # type: ignore[attr-defined]
    mn, mx = float(h.min), float(h.max)  # type: ignore[attr-defined]
    if not limits or len(limits) != len(raw) or n <= 0:
        return None, None
    if raw[0] == 0 and len(raw) > 1:
        # torch's writer leads with an empty bucket whose limit is the first real edge
        edges, cnt = limits, raw[1:]
    else:
        lo = mn if math.isfinite(mn) and mn <= limits[0] else limits[0]
        edges, cnt = [lo, *limits], raw
    if abs(edges[-1]) > _HUGE:
        edges[-1] = max(mx, edges[-2]) if math.isfinite(mx) else edges[-2]
    if abs(edges[0]) > _HUGE:
        edges[0] = min(mn, edges[1]) if math.isfinite(mn) else edges[1]
    hist = _clean(edges, list(map(round, cnt)))

    s, sq = float(h.sum), float(h.sum_squares)  # type: ignore[attr-defined]
    finite = math.isfinite(mn) and math.isfinite(mx)
    ab = _mean_abs_sum(edges, cnt, mn, mx) if finite else _bucket_moments(edges, cnt)[3]
    if sq == 0 and s == 0 and (mn != 0 or mx != 0):
        # a writer that left sum/sum_squares empty: estimate them from the buckets too
        _, s, sq, _ = _bucket_moments(edges, cnt)
    mean = s / n
    var = sq / n - mean * mean
    if math.isfinite(var) and var < 0:
        var = 0.0  # rounding on a near-constant tensor
    return hist, _finish(n, mean, var, ab, mn, mx, sq)


def from_tensor_rows(rows: Sequence[Sequence[float]]) -> tuple[Hist | None, Stats | None]:
    """A TF2 histogram tensor of [left, right, count] rows: everything from the buckets."""
    if len(rows) == 0:
        return None, None
    lefts = [float(r[0]) for r in rows]
    rights = [float(r[1]) for r in rows]
    raw = [float(r[2]) for r in rows]
    edges = [*lefts, rights[-1]]
    n, s, sq, ab = _bucket_moments(edges, raw)
    if n <= 0:
        return None, None
    nonempty = [i for i, c in enumerate(raw) if c > 0]
    mn, mx = lefts[nonempty[0]], rights[nonempty[-1]]
    mean = s / n
    var = max(sq / n - mean * mean, 0.0)
    return _clean(edges, [round(c) for c in raw]), _finish(n, mean, var, ab, mn, mx, sq)
