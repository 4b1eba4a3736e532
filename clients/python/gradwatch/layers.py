"""The layers watch() reports on: which modules count as layers (those with a main weight),
which activation follows each (through dropout and the like), and their forward order, all
learnt from the first training forward.

A module with several weight matrices (LSTM/GRU/RNN, MultiheadAttention with separate q/k/v
projections) is reported as one layer per matrix, named `<module>.<param>` as
named_parameters() names it: the server's rules judge a recurrent net by its hidden-to-hidden
matrices (`weight_hh_l0`), which a single entry per module would hide."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

ACTIVATIONS: dict[type, str] = {}
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
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.GroupNorm,
                  nn.modules.pooling._MaxPoolNd if hasattr(nn.modules.pooling, "_MaxPoolNd")
                  else nn.MaxPool2d)


def main_weight(m: nn.Module) -> nn.Parameter | None:
    params = dict(m.named_parameters(recurse=False))
    w = params.get("weight")
    if isinstance(w, nn.Parameter):
        return w
    if not params:
        return None
    return max(params.values(), key=lambda p: p.numel())


class Layer:
    """A watched module: its main weight and bias, and the activation module after it."""

    __slots__ = (
        "act_at_hook",
        "act_module",
        "activation",
        "bias",
        "bias_part",
        "carries_act",
        "fans",
        "grad_seen",
        "grads_reused",
        "module",
        "name",
        "order",
        "own_act",
        "snapshot",
        "trainable",
        "unit_dim",
        "weight",
    )

    def __init__(self, name: str, module: nn.Module, weight: nn.Parameter) -> None:
        self.name = name
        self.module = module
        self.weight = weight
        b = getattr(module, "bias", None)
        if b is None and isinstance(module, nn.MultiheadAttention):
            b = module.in_proj_bias
        self.bias = b if isinstance(b, nn.Parameter) and b is not weight else None
        # the rows of `bias` that belong to this matrix (a packed bias shared by sub-layers)
        self.bias_part: tuple[int, int] | None = None
        self.act_module: nn.Module | None = None
        self.activation: str | None = None
        self.unit_dim = 1 if isinstance(module, _CHANNEL_FIRST) else -1
        self.trainable = any(p.requires_grad for p in module.parameters(recurse=False))
        self.snapshot: torch.Tensor | None = None
        self.order = 10 ** 9
        # (fanIn, fanOut) when known from the matrix itself rather than the module (sub-layers)
        self.fans: tuple[int, int] | None = None
        # the module's output is this layer's act (False for all but a module's last matrix)
        self.carries_act = True
        # the activation is the module's own nonlinearity, not a module that follows it
        self.own_act = False
        # the activation tensor changes in place after its hook (report.py)
        self.act_at_hook = False
        # the gradient tensor of the last report, and whether the loop reuses it (report.py)
        self.grad_seen: weakref.ref[torch.Tensor] | None = None
        self.grads_reused = False

    def bias_tensor(self) -> torch.Tensor | None:
        b = self.bias
        if b is None or self.bias_part is None:
            return b
        return b[self.bias_part[0]:self.bias_part[1]]


def _sub_layer(name: str, m: nn.Module, pname: str, w: nn.Parameter,
               bias: nn.Parameter | None) -> Layer:
    layer = Layer(f"{name}.{pname}", m, w)
    layer.bias = bias
    layer.fans = (int(w.shape[1]), int(w.shape[0]))
    layer.trainable = w.requires_grad
    layer.carries_act = False
    return layer


def sub_layers(name: str, m: nn.Module) -> list[Layer] | None:
    """One layer per weight matrix of a recurrent module or of an attention with separate
    q/k/v projections, in named_parameters() order; None for any other module."""
    params = dict(m.named_parameters(recurse=False))
    out: list[Layer] = []
    if isinstance(m, nn.RNNBase):
        act = str(getattr(m, "nonlinearity", "tanh")) if type(m) is nn.RNN else "tanh"
        for pname, w in params.items():
            if pname.startswith("weight_") and w.dim() == 2:
                # weight_ih_l0 -> bias_ih_l0 (weight_hr_l0, a projection, has none)
                layer = _sub_layer(name, m, pname, w, params.get("bias" + pname[6:]))
                layer.activation, layer.own_act = act, True
                out.append(layer)
    elif isinstance(m, nn.MultiheadAttention) and "in_proj_weight" not in params:
        packed = params.get("in_proj_bias")
        e = int(m.embed_dim)
        for i, pname in enumerate(("q_proj_weight", "k_proj_weight", "v_proj_weight")):
            q = params.get(pname)
            if q is None:
                continue
            layer = _sub_layer(name, m, pname, q, packed)
            if packed is not None:
                layer.bias_part = (i * e, (i + 1) * e)
            out.append(layer)
    if not out:
        return None
    out[-1].carries_act = True
    return out


def find_layers(model: nn.Module) -> list[Layer]:
    """Every module with a main weight (activations with parameters, like PReLU, excepted)."""
    layers = []
    for name, m in model.named_modules():
        if type(m) in ACTIVATIONS:
            continue
        subs = sub_layers(name or type(m).__name__, m)
        if subs is not None:
            layers.extend(subs)
            continue
        w = main_weight(m)
        if w is None:
            continue
        layers.append(Layer(name or type(m).__name__, m, w))
    return layers


def order_layers(model: nn.Module, layers: list[Layer], starts: Sequence[str]) -> None:
    """Sorts `layers` in forward order: the order in which the modules started (`starts`)."""
    order: dict[int, int] = {}
    for i, name in enumerate(starts):
        order.setdefault(id(model.get_submodule(name)) if name else id(model), i)
    for layer in layers:
        layer.order = order.get(id(layer.module), 10 ** 9)
    layers.sort(key=lambda layer: layer.order)


Finished = tuple[str, nn.Module, Optional[torch.Tensor]]


def pair_activations(finished: Sequence[Finished], by_module: dict[int, Layer],
                     act_owner: dict[int, Layer]) -> dict[int, torch.Tensor | None]:
    """Pairs each layer with the activation module that follows it in `finished` (modules in
    the order their forwards returned, with their outputs), through pass-through modules
    such as dropout. Fills `act_owner` and returns the outputs seen: by id(module), and by
    -id(layer module) for the output of a layer's activation."""
    outputs: dict[int, torch.Tensor | None] = {}
    for i, (_name, m, out) in enumerate(finished):
        outputs.setdefault(id(m), out)
        owner = by_module.get(id(m))
        if owner is None or owner.act_module is not None or owner.own_act:
            continue
        layer = owner
        j = i + 1
        while j < len(finished) and isinstance(finished[j][1], _PASS_THROUGH):
            j += 1
        if j < len(finished) and type(finished[j][1]) in ACTIVATIONS:
            act = finished[j][1]
            if id(act) not in act_owner:
                layer.act_module = act
                layer.activation = ACTIVATIONS[type(act)]
                act_owner[id(act)] = layer
                outputs[id(layer.module) * -1] = finished[j][2]
    return outputs
