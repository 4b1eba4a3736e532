"""A healthy MLP on the digits data set: standardized inputs, He-initialised ReLU layers,
Adam, CrossEntropyLoss on logits. It should train to ~97% and raise no warning."""

from __future__ import annotations

import torch
from torch import nn

from _common import digits, gradwatch, parse_args, summary, train


def main(url: str, project: str = "examples", steps: int = 300, **kw) -> gradwatch.Run:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = {"optimizer": "adam", "lr": 1e-3, "batchSize": 64, "loss": "CrossEntropyLoss",
           "task": "classification", "inputNormalization": "standardize"}
    run = gradwatch.init(url, project=project, name="healthy mlp", config=cfg, **kw)
    train(run, model, opt, nn.CrossEntropyLoss(), digits(), steps)
    return run


if __name__ == "__main__":
    a = parse_args(300)
    r = main(a.url, a.project, a.steps)
    summary(r)
    r.finish()
