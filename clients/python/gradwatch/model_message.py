"""The `model` message: the watched model's structure (layers in forward order, their kind,
size, activation and fans), its loss and optimizer settings, which the server's rules need
to judge the statistics (e.g. the init scale that fits a ReLU layer's fan-in)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn

from .layers import NORMS, Layer


def fans(m: nn.Module, w: torch.Tensor) -> tuple[int | None, int | None]:
    if isinstance(m, nn.Linear):
        return m.in_features, m.out_features
    if w.dim() < 2 or isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return None, None
    receptive = 1
    for s in w.shape[2:]:
        receptive *= int(s)
    return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive


def optimizer_info(opt: Any) -> dict[str, Any] | None:
    if opt is None:
        return None
    info: dict[str, Any] = {"type": type(opt).__name__}
    try:
        g = opt.param_groups[0]
    except (AttributeError, IndexError):
        return info

    def num(v: Any) -> float | None:
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
        with contextlib.suppress(TypeError, ValueError):
            info["betas"] = [float(b) for b in g["betas"]]
    if num(g.get("weight_decay", 0.0)) is not None:
        info["weightDecay"] = num(g.get("weight_decay", 0.0))
    if g.get("nesterov"):
        info["nesterov"] = True
    return info


def loss_name(c: Any) -> str | None:
    if c is None:
        return None
    if isinstance(c, str):
        return c[:100]
    if isinstance(c, nn.Module):
        return type(c).__name__
    return str(getattr(c, "__name__", type(c).__name__))[:100]


def activation_after_norm(layers: list[Layer], layer: Layer) -> str | None:
    # conv -> batchnorm -> relu: the conv's activation is the relu
    idx = layers.index(layer)
    if idx + 1 < len(layers):
        nxt = layers[idx + 1]
        if isinstance(nxt.module, NORMS) and nxt.activation:
            return nxt.activation
    return None


def model_message(layers: list[Layer], optimizer: Any, criterion: Any) -> dict[str, Any]:
    described = []
    for layer in layers:
        if layer.fans is None:
            n = sum(p.numel() for p in layer.module.parameters(recurse=False))
        else:  # a sub-layer: its own matrix and bias
            b = layer.bias_tensor()
            n = layer.weight.numel() + (b.numel() if b is not None else 0)
        d: dict[str, Any] = {
            "name": layer.name[:200], "kind": type(layer.module).__name__[:100], "params": int(n),
        }
        act = layer.activation or activation_after_norm(layers, layer)
        if act:
            d["activation"] = act
        fi, fo = layer.fans or fans(layer.module, layer.weight)
        if fi is not None:
            d["fanIn"] = fi
            d["fanOut"] = fo
        d["trainable"] = layer.trainable
        described.append(d)
    msg: dict[str, Any] = {"type": "model", "layers": described}
    loss = loss_name(criterion)
    if loss:
        msg["loss"] = loss
    opt = optimizer_info(optimizer)
    if opt:
        msg["optimizer"] = opt
    return msg
