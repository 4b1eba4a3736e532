"""Input statistics of eval-mode forwards, summed on the device across batches and read
back only when `run.log_eval()` sends them, so evaluation adds no host syncs."""

from __future__ import annotations

import math
from typing import Dict, Optional

import torch


class EvalInputs:
    """Count, sum, sum of squares, min, max and non-finite count of the finite inputs."""

    def __init__(self) -> None:
        self._acc: Optional[torch.Tensor] = None

    def add(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            f = x.detach().reshape(-1).float()
            finite = torch.isfinite(f)
            z = torch.where(finite, f, torch.zeros_like(f))
            big = torch.finfo(torch.float32).max
            v = torch.stack([
                finite.sum().double(), z.double().sum(), (z.double() * z.double()).sum(),
                torch.where(finite, f, torch.full_like(f, big)).min().double(),
                torch.where(finite, f, torch.full_like(f, -big)).max().double(),
                (~finite).sum().double(),
            ])
            acc = self._acc
            if acc is None:
                self._acc = v
            else:
                self._acc = torch.stack([acc[0] + v[0], acc[1] + v[1], acc[2] + v[2],
                                         torch.minimum(acc[3], v[3]),
                                         torch.maximum(acc[4], v[4]), acc[5] + v[5]])

    def take(self) -> Optional[Dict[str, float]]:
        """The statistics since the last take (None when there was no eval forward)."""
        acc, self._acc = self._acc, None
        if acc is None:
            return None
        n, s, ss, mn, mx, bad = acc.tolist()
        if n <= 0:
            return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan,
                    "nonFinite": int(bad)}
        mean = s / n
        var = max(ss / n - mean * mean, 0.0)
        return {"mean": mean, "std": math.sqrt(var), "min": mn, "max": mx, "nonFinite": int(bad)}
