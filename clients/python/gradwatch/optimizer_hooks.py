"""The optimizer side of watch(): counting optimizer steps (the iterations reports follow),
snapshotting the layers' weights before a reporting step so the update the optimizer really
made can be measured, and completing the report after the step. Without an explicit
optimizer, global optimizer hooks adopt the first optimizer that updates the model."""

from __future__ import annotations

from typing import Any

import torch

from .copies import CopyPool
from .layers import Layer
from .report import Pending


class OptimizerHooksMixin:
    """Optimizer hooks of a Watcher; the Watcher provides the state and the two callbacks."""

    optimizer: Any
    every: int
    _handles: list[Any]
    _layers: list[Layer]
    _removed: bool
    _opt_steps: int
    _opt_seen: bool
    _opt_match: dict[int, bool]
    _snap_iter: int | None
    _pending: Pending | None
    _model_sent: bool
    _copies: CopyPool

    def _send_model(self) -> None:
        raise NotImplementedError

    def _complete(self, p: Pending, with_step: bool = False) -> None:
        raise NotImplementedError

    def _hook_optimizer(self) -> None:
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._opt_pre))
            self._handles.append(self.optimizer.register_step_post_hook(self._opt_post))
        else:
            from torch.optim.optimizer import (
                register_optimizer_step_post_hook,
                register_optimizer_step_pre_hook,
            )

            self._handles.append(register_optimizer_step_pre_hook(self._global_pre))
            self._handles.append(register_optimizer_step_post_hook(self._global_post))

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
        if (not self._removed and self._matches(opt)
                and getattr(self, "_seen_optimizer", None) is opt):
            self._opt_pre(opt, args, kwargs)

    def _global_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        if (not self._removed and self._opt_match.get(id(opt))
                and getattr(self, "_seen_optimizer", None) is opt):
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
                    layer.snapshot = self._copies.copy(layer.weight)
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
            p = Pending(it)
        self._pending = None
        self._complete(p, with_step=self._snap_iter == it)
        self._snap_iter = None
