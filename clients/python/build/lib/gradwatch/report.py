"""The statistics of one reporting iteration: activation and input stats queued during the
forward, param/grad/update stats and histograms queued after the optimizer step, all kept as
lazy device tensors and moved to the host in one transfer when the report is built."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from .layers import Layer
from .stats import Collector, hist_message

Report = Tuple[Dict[str, Dict[str, Any]], Optional[Dict[str, float]], List[Dict[str, Any]]]


class Pending:
    """Lazy statistics of one reporting iteration."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration
        self.c = Collector()
        self.acts: Dict[str, int] = {}
        self.act_hists: Dict[str, int] = {}
        self.inputs: Optional[int] = None
        self.examples: Optional[int] = None


def queue_act(p: Pending, layer: Layer, t: torch.Tensor, hist_every: int,
              hist_bins: int) -> None:
    """Queues a layer's activation stats (and its histogram on histogram iterations)."""
    with torch.no_grad():
        p.acts[layer.name] = p.c.add(t, act=True, activation=layer.activation,
                                     unit_dim=layer.unit_dim)
        if p.iteration % hist_every == 0:
            p.act_hists[layer.name] = p.c.add_hist(t, hist_bins)


def build_report(p: Pending, layers: List[Layer], with_step: bool, hist_every: int,
                 hist_bins: int) -> Report:
    """Queues the weight-side stats, resolves everything (the one host sync of this reporting
    step) and returns (layers, inputs, hist messages). `with_step`: the layers' snapshots
    were taken before this iteration's optimizer step, so the update can be measured."""
    hist = p.iteration % hist_every == 0
    c = p.c
    handles: Dict[str, Dict[str, int]] = {}
    hists: List[Tuple[str, str, int]] = []
    with torch.no_grad():
        for layer in layers:
            h: Dict[str, int] = {}
            w = layer.weight
            # weights, grads and updates are centred near zero: one-pass variance
            h["param"] = c.add(w, two_pass=False)
            if hist:
                hists.append((layer.name, "param", c.add_hist(w, hist_bins)))
            if layer.bias is not None:
                h["bias"] = c.add(layer.bias, two_pass=False)
            if w.grad is not None:
                h["grad"] = c.add(w.grad, two_pass=False)
                if hist:
                    hists.append((layer.name, "grad", c.add_hist(w.grad, hist_bins)))
            if with_step and layer.snapshot is not None:
                upd = w.detach() - layer.snapshot
                h["update"] = c.add(upd, two_pass=False)
                if hist:
                    hists.append((layer.name, "update", c.add_hist(upd, hist_bins)))
            layer.snapshot = None
            handles[layer.name] = h
    c.resolve()  # the one host sync of this reporting step
    out: Dict[str, Dict[str, Any]] = {}
    for layer in layers:
        d = {of: c.result(hh) for of, hh in handles[layer.name].items()}
        if layer.name in p.acts:
            d["act"] = c.result(p.acts[layer.name])
        out[layer.name] = d
    inputs = None
    if p.inputs is not None:
        r = c.result(p.inputs)
        inputs = {"mean": r["mean"], "std": r["std"], "min": r["min"], "max": r["max"],
                  "nonFinite": r.get("nonFinite", 0)}
    for name, hh in p.act_hists.items():
        hists.append((name, "act", hh))
    msgs = _hist_messages(c, hists)
    c.release()
    return out, inputs, msgs


def _hist_messages(c: Collector, hists: List[Tuple[str, str, int]]) -> List[Dict[str, Any]]:
    msgs: List[Dict[str, Any]] = []
    for name, of, hh in hists:
        hm = hist_message(c.result(hh))
        if hm is not None:
            msgs.append({"type": "hist", "layer": name[:200], "of": of,
                         "edges": hm[0], "counts": hm[1]})
    return msgs
