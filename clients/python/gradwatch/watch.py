"""`run.watch(model, optimizer)`: PyTorch hooks that stream per-layer statistics.

Cadence (k = the iteration, i.e. the number of optimizer steps taken so far):
  * a training-mode forward of a reporting iteration (k % every == 0) queues input-batch
    stats and activation stats (forward hooks) as lazy device tensors;
  * the optimizer's pre-step hook snapshots the layers' main weights;
  * the post-step hook queues grad, update (= weight after - weight before, the real change
    the optimizer made) and param stats, plus histograms every `hist_every` iterations, then
    moves everything to the host in one transfer (the single host sync) and hands the report
    to the run, which sends it as that step's `layers`/`inputs`.
Without an optimizer step (inference, or no optimizer), a pending report is completed at the
next reporting forward with what it has. Eval-mode forwards only accumulate input stats,
which `run.log_eval()` sends with the eval split.
"""

from __future__ import annotations

import math
import time
import weakref
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from . import _sys
from .stats import Collector, hist_message

ACTIVATIONS: Dict[type, str] = {}
for _cls, _name in [
    ("ReLU", "relu"), ("ReLU6", "relu6"), ("LeakyReLU", "leaky_relu"), ("PReLU", "prelu"),
    ("RReLU", "rrelu"), ("ELU", "elu"), ("SELU", "selu"), ("CELU", "celu"), ("GELU", "gelu"),
    ("SiLU", "silu"), ("Mish", "mish"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh"),
    ("Hardtanh", "hardtanh"), ("Hardsigmoid", "hardsigmoid"), ("Hardswish", "hardswish"),
    ("Softmax", "softmax"), ("LogSoftmax", "log_softmax"), ("Softplus", "softplus"),
    ("Softsign", "softsign"), ("Tanhshrink", "tanhshrink"), ("LogSigmoid", "log_sigmoid"),
    ("GLU", "glu"), ("Threshold", "threshold"),
]:
    if hasattr(nn, _cls):
        ACTIVATIONS[getattr(nn, _cls)] = _name

# modules that sit between a layer and its activation without changing which units are alive
_PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                 nn.Identity, nn.Flatten) if hasattr(nn, "Dropout1d") else (
                 nn.Dropout, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
                 nn.Flatten)
_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.GroupNorm,
                  nn.modules.pooling._MaxPoolNd if hasattr(nn.modules.pooling, "_MaxPoolNd")
                  else nn.MaxPool2d)


def _main_weight(m: nn.Module) -> Optional[nn.Parameter]:
    params = dict(m.named_parameters(recurse=False))
    w = params.get("weight")
    if isinstance(w, nn.Parameter):
        return w
    if not params:
        return None
    return max(params.values(), key=lambda p: p.numel())


def _fans(m: nn.Module, w: torch.Tensor) -> Tuple[Optional[int], Optional[int]]:
    if isinstance(m, nn.Linear):
        return m.in_features, m.out_features
    if w.dim() < 2 or isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return None, None
    receptive = 1
    for s in w.shape[2:]:
        receptive *= int(s)
    return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive


def _first_tensor(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[torch.Tensor]:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            return a[0]
        if isinstance(a, dict):
            for v in a.values():
                if isinstance(v, torch.Tensor):
                    return v
    for key in ("input", "inputs", "x", "pixel_values", "inputs_embeds", "input_values"):
        v = kwargs.get(key)
        if isinstance(v, torch.Tensor):
            return v
    for v in kwargs.values():
        if isinstance(v, torch.Tensor):
            return v
    return None


def _out_tensor(out: Any) -> Optional[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


class _Layer:
    __slots__ = ("name", "module", "weight", "bias", "act_module", "activation", "unit_dim",
                 "trainable", "snapshot", "order")

    def __init__(self, name: str, module: nn.Module, weight: nn.Parameter) -> None:
        self.name = name
        self.module = module
        self.weight = weight
        b = getattr(module, "bias", None)
        self.bias = b if isinstance(b, nn.Parameter) and b is not weight else None
        self.act_module: Optional[nn.Module] = None
        self.activation: Optional[str] = None
        self.unit_dim = 1 if isinstance(module, _CHANNEL_FIRST) else -1
        self.trainable = any(p.requires_grad for p in module.parameters(recurse=False))
        self.snapshot: Optional[torch.Tensor] = None
        self.order = 10 ** 9


class _Pending:
    """Lazy statistics of one reporting iteration."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration
        self.c = Collector()
        self.acts: Dict[str, int] = {}
        self.act_hists: Dict[str, int] = {}
        self.inputs: Optional[int] = None
        self.examples: Optional[int] = None


class Watcher:
    def __init__(self, run: Any, model: nn.Module, optimizer: Any = None, criterion: Any = None,
                 every: int = 10, hist_every: Optional[int] = None, log_inputs: bool = True,
                 hist_bins: int = 32) -> None:
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
        self._handles: List[Any] = []
        self._discovery: Optional[List[Tuple[str, nn.Module, Optional[torch.Tensor]]]] = []
        self._starts: List[str] = []
        self._layers: List[_Layer] = []
        self._by_module: Dict[int, _Layer] = {}
        self._act_owner: Dict[int, _Layer] = {}
        self._opt_steps = 0
        self._opt_seen = optimizer is not None
        self._fwd = 0
        self._examples = 0
        self._pending: Optional[_Pending] = None
        self._snap_iter: Optional[int] = None
        self._opt_match: Dict[int, bool] = {}
        self._model_sent = False
        self._last_t = time.monotonic()
        self._last_fwd = 0
        self._last_examples = 0
        self._eval_acc: Optional[torch.Tensor] = None
        self._removed = False
        self._layer_hooks: List[Tuple[nn.Module, Any]] = []
        self._attached: List[Any] = []
        if not self.enabled:
            return
        names = {id(m): n for n, m in model.named_modules()}
        for name, m in model.named_modules():
            if type(m) in ACTIVATIONS:
                continue
            w = _main_weight(m)
            if w is None:
                continue
            lname = name or type(m).__name__
            layer = _Layer(lname, m, w)
            self._layers.append(layer)
            self._by_module[id(m)] = layer
        self._names = names
        self._handles.append(model.register_forward_pre_hook(self._root_pre, with_kwargs=True))
        self._handles.append(model.register_forward_hook(self._root_post))
        for name, m in model.named_modules():
            if m is model and id(m) not in self._by_module:
                continue
            self._handles.append(m.register_forward_pre_hook(self._discover_pre))
            self._handles.append(m.register_forward_hook(self._discover_post))
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(self._opt_pre))
            self._handles.append(optimizer.register_step_post_hook(self._opt_post))
        else:
            from torch.optim.optimizer import (register_optimizer_step_post_hook,
                                               register_optimizer_step_pre_hook)

            self._handles.append(register_optimizer_step_pre_hook(self._global_pre))
            self._handles.append(register_optimizer_step_post_hook(self._global_post))

    # ------------------------------------------------------------------ helpers
    @property
    def run(self) -> Any:
        return self._run_ref()

    def remove(self) -> None:
        self._removed = True
        self._detach_layer_hooks()
        for h in self._handles:
            try:
                h.remove()
            except Exception:  # noqa: BLE001
                pass
        self._handles = []

    def current_iteration(self) -> Optional[int]:
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
            self._discovery.append((self._names.get(id(module), ""), module, _out_tensor(out)))

    def _finish_discovery(self, reporting: Optional[_Pending]) -> None:
        seq = self._discovery or []
        self._discovery = None
        # forward order = order in which layers started
        order: Dict[int, int] = {}
        for i, name in enumerate(self._starts):
            order.setdefault(id(self.model.get_submodule(name)) if name else id(self.model), i)
        for layer in self._layers:
            layer.order = order.get(id(layer.module), 10 ** 9)
        self._layers.sort(key=lambda l: l.order)
        # pair each layer with the activation module that follows it (through dropout etc.)
        outputs: Dict[int, Optional[torch.Tensor]] = {}
        for i, (name, m, out) in enumerate(seq):
            outputs.setdefault(id(m), out)
            owner = self._by_module.get(id(m))
            if owner is None or owner.act_module is not None:
                continue
            layer = owner
            j = i + 1
            while j < len(seq) and isinstance(seq[j][1], _PASS_THROUGH):
                j += 1
            if j < len(seq) and type(seq[j][1]) in ACTIVATIONS:
                act = seq[j][1]
                if id(act) not in self._act_owner:
                    layer.act_module = act
                    layer.activation = ACTIVATIONS[type(act)]
                    self._act_owner[id(act)] = layer
                    outputs[id(layer.module) * -1] = seq[j][2]
        # keep hooks only where needed
        for h in self._handles[2:]:
            h.remove()
        keep = self._handles[:2]
        opt_handles = self._handles[-2:] if len(self._handles) > 2 else []
        self._handles = keep
        # layer and activation hooks are attached only for the forwards of reporting steps,
        # so the other steps pay for two root hooks and nothing per layer
        self._layer_hooks = []
        for layer in self._layers:
            if layer.act_module is not None:
                self._layer_hooks.append((layer.act_module, self._act_post))
            else:
                self._layer_hooks.append((layer.module, self._layer_post))
        # re-register optimizer hooks (they were among the removed handles)
        del opt_handles
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._opt_pre))
            self._handles.append(self.optimizer.register_step_post_hook(self._opt_post))
        else:
            from torch.optim.optimizer import (register_optimizer_step_post_hook,
                                               register_optimizer_step_pre_hook)

            self._handles.append(register_optimizer_step_pre_hook(self._global_pre))
            self._handles.append(register_optimizer_step_post_hook(self._global_post))
        if reporting is not None:
            for layer in self._layers:
                t = outputs.get(-id(layer.module)) if layer.act_module is not None else None
                if t is None:
                    t = outputs.get(id(layer.module))
                if t is not None and t.is_floating_point():
                    self._queue_act(reporting, layer, t)
        self._send_model()

    # ------------------------------------------------------------------ model message
    def _optimizer_info(self) -> Optional[Dict[str, Any]]:
        opt = self.optimizer or getattr(self, "_seen_optimizer", None)
        if opt is None:
            return None
        info: Dict[str, Any] = {"type": type(opt).__name__}
        try:
            g = opt.param_groups[0]
        except (AttributeError, IndexError):
            return info

        def num(v: Any) -> Optional[float]:
            try:
                f = float(v)
            except (TypeError, ValueError):
                return None
            return f if math.isfinite(f) else None

        if num(g.get("lr")) is not None:
            info["lr"] = num(g.get("lr"))
        if "momentum" in g and num(g["momentum"]) is not None:
            info["momentum"] = num(g["momentum"])
        if "betas" in g:
            try:
                info["betas"] = [float(b) for b in g["betas"]]
            except (TypeError, ValueError):
                pass
        if num(g.get("weight_decay", 0.0)) is not None:
            info["weightDecay"] = num(g.get("weight_decay", 0.0))
        if g.get("nesterov"):
            info["nesterov"] = True
        return info

    def _loss_name(self) -> Optional[str]:
        c = self.criterion
        if c is None:
            return None
        if isinstance(c, str):
            return c[:100]
        if isinstance(c, nn.Module):
            return type(c).__name__
        return str(getattr(c, "__name__", type(c).__name__))[:100]

    def model_message(self) -> Dict[str, Any]:
        layers = []
        for layer in self._layers:
            d: Dict[str, Any] = {
                "name": layer.name[:200], "kind": type(layer.module).__name__[:100],
                "params": int(sum(p.numel() for p in layer.module.parameters(recurse=False))),
            }
            act = layer.activation or self._activation_after_norm(layer)
            if act:
                d["activation"] = act
            fi, fo = _fans(layer.module, layer.weight)
            if fi is not None:
                d["fanIn"] = fi
                d["fanOut"] = fo
            d["trainable"] = layer.trainable
            layers.append(d)
        msg: Dict[str, Any] = {"type": "model", "layers": layers}
        loss = self._loss_name()
        if loss:
            msg["loss"] = loss
        opt = self._optimizer_info()
        if opt:
            msg["optimizer"] = opt
        return msg

    def _activation_after_norm(self, layer: _Layer) -> Optional[str]:
        # conv -> batchnorm -> relu: the conv's activation is the relu
        idx = self._layers.index(layer)
        if idx + 1 < len(self._layers):
            nxt = self._layers[idx + 1]
            if isinstance(nxt.module, _NORMS) and nxt.activation:
                return nxt.activation
        return None

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
        if not module.training:
            if self.log_inputs:
                x = _first_tensor(args, kwargs)
                if x is not None and x.is_floating_point():
                    self._accumulate_eval(x)
            return None
        it = self._iteration()
        x = _first_tensor(args, kwargs)
        if x is not None and x.dim() > 0:
            self._examples += int(x.shape[0])
        p = self._pending
        if p is not None and p.iteration != it:
            # the previous reporting iteration never saw an optimizer step
            self._complete(p)
            p = self._pending = None
        if it % self.every == 0:
            p = _Pending(it)  # a new micro-batch of the same iteration replaces the old stats
            self._pending = p
            if self._discovery is None and not self._attached:
                self._attached = [m.register_forward_hook(fn) for m, fn in self._layer_hooks]
            if x is not None:
                p.examples = int(x.shape[0]) if x.dim() > 0 else None
                if self.log_inputs and x.is_floating_point():
                    p.inputs = p.c.add(x)
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
        self._fwd += 1
        if self._discovery is not None:
            p = self._pending if (self._pending is not None
                                  and self._pending.iteration == self._iteration_before()) else None
            self._finish_discovery(p)

    def _iteration_before(self) -> int:
        return self._opt_steps if self._opt_seen else self._fwd - 1

    def _layer_post(self, module: nn.Module, args: Any, out: Any) -> None:
        p = self._pending
        if p is None or self._removed or not module.training:
            return
        layer = self._by_module.get(id(module))
        if layer is None or layer.act_module is not None:
            return
        t = _out_tensor(out)
        if t is not None and t.is_floating_point():
            self._queue_act(p, layer, t)

    def _act_post(self, module: nn.Module, args: Any, out: Any) -> None:
        p = self._pending
        if p is None or self._removed or not module.training:
            return
        layer = self._act_owner.get(id(module))
        t = _out_tensor(out)
        if layer is not None and t is not None and t.is_floating_point():
            self._queue_act(p, layer, t)

    def _queue_act(self, p: _Pending, layer: _Layer, t: torch.Tensor) -> None:
        with torch.no_grad():
            p.acts[layer.name] = p.c.add(t, act=True, activation=layer.activation,
                                         unit_dim=layer.unit_dim)
            if p.iteration % self.hist_every == 0:
                p.act_hists[layer.name] = p.c.add_hist(t, self.hist_bins)

    def _accumulate_eval(self, x: torch.Tensor) -> None:
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
            acc = self._eval_acc
            if acc is None:
                self._eval_acc = v
            else:
                self._eval_acc = torch.stack([acc[0] + v[0], acc[1] + v[1], acc[2] + v[2],
                                              torch.minimum(acc[3], v[3]),
                                              torch.maximum(acc[4], v[4]), acc[5] + v[5]])

    def take_eval_inputs(self) -> Optional[Dict[str, float]]:
        acc, self._eval_acc = self._eval_acc, None
        if acc is None:
            return None
        n, s, ss, mn, mx, bad = acc.tolist()
        if n <= 0:
            return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan,
                    "nonFinite": int(bad)}
        mean = s / n
        var = max(ss / n - mean * mean, 0.0)
        return {"mean": mean, "std": math.sqrt(var), "min": mn, "max": mx, "nonFinite": int(bad)}

    # ------------------------------------------------------------------ optimizer hooks
    def _matches(self, opt: Any) -> bool:
        key = id(opt)
        hit = self._opt_match.get(key)
        if hit is None:
            ids = {id(layer.weight) for layer in self._layers}
            hit = any(id(p) in ids for g in opt.param_groups for p in g["params"])
            self._opt_match[key] = hit
            if hit and self.optimizer is None and not hasattr(self, "_seen_optimizer"):
                self._seen_optimizer = opt
                self._opt_seen = True
                if self._model_sent:
                    self._send_model()  # now with the optimizer's settings
        return hit

    def _global_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        if not self._removed and self._matches(opt):
            if getattr(self, "_seen_optimizer", None) is opt:
                self._opt_pre(opt, args, kwargs)

    def _global_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        if not self._removed and self._opt_match.get(id(opt)):
            if getattr(self, "_seen_optimizer", None) is opt:
                self._opt_post(opt, args, kwargs)

    def _opt_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        if self._removed:
            return
        it = self._opt_steps
        if it % self.every != 0:
            return
        with torch.no_grad():
            for layer in self._layers:
                if layer.trainable and layer.weight.requires_grad:
                    layer.snapshot = layer.weight.detach().clone()
        self._snap_iter = it

    def _opt_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        if self._removed:
            return
        it = self._opt_steps
        self._opt_steps += 1
        if it % self.every != 0:
            return
        p = self._pending
        if p is None or p.iteration != it:
            p = _Pending(it)
        self._pending = None
        self._complete(p, with_step=self._snap_iter == it)
        self._snap_iter = None

    # ------------------------------------------------------------------ completion
    def _complete(self, p: _Pending, with_step: bool = False) -> None:
        run = self.run
        if run is None:
            return
        hist = p.iteration % self.hist_every == 0
        c = p.c
        handles: Dict[str, Dict[str, int]] = {}
        hists: List[Tuple[str, str, int]] = []
        with torch.no_grad():
            for layer in self._layers:
                h: Dict[str, int] = {}
                w = layer.weight
                # weights, grads and updates are centred near zero: one-pass variance
                h["param"] = c.add(w, two_pass=False)
                if hist:
                    hists.append((layer.name, "param", c.add_hist(w, self.hist_bins)))
                if layer.bias is not None:
                    h["bias"] = c.add(layer.bias, two_pass=False)
                if w.grad is not None:
                    h["grad"] = c.add(w.grad, two_pass=False)
                    if hist:
                        hists.append((layer.name, "grad", c.add_hist(w.grad, self.hist_bins)))
                if with_step and layer.snapshot is not None:
                    upd = w.detach() - layer.snapshot
                    h["update"] = c.add(upd, two_pass=False)
                    if hist:
                        hists.append((layer.name, "update", c.add_hist(upd, self.hist_bins)))
                layer.snapshot = None
                handles[layer.name] = h
        c.resolve()  # the one host sync of this reporting step
        layers: Dict[str, Dict[str, Any]] = {}
        for layer in self._layers:
            d = {of: c.result(hh) for of, hh in handles[layer.name].items()}
            if layer.name in p.acts:
                d["act"] = c.result(p.acts[layer.name])
            layers[layer.name] = d
        inputs = None
        if p.inputs is not None:
            r = c.result(p.inputs)
            inputs = {"mean": r["mean"], "std": r["std"], "min": r["min"], "max": r["max"],
                      "nonFinite": r.get("nonFinite", 0)}
        msgs: List[Dict[str, Any]] = []
        for name, hh in p.act_hists.items():
            hists.append((name, "act", hh))
        for name, of, hh in hists:
            hm = hist_message(c.result(hh))
            if hm is not None:
                msgs.append({"type": "hist", "layer": name[:200], "of": of,
                             "edges": hm[0], "counts": hm[1]})
        c.release()
        scalars = self._sys_scalars()
        run._log_report(self._step_for(p.iteration), scalars, layers, inputs, p.examples, msgs)

    def _sys_scalars(self) -> Dict[str, float]:
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
