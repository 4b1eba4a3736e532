"""TensorBoard folders written by torch's own SummaryWriter during a real (tiny) training,
with what was logged kept aside, for the import and drop-in tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from conftest import digits


class Logged:
    """What the training logged: scalars by tag and step, and the weight/grad tensors of
    the histogram steps (as float64 numpy arrays)."""

    def __init__(self) -> None:
        self.scalars: dict[str, dict[int, float]] = {}
        self.tensors: dict[str, dict[int, np.ndarray]] = {}
        self.hparams: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}

    def scalar(self, tag: str, step: int, v: float) -> None:
        self.scalars.setdefault(tag, {})[step] = v

    def tensor(self, tag: str, step: int, t: torch.Tensor) -> None:
        self.tensors.setdefault(tag, {})[step] = t.detach().double().numpy().reshape(-1).copy()


def train(writer: Any, lr: float, steps: int, start: int = 0, hist_every: int = 10,
          eval_every: int = 20, logged: Logged | None = None, hparams: bool = True,
          act: Any = None,
          seed: int = 0) -> Logged:
    """SGD on the digits with a 64-32-10 MLP; `writer` is any SummaryWriter-like object."""
    torch.manual_seed(seed)
    log = logged or Logged()
    d = digits()
    x = torch.from_numpy(d["x"][:512]) / 16.0
    y = torch.from_numpy(d["y"][:512])
    model = nn.Sequential(nn.Linear(64, 32), act or nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    loss = torch.tensor(0.0)
    for s in range(start, start + steps):
        i = (s * 32) % 480
        out = model(x[i:i + 32])
        loss = loss_fn(out, y[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = float((out.argmax(1) == y[i:i + 32]).float().mean())
        for tag, v in (("Loss/train", loss.item()), ("lr", lr), ("Accuracy/train", acc)):
            writer.add_scalar(tag, v, s)
            log.scalar(tag, s, v)
        if s % hist_every == 0:
            for name, p in model.named_parameters():
                # numpy cannot bin NaN, so a diverged run logs no more weight histograms
                finite = torch.isfinite(p).all() and p.grad is not None
                if finite and torch.isfinite(p.grad).all():
                    writer.add_histogram(name, p, s)
                    writer.add_histogram(name + ".grad", p.grad, s)
                    log.tensor(name, s, p)
                    log.tensor(name + ".grad", s, p.grad)
        if s % eval_every == 0:
            with torch.no_grad():
                vl = loss_fn(model(x[480:]), y[480:]).item()
            writer.add_scalar("Loss/val", vl, s)
            log.scalar("Loss/val", s, vl)
    if hparams:
        log.hparams = {"lr": lr, "batch_size": 32, "optimizer": "sgd"}
        log.metrics = {"hparam/final_loss": float(loss.item())}
        writer.add_hparams(log.hparams, log.metrics)
    return log


def write_run(logdir: str, lr: float, steps: int, **kw: Any) -> Logged:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(logdir)
    try:
        return train(w, lr, steps, **kw)
    finally:
        w.close()


def f32(v: float) -> float:
    return float(np.float32(v))
