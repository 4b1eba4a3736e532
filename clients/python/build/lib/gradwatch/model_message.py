"""The `model` message: the watched model's structure (layers in forward order, their kind,
size, activation and fans), its loss and optimizer settings, which the server's rules need
to judge the statistics (e.g. the init scale that fits a ReLU layer's fan-in)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from .layers import NORMS, Layer


def fans(m: nn.Module, w: torch.Tensor) -> Tuple[Optional[int], Optional[int]]:
    if isinstance(m, nn.Linear):
        return m.in_features, m.out_features
    if w.dim() < 2 or isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return None, None
    receptive = 1
    for s in w.shape[2:]:
        receptive *= int(s)
    return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive


def optimizer_info(opt: Any) -> Optional[Dict[str, Any]]:
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


def loss_name(c: Any) -> Optional[str]:
    if c is None:
        return None
    if isinstance(c, str):
        return c[:100]
    if isinstance(c, nn.Module):
        return type(c).__name__
    return str(getattr(c, "__name__", type(c).__name__))[:100]


def activation_after_norm(layers: List[Layer], layer: Layer) -> Optional[str]:
    # conv -> batchnorm -> relu: the conv's activation is the relu
    idx = layers.index(layer)
    if idx + 1 < len(layers):
        nxt = layers[idx + 1]
        if isinstance(nxt.module, NORMS) and nxt.activation:
            return nxt.activation
    return None


def model_message(layers: List[Layer], optimizer: Any, criterion: Any) -> Dict[str, Any]:
    described = []
    for layer in layers:
        d: Dict[str, Any] = {
            "name": layer.name[:200], "kind": type(layer.module).__name__[:100],
            "params": int(sum(p.numel() for p in layer.module.parameters(recurse=False))),
        }
        act = layer.activation or activation_after_norm(layers, layer)
        if act:
            d["activation"] = act
        fi, fo = fans(layer.module, layer.weight)
        if fi is not None:
            d["fanIn"] = fi
            d["fanOut"] = fo
        d["trainable"] = layer.trainable
        described.append(d)
    msg: Dict[str, Any] = {"type": "model", "layers": described}
    loss = loss_name(criterion)
    if loss:
        msg["loss"] = loss
    opt = optimizer_info(optimizer)
    if opt:
        msg["optimizer"] = opt
    return msg
