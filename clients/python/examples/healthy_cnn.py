"""A healthy small CNN on the 8x8 digits: Conv-BatchNorm-ReLU blocks, AdamW, linear warm-up
then cosine decay, CrossEntropyLoss on logits. It should raise no warning."""

from __future__ import annotations

import math

import torch
from torch import nn

from _common import digits, gradwatch, parse_args, summary, train


def make_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


def main(url: str, project: str = "examples", steps: int = 300, **kw) -> gradwatch.Run:
    torch.manual_seed(0)
    model = make_cnn()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm
        else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    cfg = {"optimizer": "adamw", "lr": 2e-3, "weightDecay": 1e-4, "batchSize": 64,
           "loss": "CrossEntropyLoss", "task": "classification", "schedule": "warmup+cosine"}
    run = gradwatch.init(url, project=project, name="healthy cnn", config=cfg, **kw)
    train(run, model, opt, nn.CrossEntropyLoss(), digits(), steps, image=True, sched=sched)
    return run


if __name__ == "__main__":
    a = parse_args(300)
    r = main(a.url, a.project, a.steps)
    summary(r)
    r.finish()
