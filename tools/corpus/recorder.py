"""Records a real PyTorch training as the wire messages the Python client sends (hello, model,
steps, eval, end), with two additions the server's rules read when present:

* the reserved scalar `grad_norm`: the total gradient norm over all parameters, the value
  torch.nn.utils.clip_grad_norm_ returns;
* sub-layers: a module with several weight matrices (LSTM/GRU/RNN) is reported as one layer
  per matrix, named `<module>.<param>` (`lstm.weight_ih_l0`, `lstm.weight_hh_l0`), with the
  module's kind, that matrix's fanIn/fanOut and its own param/grad/update/bias stats; the
  module's output (`act`) goes with its last matrix.

Layer stats are sent every `every` optimizer steps, as watch(every=...) does: activation
stats from the training forward of that step, param/grad/update after the optimizer step
(update = the real change the optimizer made)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from wirestats import input_stats, stats, wire


@dataclass
class LayerSpec:
    name: str
    module: nn.Module
    weight: torch.Tensor
    kind: str
    bias: Optional[torch.Tensor] = None
    activation: Optional[str] = None
    act_module: Optional[nn.Module] = None  # whose forward output is this layer's act
    unit_dim: int = -1
    fan_in: Optional[int] = None
    fan_out: Optional[int] = None
    trainable: bool = True
    snapshot: Optional[torch.Tensor] = field(default=None, repr=False)


def linear_spec(name: str, m: nn.Module, activation: Optional[str] = None,
                act_module: Optional[nn.Module] = None, unit_dim: int = -1) -> LayerSpec:
    w = m.weight
    fan_in, fan_out = None, None
    if w.dim() >= 2 and not isinstance(m, nn.Embedding):
        rec = 1
        for s in w.shape[2:]:
            rec *= int(s)
        fan_in, fan_out = int(w.shape[1]) * rec, int(w.shape[0]) * rec
    b = getattr(m, "bias", None)
    return LayerSpec(name, m, w, type(m).__name__, b if isinstance(b, nn.Parameter) else None,
                     activation, act_module if act_module is not None else m, unit_dim,
                     fan_in, fan_out, any(p.requires_grad for p in m.parameters(recurse=False)))


def recurrent_specs(name: str, m: nn.RNNBase, activation: str = "tanh") -> List[LayerSpec]:
    """One spec per weight matrix of a recurrent module, in forward order."""
    out: List[LayerSpec] = []
    for layer in range(m.num_layers):
        for part in ("ih", "hh"):
            w = getattr(m, f"weight_{part}_l{layer}")
            b = getattr(m, f"bias_{part}_l{layer}", None)
            out.append(LayerSpec(f"{name}.weight_{part}_l{layer}", m, w, type(m).__name__, b,
                                 activation, None, -1, int(w.shape[1]), int(w.shape[0])))
    out[-1].act_module = m
    return out


def _out_tensor(out: Any) -> Optional[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


class Recorder:
    def __init__(self, name: str, config: Dict[str, Any], layers: List[LayerSpec],
                 optimizer: torch.optim.Optimizer, loss_name: str, every: int = 5,
                 framework: str = "pytorch") -> None:
        self.layers = layers
        self.every = every
        self.optimizer = optimizer
        self.reporting = False
        self._acts: Dict[str, Dict[str, Any]] = {}
        self._inputs: Optional[Dict[str, Any]] = None
        self._items: List[Dict[str, Any]] = []
        self.messages: List[Dict[str, Any]] = []
        self._seq = 0
        self.first_nan_step: Optional[int] = None
        self._send({"type": "hello", "protocol": 1,
                    "run": {"id": f"corpus-{name}", "project": "corpus", "name": name,
                            "config": config, "framework": framework}})
        by_module: Dict[int, List[LayerSpec]] = {}
        for spec in layers:
            if spec.act_module is not None:
                by_module.setdefault(id(spec.act_module), []).append(spec)
        self._hooks = []
        for specs in by_module.values():
            self._hooks.append(specs[0].act_module.register_forward_hook(self._hook(specs)))
        self._send(self._model_message(loss_name))

    def _send(self, msg: Dict[str, Any]) -> None:
        if msg["type"] != "hello":
            self._seq += 1
            msg = {"type": msg["type"], "seq": self._seq, **{k: v for k, v in msg.items() if k != "type"}}
        self.messages.append(msg)

    def _model_message(self, loss_name: str) -> Dict[str, Any]:
        described = []
        for s in self.layers:
            d: Dict[str, Any] = {"name": s.name, "kind": s.kind, "params": int(s.weight.numel())}
            if s.activation:
                d["activation"] = s.activation
            if s.fan_in is not None:
                d["fanIn"], d["fanOut"] = s.fan_in, s.fan_out
            d["trainable"] = s.trainable
            described.append(d)
        g = self.optimizer.param_groups[0]
        opt: Dict[str, Any] = {"type": type(self.optimizer).__name__, "lr": wire(float(g["lr"]))}
        if "momentum" in g:
            opt["momentum"] = float(g["momentum"])
        opt["weightDecay"] = float(g.get("weight_decay", 0.0))
        if g.get("nesterov"):
            opt["nesterov"] = True
        return {"type": "model", "layers": described, "loss": loss_name, "optimizer": opt}

    def _hook(self, specs: List[LayerSpec]):
        def f(_m: nn.Module, _a: Any, out: Any) -> None:
            if not self.reporting:
                return
            t = _out_tensor(out)
            if t is not None and t.is_floating_point():
                s = specs[-1]
                self._acts[s.name] = stats(t, act=True, activation=s.activation, unit_dim=s.unit_dim)
        return f

    def begin(self, step: int, x: torch.Tensor) -> None:
        """Before the training forward of `step`."""
        self.reporting = step % self.every == 0
        self._acts = {}
        self._inputs = input_stats(x) if self.reporting and x.is_floating_point() else None

    def before_update(self) -> None:
        if not self.reporting:
            return
        for s in self.layers:
            s.snapshot = s.weight.detach().clone()

    def after_update(self, step: int, scalars: Dict[str, float], examples: int,
                     epoch: Optional[float] = None) -> None:
        item: Dict[str, Any] = {"step": step, "examples": examples,
                                "scalars": {k: wire(float(v)) for k, v in scalars.items()}}
        if epoch is not None:
            item["epoch"] = epoch
        if self.first_nan_step is None and any(not math.isfinite(float(v)) for v in scalars.values()):
            self.first_nan_step = step
        if self.reporting:
            layers: Dict[str, Any] = {}
            for s in self.layers:
                d: Dict[str, Any] = {"param": stats(s.weight)}
                if s.bias is not None:
                    d["bias"] = stats(s.bias)
                if s.weight.grad is not None:
                    d["grad"] = stats(s.weight.grad)
                if s.snapshot is not None:
                    d["update"] = stats(s.weight.detach() - s.snapshot)
                    s.snapshot = None
                if s.name in self._acts:
                    d["act"] = self._acts[s.name]
                layers[s.name] = d
            item["layers"] = layers
            if self._inputs is not None:
                item["inputs"] = self._inputs
        self.reporting = False
        self._items.append(item)
        if len(self._items) >= 50:
            self.flush()

    def flush(self) -> None:
        if self._items:
            self._send({"type": "steps", "items": self._items})
            self._items = []

    def eval(self, step: int, metrics: Dict[str, float], x: Optional[torch.Tensor] = None,
             epoch: Optional[float] = None, split: str = "val") -> None:
        self.flush()
        msg: Dict[str, Any] = {"type": "eval", "step": step, "split": split,
                               "metrics": {k: wire(float(v)) for k, v in metrics.items()}}
        if epoch is not None:
            msg["epoch"] = epoch
        if x is not None and x.is_floating_point():
            msg["inputs"] = input_stats(x)
        self._send(msg)

    def end(self, status: str) -> None:
        self.flush()
        self._send({"type": "end", "status": status})
        for h in self._hooks:
            h.remove()

    def write(self, path: str, meta: Dict[str, Any]) -> int:
        text = json.dumps({**meta, "messages": self.messages}, separators=(",", ":"), allow_nan=False)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return len(text)
