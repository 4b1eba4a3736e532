"""The training loop every corpus scenario runs: a real PyTorch forward/backward/step on one
CPU thread, recorded as wire messages. A scenario supplies the model, the data, the
optimizer and (for a fault that starts mid-run) a hook called before each step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from recorder import LayerSpec, Recorder

Batch = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class Setup:
    model: nn.Module
    specs: List[LayerSpec]
    optimizer: torch.optim.Optimizer
    batch: Callable[[int], Batch]
    steps: int
    batch_size: int
    config: Dict[str, Any]
    val: Optional[Batch] = None
    eval_inputs: Optional[torch.Tensor] = None  # what the eval forward is fed, when not val[0]
    dataset_size: Optional[int] = None  # finite training set: epochs are sent
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default_factory=lambda: nn.CrossEntropyLoss())
    loss_name: str = "CrossEntropyLoss"
    lr: Optional[Callable[[int], float]] = None
    clip: Optional[float] = None
    every: int = 10
    eval_every: int = 0
    hook: Optional[Callable[[int, torch.optim.Optimizer], None]] = None
    # after the first non-finite loss a real loop usually goes on for a while before anyone stops it
    steps_after_nan: int = 15


def run(name: str, s: Setup) -> Recorder:
    rec = Recorder(name, s.config, s.specs, s.optimizer, s.loss_name, every=s.every)
    params = [p for p in s.model.parameters() if p.requires_grad]
    nan_at: Optional[int] = None
    status = "completed"
    for k in range(s.steps):
        if s.lr is not None:
            for g in s.optimizer.param_groups:
                g["lr"] = s.lr(k)
        if s.hook is not None:
            s.hook(k, s.optimizer)
        x, y = s.batch(k)
        s.model.train()
        rec.begin(k, x)
        out = s.model(x)
        loss = s.loss(out, y)
        s.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The reserved scalar grad_norm: the total norm over all parameters, as clip_grad_norm_ returns it.
        gn = torch.nn.utils.clip_grad_norm_(params, s.clip if s.clip else math.inf)
        rec.before_update()
        s.optimizer.step()
        lv = float(loss.detach())
        acc = float((out.detach().argmax(1) == y).float().mean())
        scalars = {"loss": lv, "lr": s.optimizer.param_groups[0]["lr"], "grad_norm": float(gn), "acc": acc}
        epoch = None
        if s.dataset_size:
            epoch = (k * s.batch_size) // s.dataset_size
        elif s.dataset_size == 0:
            epoch = 0  # a stream of fresh data: still the first pass after any number of steps
        rec.after_update(k, scalars, int(x.shape[0]), epoch)
        if not math.isfinite(lv) and nan_at is None:
            nan_at = k
        if nan_at is not None and k - nan_at >= s.steps_after_nan:
            status = "failed"
            break
        if s.eval_every and s.val is not None and (k + 1) % s.eval_every == 0:
            s.model.eval()
            with torch.no_grad():
                vx = s.eval_inputs if s.eval_inputs is not None else s.val[0]
                vo = s.model(vx)
                vl = float(s.loss(vo, s.val[1]))
                va = float((vo.argmax(1) == s.val[1]).float().mean())
            rec.eval(k, {"loss": vl, "acc": va}, vx, epoch)
    rec.end(status)
    return rec
