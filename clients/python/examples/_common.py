"""Shared bits of the examples: scikit-learn's bundled digits data set (8x8 images, 10
classes, no download) and a small training loop that streams to gradwatch."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # run from a checkout

import gradwatch


def digits(normalize: bool = True, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Train/val split of the digits; standardized unless normalize=False
    (then raw pixel intensities 0..16 scaled to 0..255, as unprocessed image data)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.data.astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    x, y = x[idx], y[idx]
    n_val = 300
    xtr, xva = x[n_val:], x[:n_val]
    if normalize:
        # one mean/std for all pixels (per-pixel standardization would blow up the nearly
        # constant border pixels into values of several hundred)
        mu, sd = float(xtr.mean()), float(xtr.std())
        xtr, xva = (xtr - mu) / sd, (xva - mu) / sd
    else:
        xtr, xva = xtr * 16.0, xva * 16.0
    return (torch.from_numpy(xtr), torch.from_numpy(y[n_val:]),
            torch.from_numpy(xva), torch.from_numpy(y[:n_val]))


def parse_args(default_steps: int) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("GRADWATCH_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--project", default=os.environ.get("GRADWATCH_PROJECT", "examples"))
    ap.add_argument("--steps", type=int, default=default_steps)
    return ap.parse_args()


def train(
    run: gradwatch.Run,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    crit: nn.Module,
    data: tuple[torch.Tensor, ...],
    steps: int,
    batch: int = 64,
    image: bool = False,
    target: Callable[[torch.Tensor], torch.Tensor] = lambda y: y,
    sched: Any | None = None,
    eval_every: int = 50,
    every: int = 10,
) -> gradwatch.Run:
    xtr, ytr, xva, yva = data
    if image:
        xtr, xva = xtr.reshape(-1, 1, 8, 8), xva.reshape(-1, 1, 8, 8)
    run.watch(model, opt, crit, every=every)
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        model.train()
        i = torch.randint(0, len(xtr), (batch,), generator=g)
        opt.zero_grad()
        loss = crit(model(xtr[i]), target(ytr[i]))
        loss.backward()
        opt.step()
        lr = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        run.log(step, loss=loss.item(), lr=lr)
        if (step + 1) % eval_every == 0 or step == steps - 1:
            model.eval()
            with torch.no_grad():
                out = model(xva)
                vloss = crit(out, target(yva)).item()
                acc = (out.argmax(1) == yva).float().mean().item()
            run.log_eval(step, loss=vloss, acc=acc)
        if run.should_stop:
            print(f"stopping at step {step}: {run.stop_reason}")
            break
        if not math.isfinite(loss.item()) and step > 20:
            break
    run.flush(10)
    return run


def summary(run: gradwatch.Run) -> None:
    print(f"run {run.id}: {len(run.alerts)} alerts")
    for a in run.alerts:
        print("  ", gradwatch.Run.format_alert(a))
