"""`run.watch(model, optimizer)`: PyTorch hooks that stream per-layer statistics.

Cadence (k = the iteration, i.e. the number of optimizer steps taken so far):
  * a training-mode forward of a reporting iteration (k % every == 0) keeps the input batch
    and the layers' activations (forward hooks);
  * the optimizer's pre-step hook snapshots the layers' main weights;
  * the post-step hook hands the step's tensors to a ReportJob (report.py), which computes
    grad, update (= weight after - weight before, the real change the optimizer made),
    param, activation and input stats, plus histograms every `hist_every` iterations, with
    one host transfer; it runs on the sender thread, so training goes on meanwhile, and is
    sent as that step's `layers`/`inputs`;
  * the end of a reporting iteration's backward measures the total gradient norm, before any
    clipping, sent as the scalar `grad_norm`; once a report saw the loop leave the gradients
    alone until the step, the backward only marks them and the ReportJob measures it
    (grad_norm.py).
Without an optimizer step (inference, or no optimizer), a pending report is completed at the
next reporting forward with what it has. Eval-mode forwards only accumulate input stats,
which `run.log_eval()` sends with the eval split.

This module holds the Watcher and its forward hooks; layers.py finds the layers and their
activations, model_message.py describes them, optimizer_hooks.py holds the optimizer side,
report.py collects a reporting step's statistics and eval_inputs.py the eval input stats.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from typing import Any

import torch
from torch import nn

from . import _sys
from .copies import CopyPool
from .eval_inputs import EvalInputs
from .forward_io import first_tensor, out_tensor
from .grad_norm import GradMarks, GradNormProbe
from .layers import Layer, find_layers, order_layers, pair_activations
from .model_message import model_message
from .optimizer_hooks import OptimizerHooksMixin
from .report import Pending, ReportJob, queue_act


class Watcher(OptimizerHooksMixin):
    """The hooks of one watched model; `run.watch()` creates it, `remove()` detaches it."""

    def __init__(self, run: Any, model: nn.Module, optimizer: Any = None, criterion: Any = None,
                 every: int = 10, hist_every: int | None = None, log_inputs: bool = True,
                 hist_bins: int = 32, scaler: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError("watch() expects a torch.nn.Module")
        if every < 1:
            raise ValueError("every must be >= 1")
        self._run_ref = weakref.ref(run)
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion
        self.every = int(every)
        self.hist_every = int(hist_every) if hist_every else self.every * 10
        if self.hist_every % self.every:
            self.hist_every = max(self.every, (self.hist_every // self.every) * self.every)
        self.hist_bins = hist_bins
        self.log_inputs = log_inputs
        self.enabled = bool(getattr(run, "enabled", True))
        self._handles: list[Any] = []
        self._discovery: list[tuple[str, nn.Module, torch.Tensor | None]] | None = []
        self._seen_versions: dict[int, int] = {}  # of the discovery forward's outputs
        self._starts: list[str] = []
        self._layers: list[Layer] = []
        self._by_module: dict[int, Layer] = {}
        self._act_owner: dict[int, Layer] = {}
        self._opt_steps = 0
        self._opt_seen = optimizer is not None
        self._fwd = 0
        self._examples = 0
        self._pending: Pending | None = None
        self._snap_iter: int | None = None
        self._opt_match: dict[int, bool] = {}
        self._model_sent = False
        self._last_t = time.monotonic()
        self._last_fwd = 0
        self._last_examples = 0
        self._eval_inputs = EvalInputs()
        self._copies = CopyPool()
        # grad_norm measured when the backward ends, until a report saw the loop leave the
        # gradients alone before the step (grad_norm.py)
        self._norm_at_backward = True
        self._removed = False
        self._layer_hooks: list[tuple[nn.Module, Any]] = []
        self._attached: list[Any] = []
        if not self.enabled:
            return
        self._names = {id(m): n for n, m in model.named_modules()}
        self._probe = GradNormProbe(list(model.parameters()), scaler)
        self._layers = find_layers(model)
        # a module with several matrices maps to its last one, which carries its output
        self._by_module = {id(layer.module): layer for layer in self._layers}
        self._handles.append(model.register_forward_pre_hook(self._root_pre, with_kwargs=True))
        self._handles.append(model.register_forward_hook(self._root_post))
        for m in model.modules():
            if m is model and id(m) not in self._by_module:
                continue
            self._handles.append(m.register_forward_pre_hook(self._discover_pre))
            self._handles.append(m.register_forward_hook(self._discover_post))
        self._hook_optimizer()

    # ------------------------------------------------------------------ helpers
    @property
    def run(self) -> Any:
        return self._run_ref()

    def remove(self) -> None:
        self._removed = True
        self._copies.close()
        self._detach_layer_hooks()
        for h in self._handles:
            with contextlib.suppress(Exception):
                h.remove()
        self._handles = []

    def current_iteration(self) -> int | None:
        """Index of the most recent training iteration (used to align steps with log())."""
        if self._opt_seen:
            return self._opt_steps - 1 if self._opt_steps > 0 else None
        return self._fwd - 1 if self._fwd > 0 else None

    def _iteration(self) -> int:
        return self._opt_steps if self._opt_seen else self._fwd

    def _step_for(self, iteration: int) -> int:
        run = self.run
        off = run._step_offset if run is not None else 0
        return max(0, iteration + off)

    # ------------------------------------------------------------------ discovery
    def _discover_pre(self, module: nn.Module, args: Any) -> None:
        if self._discovery is not None:
            self._starts.append(self._names.get(id(module), ""))

    def _discover_post(self, module: nn.Module, args: Any, out: Any) -> None:
        if self._discovery is not None:
            t = out_tensor(out)
            if t is not None:
                self._seen_versions[id(t)] = t._version
            self._discovery.append((self._names.get(id(module), ""), module, t))

    def _finish_discovery(self, reporting: Pending | None) -> None:
        seq = self._discovery or []
        self._discovery = None
        order_layers(self.model, self._layers, self._starts)
        outputs = pair_activations(seq, self._by_module, self._act_owner)
        # keep hooks only where needed
        for h in self._handles[2:]:
            h.remove()
        self._handles = self._handles[:2]
        # layer and activation hooks are attached only for the forwards of reporting steps,
        # so the other steps pay for two root hooks and nothing per layer
        self._layer_hooks = []
        for layer in self._layers:
            if not layer.carries_act:
                continue
            if layer.act_module is not None:
                self._layer_hooks.append((layer.act_module, self._act_post))
            else:
                self._layer_hooks.append((layer.module, self._layer_post))
        self._hook_optimizer()  # again: they were among the removed handles
        for layer in self._layers:
            if not layer.carries_act:
                continue
            t = outputs.get(-id(layer.module)) if layer.act_module is not None else None
            if t is None:
                t = outputs.get(id(layer.module))
            if t is None or not t.is_floating_point():
                continue
            if t._version != self._seen_versions.get(id(t), t._version):
                # changed in place later in the forward: what its hook saw is gone
                layer.act_at_hook = True
            elif reporting is not None:
                self._queue_act(reporting, layer, t)
        self._seen_versions = {}
        self._send_model()

    def model_message(self) -> dict[str, Any]:
        opt = self.optimizer or getattr(self, "_seen_optimizer", None)
        return model_message(self._layers, opt, self.criterion)

    def _send_model(self) -> None:
        run = self.run
        if run is None:
            return
        self._model_sent = True
        run._send(self.model_message())

    # ------------------------------------------------------------------ forward hooks
    def _root_pre(self, module: nn.Module, args: Any, kwargs: Any) -> None:
        if self._removed:
            return None
        if self._discovery is not None:  # learn the order from a clean training forward
            self._discovery = []
            self._starts = []
            self._seen_versions = {}
        if not module.training:
            if self.log_inputs:
                x = first_tensor(args, kwargs)
                if x is not None and x.is_floating_point():
                    self._eval_inputs.add(x)
            return None
        it = self._iteration()
        x = first_tensor(args, kwargs)
        if x is not None and x.dim() > 0:
            self._examples += int(x.shape[0])
        p = self._pending
        if p is not None and p.iteration != it:
            # the previous reporting iteration never saw an optimizer step
            p.measure_grad_norm = not self._opt_seen
            self._complete(p)
            p = self._pending = None
        if it % self.every == 0:
            p = Pending(it)  # a new micro-batch of the same iteration replaces the old stats
            self._pending = p
            if self._discovery is None and not self._attached:
                self._attached = [m.register_forward_hook(fn) for m, fn in self._layer_hooks]
            if x is not None:
                p.examples = int(x.shape[0]) if x.dim() > 0 else None
                if self.log_inputs and x.is_floating_point():
                    p.inputs = x
        return None

    def _detach_layer_hooks(self) -> None:
        for h in self._attached:
            h.remove()
        self._attached = []

    def _root_post(self, module: nn.Module, args: Any, out: Any) -> None:
        if self._attached:
            self._detach_layer_hooks()
        if self._removed or not module.training:
            return
        p = self._pending
        if p is not None and p.iteration == self._iteration():
            it = p.iteration
            self._probe.arm(out, lambda n, marks: self._store_grad_norm(it, n, marks),
                            measure=self._norm_at_backward)
        self._fwd += 1
        if self._discovery is not None:
            if id(module) in self._by_module:  # the model is a layer itself (a bare LSTM):
                # its own discovery hook runs after this one, too late to be seen
                self._discovery.append(("", module, out_tensor(out)))
            p = self._pending if (self._pending is not None
                                  and self._pending.iteration == self._iteration_before()) else None
            self._finish_discovery(p)

    def _store_grad_norm(self, iteration: int, n: torch.Tensor | None,
                         marks: GradMarks) -> None:
        # into the iteration's latest report: a later forward of the same iteration (a
        # metric computed on a second forward) replaces the report the backward belongs to
        p = self._pending
        if p is not None and p.iteration == iteration:
            p.grad_norm, p.grad_marks = n, marks

    def _iteration_before(self) -> int:
        return self._opt_steps if self._opt_seen else self._fwd - 1

    def _layer_post(self, module: nn.Module, args: Any, out: Any) -> None:
        p = self._pending
        if p is None or self._removed or not module.training:
            return
        layer = self._by_module.get(id(module))
        if layer is None or layer.act_module is not None:
            return
        t = out_tensor(out)
        if t is not None and t.is_floating_point():
            self._queue_act(p, layer, t)

    def _act_post(self, module: nn.Module, args: Any, out: Any) -> None:
        p = self._pending
        if p is None or self._removed or not module.training:
            return
        layer = self._act_owner.get(id(module))
        t = out_tensor(out)
        if layer is not None and t is not None and t.is_floating_point():
            self._queue_act(p, layer, t)

    def _queue_act(self, p: Pending, layer: Layer, t: torch.Tensor) -> None:
        queue_act(p, layer, t, self.hist_every, self.hist_bins)

    def take_eval_inputs(self) -> dict[str, float] | None:
        return self._eval_inputs.take()

    # ------------------------------------------------------------------ completion
    def _complete(self, p: Pending, with_step: bool = False) -> None:
        run = self.run
        if run is None:
            return

        def job(step: int, t: float, deferred: bool) -> ReportJob:
            j = ReportJob(p, self._layers, step=step, scalars=self._sys_scalars(), t=t,
                          with_step=with_step, hist_every=self.hist_every,
                          hist_bins=self.hist_bins, pool=self._copies,
                          params=self._probe.params, deferred=deferred)
            if j.grads_untouched is not None:
                # a loop that clips or unscales has its norm measured when the backward ends
                self._norm_at_backward = not j.grads_untouched or self._probe.scaled()
            return j

        run._log_report_job(self._step_for(p.iteration), job)

    def _sys_scalars(self) -> dict[str, float]:
        now = time.monotonic()
        dt = now - self._last_t
        if dt < 1.0 and self._last_fwd > 0:
            return {}  # at most one sample a second: reading /proc is not free
        out = _sys.sys_scalars()
        if dt > 0 and self._fwd > self._last_fwd:
            out["sys/steps_per_s"] = (self._fwd - self._last_fwd) / dt
            out["sys/examples_per_s"] = (self._examples - self._last_examples) / dt
        self._last_t, self._last_fwd, self._last_examples = now, self._fwd, self._examples
        return out
