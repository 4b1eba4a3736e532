"""The statistics of one reporting iteration. The forward keeps the input batch and each
layer's activation; the optimizer step adds the weights, biases, gradients and the snapshot
taken before the step. A `ReportJob` holds those tensors and computes every statistic from
them with one host transfer.

A deferred job runs on the sender thread, off the training thread (sender.py): it is handed
copies of what training changes in place (weights, gradients, the input batch), so the
training thread pays for a few copies instead of a few dozen reductions, and on CUDA never
waits for the device. Activations are fresh tensors every forward and are kept as they are;
a layer whose activation is changed in place later in its forward (a residual `out += x`)
is found by the tensor's version counter and has its statistics computed at the hook from
then on (`Layer.act_at_hook`)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Callable, Optional

import torch

from .copies import CopyPool
from .grad_norm import GradMarks, norm_of, untouched
from .layers import Layer
from .stats import Collector, hist_message

Tensor = torch.Tensor

# (layers, inputs, hist messages, the total grad norm)
Report = tuple[dict[str, dict[str, Any]], Optional[dict[str, float]], list[dict[str, Any]],
               Optional[float]]


class Pending:
    """What a reporting iteration has gathered so far."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration
        self.c = Collector()  # statistics computed at the hook (act_at_hook layers)
        self.acts: dict[str, int] = {}  # their handles in `c`
        self.act_hists: dict[str, int] = {}
        # activations kept for the job: (layer, tensor, its version when the hook saw it)
        self.act_refs: list[tuple[Layer, Tensor, int]] = []
        self.inputs: Tensor | None = None
        self.examples: int | None = None
        # measured when the backward ended, before any clipping (grad_norm.py), and the
        # gradients' marks then (None: no backward went through the model's output)
        self.grad_norm: Tensor | None = None
        self.grad_marks: GradMarks | None = None
        # False when the iteration's optimizer step was skipped (a GradScaler that found
        # inf/NaN in the scaled gradients does that): its gradients never trained the model
        self.measure_grad_norm = True


def queue_act(p: Pending, layer: Layer, t: Tensor, hist_every: int, hist_bins: int) -> None:
    """Keeps a layer's activation for the report, or computes its statistics at once when
    the layer's activation is known to change in place after its hook."""
    if not layer.act_at_hook:
        p.act_refs.append((layer, t.detach(), t._version))
        return
    with torch.no_grad():
        p.acts[layer.name] = p.c.add(t, act=True, activation=layer.activation,
                                     unit_dim=layer.unit_dim)
        if p.iteration % hist_every == 0:
            p.act_hists[layer.name] = p.c.add_hist(t, hist_bins, like=p.acts[layer.name])


class _Tensors:
    """One layer's weight-side tensors: (name, weight, bias, grad, weight before the step)."""

    __slots__ = ("bias", "grad", "name", "pre", "weight")

    def __init__(self, name: str, weight: Tensor, bias: Tensor | None, grad: Tensor | None,
                 pre: Tensor | None) -> None:
        self.name, self.weight, self.bias, self.grad, self.pre = name, weight, bias, grad, pre


def _same(t: Tensor) -> Tensor:
    return t.detach()


class ReportJob:
    """A reporting step's tensors, taken at its optimizer step (or at the next reporting
    forward without one), and what they become: the sender's items for that step.

    `deferred`: the job will run on another thread while training goes on, so what training
    changes in place is copied now. `with_step`: the layers' snapshots were taken before
    this iteration's optimizer step, so the update can be measured. `params`: every
    parameter of the model, for the total grad norm when the backward did not measure it."""

    def __init__(self, p: Pending, layers: Sequence[Layer], *, step: int,
                 scalars: dict[str, float], t: float, with_step: bool, hist_every: int,
                 hist_bins: int, pool: CopyPool, params: Sequence[torch.nn.Parameter] = (),
                 deferred: bool = False) -> None:
        self.step, self.scalars, self.time, self.examples = step, scalars, t, p.examples
        self.hist = p.iteration % hist_every == 0
        self.hist_bins = hist_bins
        self._p = p
        self._pool = pool
        # copies made for this job (the snapshots too), handed back to the pool when done
        self._copies: list[Tensor] = []
        take = self._copy if deferred else _same
        with torch.no_grad():
            self._layers = [self._take(layer, take, with_step) for layer in layers]
            self._inputs = take(p.inputs) if p.inputs is not None else None
            self._norm_grads = self._norm_inputs(p, layers, params, take)
        p.grad_norm = p.grad_marks = None
        self._acts = self._fresh_acts(p.act_refs)
        p.act_refs = []
        self._ready = _device_events(self._layers, self._inputs) if deferred else []

    def _norm_inputs(self, p: Pending, layers: Sequence[Layer],
                     params: Sequence[torch.nn.Parameter],
                     take: Callable[[Tensor], Tensor]) -> list[Tensor] | None:
        """How `grad_norm` is had: `_grad_norm`, measured when the backward ended, or the
        gradients to measure it from (returned; the layers' own are among `_layers`).
        `grads_untouched`: whether the gradients were left as the backward made them."""
        self._grad_norm: Tensor | None = None
        self._norm_layers: list[int] = []
        self.grads_untouched: bool | None = None
        if p.grad_marks is not None:
            self.grads_untouched = untouched(p.grad_marks)
        if not p.measure_grad_norm:
            return None
        if p.grad_norm is not None:
            self._grad_norm = p.grad_norm
            return None
        if p.grad_marks is not None and not self.grads_untouched:
            return None  # changed after the backward: the norm before is not to be had
        own: set[int] = set()
        self._norm_layers = []  # each weight once: a tied weight is one parameter
        for i, layer in enumerate(layers):
            if id(layer.weight) not in own:
                own.add(id(layer.weight))
                self._norm_layers.append(i)
        return [take(prm.grad) for prm in params
                if prm.grad is not None and id(prm) not in own]

    def _copy(self, t: Tensor) -> Tensor:
        c = self._pool.copy(t)
        self._copies.append(c)
        return c

    def _take(self, layer: Layer, take: Callable[[Tensor], Tensor],
              with_step: bool) -> _Tensors:
        w = layer.weight
        pre = layer.snapshot
        layer.snapshot = None
        if pre is not None:
            self._copies.append(pre)
            if not with_step:
                pre = None
        b = layer.bias_tensor()
        g = w.grad
        grad = None
        if g is not None and g.layout != torch.strided:
            # a sparse gradient (nn.Embedding(sparse=True)): the rows it holds
            grad = take(g.coalesce().values())
        elif g is not None:
            grad = g.detach() if _grad_is_new(layer, g) else take(g)
        # a frozen weight is not changed by training: no copy of it is needed
        weight = take(w) if w.requires_grad else w.detach()
        return _Tensors(layer.name, weight, take(b) if b is not None else None, grad, pre)

    @staticmethod
    def _fresh_acts(refs: list[tuple[Layer, Tensor, int]]) -> list[tuple[Layer, Tensor]]:
        """The activations not changed since their hook saw them; a layer whose activation
        was changed in place has it measured at the hook from the next report on."""
        out = []
        for layer, t, version in refs:
            if t._version == version:
                out.append((layer, t))
            else:
                layer.act_at_hook = True
        return out

    def items(self) -> list[tuple[Any, ...]]:
        """The sender's items for this step: the step's report, then its histograms."""
        layers, inputs, msgs, grad_norm = self.compute()
        scalars = dict(self.scalars)
        if grad_norm is not None:
            scalars["grad_norm"] = grad_norm
        out: list[tuple[Any, ...]] = [("report", self.step, scalars, None, self.examples,
                                       layers, inputs, self.time)]
        for h in msgs:
            h["step"] = self.step
            out.append(("msg", h))
        return out

    def compute(self) -> Report:
        """Every statistic of the step, resolved with one host transfer."""
        for dev, ev in self._ready:
            torch.cuda.current_stream(dev).wait_event(ev)
        with torch.no_grad():
            return self._compute()

    def _compute(self) -> Report:
        p, c, hist, bins = self._p, self._p.c, self.hist, self.hist_bins
        handles: dict[str, dict[str, int]] = {}
        hists: list[tuple[str, str, int]] = []
        gn = self._grad_norm
        if self._norm_grads is not None:
            layer_grads = [self._layers[i].grad for i in self._norm_layers]
            gn = norm_of(self._norm_grads + [g for g in layer_grads if g is not None])
        gn_h = c.add_scalar(gn) if gn is not None else None
        inputs_h = c.add(self._inputs) if self._inputs is not None else None
        acts = dict(p.acts)
        act_hists = dict(p.act_hists)
        for layer, t in self._acts:
            acts[layer.name] = c.add(t, act=True, activation=layer.activation,
                                     unit_dim=layer.unit_dim)
            if hist:
                act_hists[layer.name] = c.add_hist(t, bins, like=acts[layer.name])
        for lt in self._layers:
            h: dict[str, int] = {}
            # weights, grads and updates are centred near zero: one-pass variance
            h["param"] = c.add(lt.weight, two_pass=False)
            if hist:
                hists.append((lt.name, "param", c.add_hist(lt.weight, bins, like=h["param"])))
            if lt.bias is not None:
                h["bias"] = c.add(lt.bias, two_pass=False)
            if lt.grad is not None:
                h["grad"] = c.add(lt.grad, two_pass=False)
                if hist:
                    hists.append((lt.name, "grad", c.add_hist(lt.grad, bins, like=h["grad"])))
            if lt.pre is not None:
                upd = torch.sub(lt.weight, lt.pre, out=lt.pre)  # the snapshot is ours
                h["update"] = c.add(upd, two_pass=False)
                if hist:
                    hists.append((lt.name, "update", c.add_hist(upd, bins, like=h["update"])))
            handles[lt.name] = h
        c.resolve()  # the one host transfer of this reporting step
        out: dict[str, dict[str, Any]] = {}
        for lt in self._layers:
            d = {of: c.result(hh) for of, hh in handles[lt.name].items()}
            if lt.name in acts:
                d["act"] = c.result(acts[lt.name])
            out[lt.name] = d
        inputs = None
        if inputs_h is not None:
            r = c.result(inputs_h)
            inputs = {"mean": r["mean"], "std": r["std"], "min": r["min"], "max": r["max"],
                      "nonFinite": r.get("nonFinite", 0)}
        hists.extend((name, "act", hh) for name, hh in act_hists.items())
        msgs = _hist_messages(c, hists)
        grad_norm = c.result(gn_h)["value"] if gn_h is not None else None
        c.release()
        self._layers, self._acts, self._inputs, self._norm_grads = [], [], None, None
        self._pool.give(self._copies)
        self._copies = []
        return out, inputs, msgs, grad_norm


def _grad_is_new(layer: Layer, g: Tensor) -> bool:
    """Whether g is a gradient tensor the layer's previous report did not see. A loop that
    sets gradients to None (zero_grad's default) has every backward make new ones, which
    nothing writes afterwards: they need no copy. One that zeroes them in place shows the
    same tensor again, and has them copied from then on (as the first report does)."""
    seen = layer.grad_seen
    layer.grad_seen = weakref.ref(g)
    if seen is not None and seen() is g:
        layer.grads_reused = True
    return seen is not None and not layer.grads_reused


def _device_events(layers: Sequence[_Tensors], inputs: Tensor | None
                   ) -> list[tuple[torch.device, Any]]:
    """An event on each CUDA device's current stream, recorded after the copies: the sender
    thread's stream waits for it before it reads them."""
    tensors = [lt.weight for lt in layers] + ([inputs] if inputs is not None else [])
    devices = {t.device for t in tensors if t.is_cuda}
    out = []
    for dev in devices:
        ev = torch.cuda.Event()  # type: ignore[no-untyped-call]
        ev.record(torch.cuda.current_stream(dev))
        out.append((dev, ev))
    return out


def _hist_messages(c: Collector, hists: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    for name, of, hh in hists:
        hm = hist_message(c.result(hh))
        if hm is not None:
            msgs.append({"type": "hist", "layer": name[:200], "of": of,
                         "edges": hm[0], "counts": hm[1]})
    return msgs
