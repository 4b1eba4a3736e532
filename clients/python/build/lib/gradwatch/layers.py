"""The layers watch() reports on: which modules count as layers (those with a main weight),
which activation follows each (through dropout and the like), and their forward order, all
learnt from the first training forward."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

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
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
_CHANNEL_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.GroupNorm,
                  nn.modules.pooling._MaxPoolNd if hasattr(nn.modules.pooling, "_MaxPoolNd")
                  else nn.MaxPool2d)


def main_weight(m: nn.Module) -> Optional[nn.Parameter]:
    params = dict(m.named_parameters(recurse=False))
    w = params.get("weight")
    if isinstance(w, nn.Parameter):
        return w
    if not params:
        return None
    return max(params.values(), key=lambda p: p.numel())


class Layer:
    """A watched module: its main weight and bias, and the activation module after it."""

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


def find_layers(model: nn.Module) -> List[Layer]:
    """Every module with a main weight (activations with parameters, like PReLU, excepted)."""
    layers = []
    for name, m in model.named_modules():
        if type(m) in ACTIVATIONS:
            continue
        w = main_weight(m)
        if w is None:
            continue
        layers.append(Layer(name or type(m).__name__, m, w))
    return layers


def order_layers(model: nn.Module, layers: List[Layer], starts: Sequence[str]) -> None:
    """Sorts `layers` in forward order: the order in which the modules started (`starts`)."""
    order: Dict[int, int] = {}
    for i, name in enumerate(starts):
        order.setdefault(id(model.get_submodule(name)) if name else id(model), i)
    for layer in layers:
        layer.order = order.get(id(layer.module), 10 ** 9)
    layers.sort(key=lambda l: l.order)


Finished = Tuple[str, nn.Module, Optional[torch.Tensor]]


def pair_activations(finished: Sequence[Finished], by_module: Dict[int, Layer],
                     act_owner: Dict[int, Layer]) -> Dict[int, Optional[torch.Tensor]]:
    """Pairs each layer with the activation module that follows it in `finished` (modules in
    the order their forwards returned, with their outputs), through pass-through modules
    such as dropout. Fills `act_owner` and returns the outputs seen: by id(module), and by
    -id(layer module) for the output of a layer's activation."""
    outputs: Dict[int, Optional[torch.Tensor]] = {}
    for i, (name, m, out) in enumerate(finished):
        outputs.setdefault(id(m), out)
        owner = by_module.get(id(m))
        if owner is None or owner.act_module is not None:
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
