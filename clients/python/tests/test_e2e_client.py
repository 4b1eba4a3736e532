"""End to end against the real server: a burst of log calls loses nothing, a run stopped by
a stopping rule ends `stopped`, watch() sends histograms by default, a refused token fails
init()."""

from __future__ import annotations

import math
import os
import time
import urllib.parse

import pytest
import torch
from torch import nn

import gradwatch

from conftest import ADMIN_TOKEN, Server, wait_for

BURST = int(os.environ.get("GRADWATCH_BURST_CALLS", "200000"))


def q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def test_a_burst_of_single_value_logs_loses_nothing(server: Server, spool: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    # A queue far smaller than the burst: most calls go through the overflow file.
    run = gradwatch.init(server.url, project="e2e", name="burst", spool_dir=spool,
                         queue_size=2000)
    for i in range(BURST):
        run.log(loss=i * 0.5)
    assert run.finish(timeout=60) == 0, server.tail()
    pts = server.export(run.id, "loss")
    assert len(pts) == BURST
    assert pts == [[i, i * 0.5] for i in range(BURST)]
    err = capsys.readouterr().err
    assert "dropp" not in err and "not sent" not in err, err


def test_a_stopping_rule_ends_the_run_stopped(server: Server, spool: str) -> None:
    project = "e2e-stop"
    server.put(f"/projects/{project}/rules", {"nan.detected": {"stop": True}})
    run = gradwatch.init(server.url, project=project, name="stopped by rule", spool_dir=spool)
    for step in range(200):
        run.log(step, loss=1.0 / (step + 1) if step < 30 else math.nan)
        if run.should_stop:
            break
        time.sleep(0.002)
    assert wait_for(lambda: run.should_stop, 10), "the server sent no stop command"
    assert (run.stop_reason or "").startswith("nan.detected"), run.stop_reason
    assert run.finish(timeout=10) == 0  # no status given: gradwatch stopped it
    assert run.status == "stopped"
    assert server.get(f"/runs/{q(run.id)}")["status"] == "stopped"


def test_watch_sends_every_histogram_by_default(server: Server, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    run = gradwatch.init(server.url, project="e2e", name="default hists", spool_dir=spool)
    run.watch(model, opt, crit)  # defaults: stats every 10 steps, histograms every 100
    x, y = torch.randn(256, 16), torch.randint(0, 4, (256,))
    for step in range(250):
        i = torch.randint(0, 256, (32,))
        opt.zero_grad()
        loss = crit(model(x[i]), y[i])
        loss.backward()
        opt.step()
        run.log(step, loss=loss.item())
    assert run.finish(timeout=20) == 0
    for layer, size in (("0", 16 * 32), ("2", 32 * 4)):
        for of in ("param", "grad", "update", "act"):
            hists = server.get(f"/runs/{q(run.id)}/histograms", layer=layer,
                               of=of)["histograms"]
            # the first one at once (the Layers page has something to show), then cheaply
            assert sorted(h["step"] for h in hists) == [0, 100, 200], (layer, of)
            if of != "act":
                assert all(sum(h["counts"]) == size for h in hists), (layer, of)


def test_a_refused_token_fails_init(auth_server: Server, spool: str) -> None:
    with pytest.raises(gradwatch.GradwatchError) as ei:
        gradwatch.init(auth_server.url, project="e2e", token="not-a-valid-token",
                       spool_dir=spool)
    assert ei.value.code == "unauthorized"
    run = gradwatch.init(auth_server.url, project="e2e", token=ADMIN_TOKEN, spool_dir=spool)
    run.log(0, loss=1.0)
    assert run.finish(timeout=10) == 0 and run.error is None
