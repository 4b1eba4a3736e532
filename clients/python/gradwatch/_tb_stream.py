"""The drop-in writer's stream (tensorboard.py): TensorBoard calls come one value at a time,
while a step item should carry all of a step's values (the sender closes a step's item soon
after its last value, and values that come later are dropped). So one step is collected here
and sent whole when a later step starts, on flush and on close."""

from __future__ import annotations

import math
import threading
from typing import Any, Callable

from ._warn import warn
from .importers.tb_tags import guess_kind
from .run import Run
from .scalars import to_float

_HIST_BINS = 32


def _numbers(values: Any) -> Any:
    import numpy as np

    detach = getattr(values, "detach", None)
    if callable(detach):
        values = detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def tensor_stats(values: Any, bins: Any = _HIST_BINS) -> dict[str, Any] | None:
    """Exact stats of a tensor over its finite elements, its non-finite count and a histogram
    of the finite ones: {"stats", "edges", "counts", "n"} (None when it is empty)."""
    import numpy as np

    x = _numbers(values)
    if x.size == 0:
        return None
    finite = np.isfinite(x)
    bad = int(x.size - finite.sum())
    f = x[finite] if bad else x
    if f.size == 0:
        nan = math.nan
        return {"stats": {"mean": nan, "std": nan, "meanAbs": nan, "min": nan, "max": nan,
                          "norm": nan, "nonFinite": bad}, "edges": None, "counts": None,
                "n": int(x.size)}
    stats = {"mean": float(f.mean()), "std": float(f.std()), "meanAbs": float(np.abs(f).mean()),
             "min": float(f.min()), "max": float(f.max()), "norm": float(np.sqrt(f @ f)),
             "nonFinite": bad}
    nb = bins if isinstance(bins, int) and 0 < bins <= 1000 else _HIST_BINS
    counts, edges = np.histogram(f, bins=nb)
    return {"stats": stats, "edges": edges.tolist(), "counts": counts.astype(int).tolist(),
            "n": int(x.size)}


class StepStream:
    def __init__(self, run: Callable[[], Run]) -> None:
        self._run = run
        self.step: int | None = None
        self._scalars: dict[str, float] = {}
        self._layers: dict[str, dict[str, dict[str, float]]] = {}
        self._hists: list[dict[str, Any]] = []
        self._evals: dict[str, dict[str, float]] = {}
        self._known: dict[str, int] = {}  # layer -> params, in the order layers first came
        self._new_layer = False
        self._warned_late = False

    def at(self, global_step: int | None) -> int | None:
        """The step a value belongs to; None for one that comes after a later step."""
        if global_step is None:
            step = self.step if self.step is not None else 0
        else:
            step = int(global_step)
            if step < 0:
                raise ValueError(f"global_step must be >= 0, got {step}")
        if self.step is None or step > self.step:
            self.send()
            self.step = step
        elif step < self.step:
            if not self._warned_late:
                self._warned_late = True
                warn(f"a value for step {step} came after step {self.step}; steps must "
                     "increase within a run, so such values are not sent")
            return None
        return step

    def scalar(self, name: str, value: Any) -> None:
        self._scalars[name] = to_float(value)

    def eval(self, split: str, name: str, value: Any) -> None:
        self._evals.setdefault(split, {})[name] = to_float(value)

    def layer(self, layer: str, of: str, stats: dict[str, float], edges: list[float] | None,
              counts: list[int] | None, n: int) -> None:
        if layer not in self._known:
            self._known[layer] = 0
            self._new_layer = True
        if of in ("param", "grad") and not self._known[layer]:
            self._known[layer] = n
        self._layers.setdefault(layer, {})[of] = stats
        if edges is not None and counts is not None and of != "bias":
            self._hists.append({"type": "hist", "layer": layer, "of": of, "edges": edges,
                                "counts": counts})

    @property
    def pending(self) -> bool:
        return self.step is not None and bool(self._scalars or self._layers or self._evals)

    def send(self) -> None:
        if not self.pending or self.step is None:
            return
        run = self._run()
        if self._new_layer:
            # layers in the order their tensors first came, as a loop over the model logs them
            self._new_layer = False
            run._send({"type": "model", "layers": [
                {"name": name, "kind": guess_kind(name), "params": n}
                for name, n in self._known.items()]})
        if self._scalars or self._layers:
            run._log_report(self.step, self._scalars, self._layers or None, None, None,
                            self._hists)
        if self._evals and run._sender is not None:
            # cut the pending step items first, so the rules see this step before its evals
            run._sender.put(("flush", threading.Event()))
        for split, metrics in self._evals.items():
            run.log_eval(self.step, metrics, split=split)
        self._scalars, self._layers, self._hists, self._evals = {}, {}, [], {}
