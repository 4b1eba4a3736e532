"""Keras 3 callback (any backend).

    from gradwatch.keras import GradwatchCallback
    model.fit(x, y, validation_data=..., callbacks=[GradwatchCallback(project="mnist")])

It starts a run when training begins (or uses the `run` you pass) and sends the model's
layers with weights (kind, activation, fans, trainable), the loss and the optimizer; every
batch the loss, compiled metrics (each batch's own value, not Keras' running epoch mean) and
learning rate at step = the global batch index; every `every` batches the stats of each
layer's main weight and bias and of the update the optimizer made (and, on the TensorFlow and
PyTorch backends, of the gradient); histograms of weights and updates every `hist_every`
batches; validation metrics (`val_*`) at each epoch end with split "val". It stops training
when `run.should_stop` is set and finishes the run when training ends.
"""

from __future__ import annotations

import threading
from typing import Any

import keras
import numpy as np

from . import startup
from ._keras_model import BatchValues, GradCapture, describe, leaf_layers, stats_np
from ._warn import warn
from .importers.tb_tags import classify_scalar
from .run import Run

_HIST_BINS = 32


def _np(v: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64)


class GradwatchCallback(keras.callbacks.Callback):  # type: ignore[misc]  # keras ships no types
    def __init__(self, run: Run | None = None, *, every: int = 10,
                 hist_every: int | None = None, gradients: bool = True,
                 finish: bool = True, **init_kwargs: Any) -> None:
        super().__init__()
        if every < 1:
            raise ValueError("every must be at least 1")
        self.run = run
        self.every = int(every)
        self.hist_every = int(hist_every) if hist_every else self.every * 10
        self.gradients = gradients
        self._owns_run = run is None and finish
        self._init_kwargs = init_kwargs
        self._step = -1
        self._watched: list[Any] = []
        self._before: list[np.ndarray] | None = None
        self._values = BatchValues()
        self._grads: GradCapture | None = None
        self._lr: float | None = None
        self._epoch = 0

    # ------------------------------------------------------------------ start
    def _config(self, model_msg: dict[str, Any]) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        opt = model_msg.get("optimizer") or {}
        if "lr" in opt:
            cfg["lr"] = opt["lr"]
        if opt.get("type"):
            cfg["optimizer"] = str(opt["type"]).lower()
        if opt.get("weightDecay"):
            # Keras 3 applies weight_decay to the weights directly (decoupled, like AdamW)
            cfg["weightDecay"] = opt["weightDecay"]
            cfg["decoupledWeightDecay"] = True
        if "momentum" in opt:
            cfg["momentum"] = opt["momentum"]
        from_logits = getattr(getattr(self.model, "loss", None), "from_logits", None)
        if from_logits is not None:
            cfg["fromLogits"] = bool(from_logits)
        rates = [float(layer.rate) for layer in leaf_layers(self.model)
                 if type(layer).__name__ == "Dropout" and hasattr(layer, "rate")]
        if rates:
            cfg["dropout"] = max(rates)
        for k in ("epochs", "steps"):
            if self.params and self.params.get(k) is not None:
                cfg["epochs" if k == "epochs" else "stepsPerEpoch"] = self.params[k]
        cfg.update(self._init_kwargs.pop("config", None) or {})
        return cfg

    def on_train_begin(self, logs: Any = None) -> None:
        watched, msg = describe(self.model)
        self._watched = watched
        if self.run is None:
            self._init_kwargs.setdefault("framework", f"keras-{keras.backend.backend()}")
            self.run = startup.init(config=self._config(msg), **self._init_kwargs)
        self.run._send(msg)
        opt = getattr(self.model, "optimizer", None)
        if self.gradients and opt is not None and self._grads is None and watched:
            try:
                self._grads = GradCapture(opt, [w for _, _, w in watched], self.every)
            except Exception as e:  # noqa: BLE001 - stats without gradients are still useful
                warn(f"gradient statistics are off: {type(e).__name__}: {e}")

    # ------------------------------------------------------------------ batches
    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        step = self._step + 1
        opt = getattr(self.model, "optimizer", None)
        if opt is not None:
            try:
                self._lr = float(keras.ops.convert_to_numpy(opt.learning_rate))
            except Exception:  # noqa: BLE001
                self._lr = None
        if step % self.every == 0:
            # the weights before this batch's update, to measure the update itself
            self._before = [_np(w).copy() for _, _, w in self._watched]

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        run = self.run
        if run is None:
            return
        self._step += 1
        step = self._step
        scalars: dict[str, float] = {}
        for name, v in self._values.read(self.model).items():
            split, mapped = classify_scalar(name)
            if split is None:
                scalars[mapped] = v
        if self._lr is not None:
            scalars["lr"] = self._lr
        if step % self.every == 0 and self._watched:
            layers, hists = self._layer_report(step)
            run._log_report(step, scalars, layers, None, None, hists)
        else:
            run.log(step, scalars, epoch=self._epoch)
        if run.should_stop:
            self.model.stop_training = True

    def _layer_report(self, step: int) -> Any:
        before = self._before
        self._before = None
        grads = self._grads.read() if self._grads is not None and self._grads.captured else None
        hist = step % self.hist_every == 0
        layers: dict[str, dict[str, Any]] = {}
        hists: list[dict[str, Any]] = []
        for i, (name, layer, w) in enumerate(self._watched):
            now = _np(w)
            d: dict[str, Any] = {"param": stats_np(now)}
            bias = getattr(layer, "bias", None)
            if bias is not None:
                d["bias"] = stats_np(_np(bias))
            if grads is not None and layer.trainable:
                d["grad"] = grads[i]
            tensors = [("param", now)]
            if before is not None:
                upd = now - before[i]
                d["update"] = stats_np(upd)
                tensors.append(("update", upd))
            layers[name] = d
            if hist:
                for of, x in tensors:
                    x = x[np.isfinite(x)]
                    if x.size:
                        counts, edges = np.histogram(x, bins=_HIST_BINS)
                        hists.append({"type": "hist", "layer": name, "of": of,
                                      "edges": edges.tolist(), "counts": counts.tolist()})
        return layers, hists

    # ------------------------------------------------------------------ epochs
    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        run = self.run
        if run is None or not logs:
            return
        metrics: dict[str, float] = {}
        for k, v in logs.items():
            if not k.startswith("val_"):
                continue
            _, name = classify_scalar(k[4:], "val")
            try:
                metrics[name] = float(v)
            except (TypeError, ValueError):
                continue
        if metrics:
            if run._sender is not None:
                # cut the pending step items so the rules see the steps before the eval
                run._sender.put(("flush", threading.Event()))
            run.log_eval(max(self._step, 0), metrics, split="val", epoch=epoch + 1)

    def on_train_end(self, logs: Any = None) -> None:
        if self._grads is not None:
            self._grads.remove()
            self._grads = None
        if self.run is not None and self._owns_run:
            self.run.finish("stopped" if self.run.should_stop else "completed")
