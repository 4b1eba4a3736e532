"""Step batching: merges the values logged for one step into a single step item and packs
closed items into `steps` messages sized to the server's limits, so a training loop that logs
a few scalars at a time still produces few, large messages."""

from __future__ import annotations

import time
from typing import Any, Callable

from ._encode import dumps
from ._warn import warn


class _Packer:
    """Closed items as JSON texts, packed into one message of `kind` each time the next item
    would pass the frame budget or maxItemsPerMessage, or when the sender cuts."""

    kind = ""

    def __init__(self, limits: dict[str, int], emit: Callable[[str, str], None]) -> None:
        self.limits = limits
        self._emit = emit
        self.closed: list[str] = []
        self._closed_bytes = 0
        self.closed_since = 0.0

    def _push(self, text: str, budget: int) -> None:
        if self.closed and (self._closed_bytes + len(text) + 1 > budget
                            or len(self.closed) >= self.limits["maxItemsPerMessage"]):
            self.cut()
        if not self.closed:
            self.closed_since = time.monotonic()
        self.closed.append(text)
        self._closed_bytes += len(text) + 1

    def cut(self) -> None:
        """Emits the closed items as one message."""
        if not self.closed:
            return
        body = f'{{"type":"{self.kind}","items":[' + ",".join(self.closed) + "]}"
        self.closed = []
        self._closed_bytes = 0
        self._emit(self.kind, body)


class StepBatcher(_Packer):
    """Builds `steps` message bodies and hands each to `emit(kind, body)` for sequencing.

    The open item (the tail) takes more values for its step until a later step arrives or it
    lingers; `limits` is the sender's live dict, updated by each welcome."""

    kind = "steps"

    def __init__(self, limits: dict[str, int], emit: Callable[[str, str], None]) -> None:
        super().__init__(limits, emit)
        self.tail: dict[str, Any] | None = None
        self.tail_touched = 0.0
        self._templates: dict[tuple[str, ...], str] = {}
        self._last_closed_step = -1
        self._late_warned = False

    def add(self, step: int, scalars: dict[str, float], epoch: float | None,
            examples: int | None, layers: dict[str, Any] | None,
            inputs: dict[str, float] | None, t: float, defaults: bool = False) -> None:
        """Merges one log call into the item of its step. `defaults`: the scalars are
        watch()'s own measurements, kept only where the user logs no value of that name."""
        tail = self.tail
        if tail is not None and step == tail["step"]:
            if defaults:
                for k, v in scalars.items():
                    tail["scalars"].setdefault(k, v)
            else:
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
        d: dict[str, Any] = {"step": step, "time": t, "scalars": dict(scalars)}
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
        text = self._scalars_text(tail) if len(tail) == 3 else None
        if text is None:
            # to the microsecond: the server stores such a time in a byte or two a step, and
            # one with more digits in eight
            tail["time"] = round(tail["time"], 6)
            text = dumps(tail)
        self._push(text, self.limits["maxFrameBytes"] - 256)

    def _scalars_text(self, tail: dict[str, Any]) -> str | None:
        """The JSON of an item of finite float scalars alone (what run.log makes), written
        directly, for a fraction of what the general encoder costs. None for any other item.

        Each set of names gets a %-template (names escaped once), so an item costs one
        formatting; repr() is how JSON and Python both write a finite float, and the time is
        written to the microsecond, as close_tail rounds it."""
        t = tail["time"]
        if t.__class__ is not float:
            return None
        sc = tail["scalars"]
        vals = tuple(sc.values())
        for v in vals:
            # v - v is 0.0 for a finite float only (NaN and +/-Infinity give NaN).
            if v.__class__ is not float or v - v != 0.0:
                return None
        names = tuple(sc)
        tpl = self._templates.get(names)
        if tpl is None:
            if len(self._templates) >= 1000:
                self._templates.clear()
            fields = ",".join(dumps(k).replace("%", "%%") + ":%r" for k in names)
            tpl = self._templates[names] = '{"step":%d,"time":%.6f,"scalars":{' + fields + "}}"
        return tpl % (tail["step"], t, *vals)


class HistBatcher(_Packer):
    """Packs single histograms into `hists` messages (when the server offers them), sized to
    `limits`; `emit(kind, body)` sequences each. The sender cuts it before sequencing anything
    else, so the histograms keep their place among the other messages."""

    # JSON text bytes per frame byte: MessagePack spends 9 bytes on a float that JSON may
    # write in 2 ("0,"), so a batch is held well under the frame limit in either encoding.
    _FRAME_SHARE = 5
    kind = "hists"

    def __init__(self, limits: dict[str, int], emit: Callable[[str, str], None]) -> None:
        super().__init__(limits, emit)
        self._edge_texts: dict[tuple[Any, ...], str] = {}

    _FIELDS = frozenset(("type", "step", "layer", "of", "edges", "counts"))

    def add(self, hist: dict[str, Any]) -> None:
        """Takes a `hist` message body; its `type` is dropped, the rest is the item."""
        if hist.keys() == self._FIELDS and hist["step"].__class__ is int:
            text = (f'{{"step":{hist["step"]},"layer":{dumps(hist["layer"])},'
                    f'"of":{dumps(hist["of"])},"edges":{self._edges(hist["edges"])},'
                    f'"counts":{dumps(hist["counts"])}}}')
        else:
            text = dumps({k: v for k, v in hist.items() if k != "type"})
        self._push(text, (self.limits["maxFrameBytes"] - 256) // self._FRAME_SHARE)

    def _edges(self, edges: Any) -> str:
        # Writers bin with fixed bucket limits (TensorFlow's defaults, torch's), so a layer's
        # edges repeat from one histogram to the next, and printing floats is most of the
        # cost of encoding one. Equal keys that print apart (0 and -0.0, 1 and 1.0) are the
        # same number to the server, which stores what JSON.stringify prints.
        try:
            key = tuple(edges)
            hash(key)
        except TypeError:
            return dumps(edges)
        text = self._edge_texts.get(key)
        if text is None:
            if len(self._edge_texts) >= 4096:
                self._edge_texts.clear()
            text = self._edge_texts[key] = dumps(edges)
        return text
