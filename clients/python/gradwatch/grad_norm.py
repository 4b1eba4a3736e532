"""The reserved scalar `grad_norm`: the total L2 norm of every parameter's gradient, the value
`torch.nn.utils.clip_grad_norm_` returns. The server's gradient and NaN rules prefer it to a
sum over the reported layers, which may miss parameters.

It is measured when the backward of a reporting iteration ends (an autograd callback queued
from a hook on the model's output), so it is the norm *before* any clipping the training loop
does between backward and `optimizer.step()`. When no backward passed through the model's
output, it is measured at the optimizer step instead. Either way it stays a device tensor
until the report's one host transfer.

A loop that leaves the gradients alone between backward and step (no clipping, no scaler)
gets the same number from the gradients the report reads anyway: once a report has seen that
(the gradients' version counters, `grad_marks`), later backwards only take the marks and the
report measures the norm with its other statistics, off the training thread. Should the
marks show a change after all, that report goes without `grad_norm` and the backward
measures again from the next one on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, Optional

import torch

Tensor = torch.Tensor


def total_grad_norm(params: Sequence[torch.nn.Parameter]) -> Tensor | None:
    """clip_grad_norm_'s total norm over the parameters that have a gradient (None when none
    has)."""
    return norm_of([p.grad for p in params if p.grad is not None])


def norm_of(grads: Sequence[Tensor]) -> Tensor | None:
    """The L2 norm of all of `grads` together: per device and dtype one `_foreach_norm`, then
    the norm of those norms (None for no gradient)."""
    groups: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
    for g in grads:
        if g.is_sparse:
            g = g.coalesce().values()
        groups.setdefault((g.device, g.dtype), []).append(g.detach())
    if not groups:
        return None
    norms: list[Tensor] = []
    for gs in groups.values():
        try:
            norms.extend(torch._foreach_norm(gs))
        except (RuntimeError, NotImplementedError):  # a backend without the fused kernel
            norms.extend(torch.linalg.vector_norm(g) for g in gs)
    first = norms[0].device
    total: Tensor = torch.linalg.vector_norm(torch.stack([n.to(first) for n in norms]))
    return total


# (parameter, its gradient, the gradient's version) when a backward ended
GradMarks = list[tuple[torch.nn.Parameter, Optional[Tensor], int]]


def grad_marks(params: Sequence[torch.nn.Parameter]) -> GradMarks:
    return [(p, p.grad, p.grad._version if p.grad is not None else 0) for p in params]


def untouched(marks: GradMarks) -> bool:
    """Every gradient is still the one the backward left, unchanged (no clipping, no
    unscaling, no accumulation since)."""
    for p, g, version in marks:
        if p.grad is not g or (g is not None and g._version != version):
            return False
    return True


def _first_grad_tensor(out: Any) -> Tensor | None:
    """The model output a backward will pass through: a tensor, the first of a tuple, or the
    first tensor value of a dict-like output (Hugging Face's ModelOutput)."""
    items: Any
    if isinstance(out, Tensor):
        items = (out,)
    elif isinstance(out, (list, tuple)):
        items = out
    elif isinstance(out, dict):
        items = out.values()
    else:
        return None
    for t in items:
        if isinstance(t, Tensor) and t.requires_grad:
            return t
    return None


def _queue_callback(fn: Callable[[], None]) -> None:
    engine = torch.autograd.Variable._execution_engine
    engine.queue_callback(fn)


class GradNormProbe:
    """Measures the total grad norm at the end of a backward, for one report at a time.

    `scaler`: a torch.amp.GradScaler whose scaled loss the backward ran on; the norm is
    divided by its scale (on the device: no sync), as `scaler.unscale_` would."""

    def __init__(self, params: Sequence[torch.nn.Parameter], scaler: Any = None) -> None:
        self.params = list(params)
        self.scaler = scaler

    def scaled(self) -> bool:
        """A GradScaler is in use: the backward's gradients are scaled."""
        return self.scaler is not None and bool(self.scaler.is_enabled())

    def arm(self, out: Any, store: Callable[[Tensor | None, GradMarks], None],
            measure: bool = True) -> bool:
        """Hooks the model's output so that the backward through it ends by handing `store`
        the norm (None unless `measure`) and the gradients' marks; False when no backward can
        pass through this output. Without `measure` the report measures the norm later, from
        the gradients, when the marks show nothing changed them in between."""
        t = _first_grad_tensor(out)
        if t is None:
            return False

        def on_grad(_g: Tensor) -> None:
            # the output's gradient is the first one computed: the rest of the backward is
            # still to come, so measure once it is done
            _queue_callback(lambda: self._measure(store, measure))

        t.register_hook(on_grad)  # type: ignore[no-untyped-call]
        return True

    def _measure(self, store: Callable[[Tensor | None, GradMarks], None],
                 measure: bool) -> None:
        marks = grad_marks(self.params)
        if not measure and not self.scaled():
            store(None, marks)
            return
        with torch.no_grad():
            n = total_grad_norm(self.params)
            sc = self.scaler
            scale = getattr(sc, "_scale", None) if sc is not None and sc.is_enabled() else None
            if n is not None and isinstance(scale, Tensor):
                n = n.float() / scale.reshape(()).to(n.device)
        store(n, marks)
