"""Process figures for the sys/ scalars (memory; CUDA memory when torch has CUDA up) and
their sampling for runs logged without watch()."""

from __future__ import annotations

import os
import sys
import time
from typing import Dict, Optional

try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
    _PAGE = 4096


def rss_mb() -> float:
    """Resident set size of this process in MiB (current on Linux, peak elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE / 1048576.0
    except OSError:
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / (1048576.0 if sys.platform == "darwin" else 1024.0)
        except Exception:  # noqa: BLE001
            return 0.0


def cuda_mem() -> Dict[str, float]:
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    try:
        if not torch.cuda.is_initialized():
            return {}
        return {
            "sys/cuda_mem_mb": torch.cuda.memory_allocated() / 1048576.0,
            "sys/cuda_max_mem_mb": torch.cuda.max_memory_allocated() / 1048576.0,
            "sys/cuda_reserved_mb": torch.cuda.memory_reserved() / 1048576.0,
        }
    except Exception:  # noqa: BLE001
        return {}


def sys_scalars() -> Dict[str, float]:
    out = {"sys/rss_mb": rss_mb()}
    out.update(cuda_mem())
    return out


class StepSampler:
    """sys/ scalars for `run.log()` without watch(): at most one sample every `interval` s of
    wall time (reading /proc is not free), with the step rate since the previous sample."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._wall = 0.0
        self._t = time.monotonic()
        self._step = -1

    def sample(self, step: int, wall: float) -> Optional[Dict[str, float]]:
        if wall - self._wall < self.interval:
            return None
        self._wall = wall
        out = sys_scalars()
        now = time.monotonic()
        if self._step >= 0 and step > self._step and now > self._t:
            out["sys/steps_per_s"] = (step - self._step) / (now - self._t)
        self._t, self._step = now, step
        return out
