"""Fault demo: a learning rate of 10. The loss blows up to NaN within a few dozen steps; the
server's NaN rule sends a critical alert back and, with stop_on=("critical",), the loop
stops cleanly via run.should_stop."""

from __future__ import annotations

import torch
from torch import nn

from _common import digits, gradwatch, parse_args, summary, train


def main(url: str, project: str = "examples", steps: int = 200, **kw) -> gradwatch.Run:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=10.0, momentum=0.9)
    cfg = {"optimizer": "sgd", "lr": 10.0, "momentum": 0.9, "batchSize": 64, "loss": "MSELoss",
           "task": "regression"}
    kw.setdefault("stop_on", ("critical",))
    run = gradwatch.init(url, project=project, name="lr too high", config=cfg, **kw)
    train(run, model, opt, nn.MSELoss(), digits(), steps,
          target=lambda y: nn.functional.one_hot(y, 10).float(), every=1)
    return run


if __name__ == "__main__":
    a = parse_args(200)
    r = main(a.url, a.project, a.steps)
    summary(r)
    r.finish()  # "stopped" when gradwatch stopped it
