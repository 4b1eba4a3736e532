"""Step batching: merges the values logged for one step into a single step item and packs
closed items into `steps` messages sized to the server's limits, so a training loop that logs
a few scalars at a time still produces few, large messages."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from ._encode import dumps
from ._warn import warn


class StepBatcher:
    """Builds `steps` message bodies and hands each to `emit(kind, body)` for sequencing.

    The open item (the tail) takes more values for its step until a later step arrives or it
    lingers; `limits` is the sender's live dict, updated by each welcome."""

    def __init__(self, limits: Dict[str, int], emit: Callable[[str, str], None]) -> None:
        self.limits = limits
        self._emit = emit
        self.closed: List[str] = []
        self._closed_bytes = 0
        self.closed_since = 0.0
        self.tail: Optional[Dict[str, Any]] = None
        self.tail_touched = 0.0
        self._last_closed_step = -1
        self._late_warned = False

    def add(self, step: int, scalars: Dict[str, float], epoch: Optional[float],
            examples: Optional[int], layers: Optional[Dict[str, Any]],
            inputs: Optional[Dict[str, float]], t: float) -> None:
        """Merges one log call into the item of its step."""
        tail = self.tail
        if tail is not None and step == tail["step"]:
            tail["scalars"].update(scalars)
            if layers:
                tail.setdefault("layers", {}).update(layers)
            if inputs is not None:
                tail["inputs"] = inputs
            if epoch is not None:
                tail["epoch"] = epoch
            if examples is not None:
                tail["examples"] = examples
            self.tail_touched = time.monotonic()
            return
        if step <= self._last_closed_step or (tail is not None and step < tail["step"]):
            if not self._late_warned:
                self._late_warned = True
                warn(f"values for step {step} arrived after that step was sent; they are "
                     "dropped (log every value of a step together, with increasing steps)")
            return
        self.close_tail()
        d: Dict[str, Any] = {"step": step, "time": t, "scalars": dict(scalars)}
        if epoch is not None:
            d["epoch"] = epoch
        if examples is not None:
            d["examples"] = examples
        if layers:
            d["layers"] = dict(layers)
        if inputs is not None:
            d["inputs"] = inputs
        self.tail = d
        self.tail_touched = time.monotonic()

    def close_tail(self) -> None:
        tail = self.tail
        if tail is None:
            return
        self.tail = None
        self._last_closed_step = tail["step"]
        if not tail["scalars"] and not tail.get("layers") and tail.get("inputs") is None:
            return
        text = dumps(tail)
        budget = self.limits["maxFrameBytes"] - 256
        if self.closed and (self._closed_bytes + len(text) + 1 > budget
                            or len(self.closed) >= self.limits["maxItemsPerMessage"]):
            self.cut()
        if not self.closed:
            self.closed_since = time.monotonic()
        self.closed.append(text)
        self._closed_bytes += len(text) + 1

    def cut(self) -> None:
        """Emits the closed items as one `steps` message."""
        if not self.closed:
            return
        body = '{"type":"steps","items":[' + ",".join(self.closed) + "]}"
        self.closed = []
        self._closed_bytes = 0
        self._emit("steps", body)
