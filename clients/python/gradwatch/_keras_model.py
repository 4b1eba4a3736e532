"""What the Keras callback (keras.py) reads from a Keras 3 model: its layers with weights in
forward order (the `model` message), the per-batch value of each compiled metric, the
optimizer's settings, and gradient statistics captured inside the compiled train step."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

_MAIN_WEIGHTS = ("kernel", "embeddings", "depthwise_kernel", "pointwise_kernel")
_STAT_FIELDS = ("mean", "std", "meanAbs", "min", "max", "norm", "nonFinite")


def leaf_layers(model: Any) -> list[Any]:
    """Layers without sub-layers, in the model's order (forward order for Sequential and
    functional models), nested models flattened."""
    out: list[Any] = []
    for layer in getattr(model, "layers", []):
        subs = getattr(layer, "layers", None)
        if subs:
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out


def main_weight(layer: Any) -> Any | None:
    for name in _MAIN_WEIGHTS:
        w = getattr(layer, name, None)
        if w is not None and hasattr(w, "shape") and len(w.shape) >= 1:
            return w
    ws = [w for w in layer.weights if len(w.shape) >= 1]
    return max(ws, key=lambda w: int(np.prod(w.shape))) if ws else None


def _activation_name(fn: Any) -> str | None:
    if fn is None:
        return None
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return None if name == "linear" else name.lower()


def describe(model: Any) -> tuple[list[tuple[str, Any, Any]], dict[str, Any]]:
    """[(name, layer, main weight)] of the layers with weights, and the `model` message."""
    leaves = leaf_layers(model)
    watched = []
    described = []
    for i, layer in enumerate(leaves):
        w = main_weight(layer)
        if w is None:
            continue
        watched.append((layer.name, layer, w))
        d: dict[str, Any] = {"name": layer.name[:200], "kind": type(layer).__name__[:100],
                             "params": int(sum(int(np.prod(v.shape)) for v in layer.weights)),
                             "trainable": bool(layer.trainable)}
        act = _activation_name(getattr(layer, "activation", None))
        nxt = leaves[i + 1] if i + 1 < len(leaves) else None
        if act is None and nxt is not None and main_weight(nxt) is None:
            # Dense(..) then Activation("relu") / ReLU(): the activation is the next layer's
            act = _activation_name(getattr(nxt, "activation", None)) or (
                type(nxt).__name__.lower() if type(nxt).__name__ in ("ReLU", "LeakyReLU",
                                                                       "ELU", "Softmax") else None)
        if act:
            d["activation"] = act[:100]
        shape = [int(s) for s in w.shape]
        if len(shape) >= 2 and type(layer).__name__ != "Embedding":
            receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            d["fanIn"], d["fanOut"] = shape[-2] * receptive, shape[-1] * receptive
        described.append(d)
    msg: dict[str, Any] = {"type": "model", "layers": described}
    loss = getattr(model, "loss", None)
    if loss is not None:
        name = loss if isinstance(loss, str) else getattr(loss, "name", None) or \
            getattr(loss, "__name__", None) or type(loss).__name__
        msg["loss"] = str(name)[:100]
    opt = optimizer_info(getattr(model, "optimizer", None))
    if opt:
        msg["optimizer"] = opt
    return watched, msg


def _num(v: Any) -> float | None:
    try:
        import keras

        f = float(keras.ops.convert_to_numpy(v))
    except Exception:  # noqa: BLE001
        try:
            f = float(v)
        except Exception:  # noqa: BLE001
            return None
    return f if math.isfinite(f) else None


def optimizer_info(opt: Any) -> dict[str, Any] | None:
    if opt is None:
        return None
    info: dict[str, Any] = {"type": type(opt).__name__}
    lr = _num(getattr(opt, "learning_rate", None))
    if lr is not None:
        info["lr"] = lr
    for attr, key in (("momentum", "momentum"), ("weight_decay", "weightDecay")):
        v = _num(getattr(opt, attr, None))
        if v is not None:
            info[key] = v
    b1, b2 = _num(getattr(opt, "beta_1", None)), _num(getattr(opt, "beta_2", None))
    if b1 is not None and b2 is not None:
        info["betas"] = [b1, b2]
    if getattr(opt, "nesterov", False):
        info["nesterov"] = True
    return info


def leaf_metrics(metrics: Any) -> Iterator[Any]:
    for m in metrics:
        if hasattr(m, "total") and hasattr(m, "count"):
            yield m
        elif getattr(m, "metrics", None):
            yield from leaf_metrics(m.metrics)


class BatchValues:
    """Keras reports each metric as its running mean over the epoch; the rules want each
    batch's own value. A mean metric keeps a weighted total and count, so the batch's value
    is the change of the total over the change of the count."""

    def __init__(self) -> None:
        self._prev: dict[int, tuple[float, float]] = {}

    def read(self, model: Any) -> dict[str, float]:
        import keras

        out: dict[str, float] = {}
        for m in leaf_metrics(model.metrics):
            total = float(keras.ops.convert_to_numpy(m.total))
            count = float(keras.ops.convert_to_numpy(m.count))
            pt, pc = self._prev.get(id(m), (0.0, 0.0))
            if count < pc or (count == pc and total != pt):
                pt, pc = 0.0, 0.0  # the metric was reset (a new epoch)
            self._prev[id(m)] = (total, count)
            if count > pc:
                out[m.name] = (total - pt) / (count - pc)
        return out


def stats_np(x: np.ndarray) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    finite = np.isfinite(x)
    bad = int(x.size - finite.sum())
    f = x[finite] if bad else x
    if f.size == 0:
        return {k: (float(bad) if k == "nonFinite" else math.nan) for k in _STAT_FIELDS}
    return {"mean": float(f.mean()), "std": float(f.std()), "meanAbs": float(np.abs(f).mean()),
            "min": float(f.min()), "max": float(f.max()), "norm": float(np.sqrt(f @ f)),
            "nonFinite": bad}


class GradCapture:
    """Gradient stats of the watched weights, computed inside the train step on reporting
    iterations (optimizer.iterations % every == 0) and kept in small variables that the
    callback reads after the batch. It wraps `optimizer.apply`, which the TensorFlow and
    PyTorch backends call with the gradients; the JAX backend applies them statelessly, so
    there it captures nothing (`captured` stays False)."""

    def __init__(self, optimizer: Any, weights: list[Any], every: int) -> None:
        import keras

        self.every = every
        self.captured = False
        self._ids = {id(w): i for i, w in enumerate(weights)}
        self._vars = [keras.Variable(np.zeros(len(_STAT_FIELDS), "float32"), trainable=False,
                                     dtype="float32", name=f"gradwatch_grad_{i}")
                      for i in range(len(weights))]
        self._opt = optimizer
        self._orig = optimizer.apply
        optimizer.apply = self._apply

    def _apply(self, grads: Any, trainable_variables: Any = None) -> Any:
        from keras import ops

        variables = trainable_variables if trainable_variables is not None else \
            self._opt._trainable_variables
        pairs = [(self._ids[id(v)], g) for g, v in zip(grads, variables)
                 if id(v) in self._ids and g is not None]
        if pairs:
            self.captured = True

            def record() -> Any:
                for i, g in pairs:
                    self._vars[i].assign(_grad_stats(ops, g))
                return ops.zeros(())

            ops.cond(ops.equal(ops.mod(self._opt.iterations, self.every), 0), record,
                     lambda: ops.zeros(()))
        return self._orig(grads, trainable_variables)

    def read(self) -> list[dict[str, float]]:
        import keras

        out = []
        for v in self._vars:
            a = keras.ops.convert_to_numpy(v).astype(float)
            out.append({k: float(x) for k, x in zip(_STAT_FIELDS, a)})
        return out

    def remove(self) -> None:
        if self._opt.apply == self._apply:
            self._opt.apply = self._orig


def _grad_stats(ops: Any, g: Any) -> Any:
    flat = ops.reshape(ops.cast(g, "float32"), (-1,))
    finite = ops.isfinite(flat)
    ff = ops.cast(finite, "float32")
    n = ops.maximum(ops.sum(ff), 1.0)
    f = ops.where(finite, flat, ops.zeros_like(flat))
    sq = ops.sum(f * f)
    mean = ops.sum(f) / n
    big = ops.full_like(flat, 3.0e38)
    return ops.stack([
        mean, ops.sqrt(ops.maximum(sq / n - mean * mean, 0.0)), ops.sum(ops.abs(f)) / n,
        ops.min(ops.where(finite, flat, big)), ops.max(ops.where(finite, flat, -big)),
        ops.sqrt(sq), ops.sum(1.0 - ff)])
