"""Fault demo: raw pixel intensities (0..255) fed to an MLP without normalization."""

from __future__ import annotations

import torch
from torch import nn

from _common import digits, gradwatch, parse_args, summary, train


def main(url: str, project: str = "examples", steps: int = 200, **kw) -> gradwatch.Run:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = {"optimizer": "adam", "lr": 1e-3, "batchSize": 64, "loss": "CrossEntropyLoss",
           "task": "classification"}
    run = gradwatch.init(url, project=project, name="unnormalized inputs", config=cfg, **kw)
    train(run, model, opt, nn.CrossEntropyLoss(), digits(normalize=False), steps)
    return run


if __name__ == "__main__":
    a = parse_args(200)
    r = main(a.url, a.project, a.steps)
    summary(r)
    r.finish()
