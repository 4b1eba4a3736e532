"""Putting a run's records in step order: the protocol needs a run's training steps to
increase, while event files interleave tags and a run may span several files and folders.
Records are merged by step across folders and held in a small reorder window; a step leaves
the window (and is sent) once `window` later steps have been seen."""

from __future__ import annotations

import heapq
from typing import Any

from . import hist_stats
from .tb_tags import Names, classify_hist


class Pending:
    __slots__ = ("evals", "hists", "layers", "scalars", "t")

    def __init__(self, t: float) -> None:
        self.t = t
        self.scalars: dict[str, float] = {}
        self.layers: dict[str, dict[str, dict[str, float]]] = {}
        self.hists: list[tuple[str, str, list[float], list[int]]] = []
        self.evals: dict[str, dict[str, float]] = {}


class LayerInfo:
    __slots__ = ("name", "params")

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: dict[str, int] = {}


class StepWindow:
    """Collects records into steps and hands complete ones to `flush(step, pending)`."""

    def __init__(self, window: int = 64, keep_from: int = 0) -> None:
        self.window = window
        self.keep_from = keep_from  # records of earlier steps were imported before
        self.pending: dict[int, Pending] = {}
        self._heap: list[int] = []
        self.flushed_upto = -1
        self.late = 0               # training values that arrived after their step was sent
        self.late_tags: dict[str, int] = {}
        self.names: dict[str | None, Names] = {}
        self.layers: dict[str, LayerInfo] = {}  # in first-seen order
        self.unmapped: dict[str, int] = {}      # histogram tags that name no layer tensor
        self._hist_tags: dict[str, tuple[str, str] | None] = {}
        self.skipped_plugins: dict[str, int] = {}
        self.hparams: dict[str, Any] = {}
        self.hparams_late = False
        self.records = 0

    def _at(self, step: int, t: float) -> Pending:
        p = self.pending.get(step)
        if p is None:
            p = self.pending[step] = Pending(t)
            heapq.heappush(self._heap, step)
        return p

    def add(self, rec: tuple[int, float, str, str, Any], split: str | None) -> None:
        step, t, kind, tag, payload = rec
        self.records += 1
        skip = step < self.keep_from
        if kind == "scalar":
            names = self.names.get(split)
            if names is None:
                names = self.names[split] = Names(split)
            key = names.scalar(tag)
            if key is None:
                return
            sp, name = key
            if skip:
                return
            if sp is None and step <= self.flushed_upto:
                self.late += 1
                self.late_tags[tag] = self.late_tags.get(tag, 0) + 1
                return
            p = self._at(step, t)
            if sp is None:
                p.scalars[name] = payload
            else:
                p.evals.setdefault(sp, {})[name] = payload
        elif kind in ("histo", "rows"):
            if tag in self._hist_tags:
                where = self._hist_tags[tag]
            else:
                where = self._hist_tags[tag] = classify_hist(tag) if split is None else None
            if where is None:
                self.unmapped[tag] = self.unmapped.get(tag, 0) + 1
                return
            layer, of = where
            info = self.layers.get(layer)
            if info is None:
                info = self.layers[layer] = LayerInfo(layer)
            if of not in info.params:
                n = payload.num if kind == "histo" else sum(r[2] for r in payload)
                info.params[of] = int(n)
            if skip:
                return
            hist, stats = (hist_stats.from_histo(payload) if kind == "histo"
                           else hist_stats.from_tensor_rows(payload))
            if stats is None:
                return
            if step <= self.flushed_upto:
                self.late += 1
                self.late_tags[tag] = self.late_tags.get(tag, 0) + 1
                return
            p = self._at(step, t)
            p.layers.setdefault(layer, {})[of] = stats
            if hist is not None and of != "bias":
                p.hists.append((layer, of, hist[0], hist[1]))
        elif kind == "hparams":
            if self.flushed_upto >= self.keep_from:
                self.hparams_late = True
            self.hparams.update(payload)
        else:
            self.skipped_plugins[payload] = self.skipped_plugins.get(payload, 0) + 1

    def ready(self) -> list[tuple[int, Pending]]:
        """Steps that left the window, in order."""
        out = []
        heap = self._heap
        while len(heap) > self.window:
            s = heapq.heappop(heap)
            out.append((s, self.pending.pop(s)))
            self.flushed_upto = max(self.flushed_upto, s)
        return out

    def rest(self) -> list[tuple[int, Pending]]:
        out = []
        heap = self._heap
        while heap:
            s = heapq.heappop(heap)
            out.append((s, self.pending.pop(s)))
            self.flushed_upto = max(self.flushed_upto, s)
        return out
