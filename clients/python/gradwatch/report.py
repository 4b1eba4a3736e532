"""The statistics of one reporting iteration: activation and input stats queued during the
forward, param/grad/update stats and histograms queued after the optimizer step, all kept as
lazy device tensors and moved to the host in one transfer when the report is built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import torch

from .grad_norm import total_grad_norm
from .layers import Layer
from .stats import Collector, hist_message

# (layers, inputs, hist messages, the total grad norm)
Report = tuple[dict[str, dict[str, Any]], Optional[dict[str, float]], list[dict[str, Any]],
               Optional[float]]


class Pending:
    """Lazy statistics of one reporting iteration."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration
        self.c = Collector()
        self.acts: dict[str, int] = {}
        self.act_hists: dict[str, int] = {}
        self.inputs: int | None = None
        self.examples: int | None = None
        # measured when the backward ended, before any clipping (grad_norm.py)
        self.grad_norm: torch.Tensor | None = None
        # False when the iteration's optimizer step was skipped (a GradScaler that found
        # inf/NaN in the scaled gradients does that): its gradients never trained the model
        self.measure_grad_norm = True


def queue_act(p: Pending, layer: Layer, t: torch.Tensor, hist_every: int,
              hist_bins: int) -> None:
    """Queues a layer's activation stats (and its histogram on histogram iterations)."""
    with torch.no_grad():
        p.acts[layer.name] = p.c.add(t, act=True, activation=layer.activation,
                                     unit_dim=layer.unit_dim)
        if p.iteration % hist_every == 0:
            p.act_hists[layer.name] = p.c.add_hist(t, hist_bins)


def build_report(p: Pending, layers: list[Layer], with_step: bool, hist_every: int,
                 hist_bins: int, params: Sequence[torch.nn.Parameter] = ()) -> Report:
    """Queues the weight-side stats, resolves everything (the one host sync of this reporting
    step) and returns (layers, inputs, hist messages, grad norm). `with_step`: the layers'
    snapshots were taken before this iteration's optimizer step, so the update can be
    measured. `params`: every parameter of the model, for the total grad norm when the
    backward did not measure it."""
    hist = p.iteration % hist_every == 0
    c = p.c
    handles: dict[str, dict[str, int]] = {}
    hists: list[tuple[str, str, int]] = []
    with torch.no_grad():
        gn = None
        if p.measure_grad_norm:
            gn = p.grad_norm if p.grad_norm is not None else total_grad_norm(params)
        gn_h = c.add_scalar(gn) if gn is not None else None
        for layer in layers:
            h: dict[str, int] = {}
            w = layer.weight
            # weights, grads and updates are centred near zero: one-pass variance
            h["param"] = c.add(w, two_pass=False)
            if hist:
                hists.append((layer.name, "param", c.add_hist(w, hist_bins)))
            b = layer.bias_tensor()
            if b is not None:
                h["bias"] = c.add(b, two_pass=False)
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
    out: dict[str, dict[str, Any]] = {}
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
    grad_norm = c.result(gn_h)["value"] if gn_h is not None else None
    c.release()
    p.grad_norm = None
    return out, inputs, msgs, grad_norm


def _hist_messages(c: Collector, hists: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    for name, of, hh in hists:
        hm = hist_message(c.result(hh))
        if hm is not None:
            msgs.append({"type": "hist", "layer": name[:200], "of": of,
                         "edges": hm[0], "counts": hm[1]})
    return msgs
