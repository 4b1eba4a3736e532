"""Fault demo: a deep (10 hidden layers) sigmoid MLP with plain SGD. Sigmoid hidden layers in
a deep net saturate and make the gradient vanish towards the input layers."""

from __future__ import annotations

import torch
from torch import nn

from _common import digits, gradwatch, parse_args, summary, train


def main(url: str, project: str = "examples", steps: int = 300, **kw) -> gradwatch.Run:
    torch.manual_seed(0)
    layers: list = [nn.Linear(64, 64), nn.Sigmoid()]
    for _ in range(9):
        layers += [nn.Linear(64, 64), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    cfg = {"optimizer": "sgd", "lr": 0.01, "batchSize": 64, "loss": "CrossEntropyLoss",
           "task": "classification"}
    run = gradwatch.init(url, project=project, name="deep sigmoid", config=cfg, **kw)
    train(run, model, opt, nn.CrossEntropyLoss(), digits(), steps)
    return run


if __name__ == "__main__":
    a = parse_args(300)
    r = main(a.url, a.project, a.steps)
    summary(r)
    r.finish()
