"""The diagnosis layer end to end, against the real server: what watch() adds for it
(grad_norm, sub-layers, gradClip) is stored as sent, and a broken run comes back with a
verdict the client keeps in `run.diagnosis` and prints once per change."""

from __future__ import annotations

import importlib
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import gradwatch

from conftest import Server, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


class Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def test_lstm_sub_layers_grad_norm_and_clip_are_stored(server: Server, spool: str) -> None:
    torch.manual_seed(0)
    model = Seq()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = gradwatch.init(server.url, project="e2e-diag", name="lstm", spool_dir=spool,
                         config={"batchSize": 8})
    run.watch(model, opt, nn.CrossEntropyLoss(), every=2, grad_clip=1.0)
    norms: dict[int, float] = {}
    for step in range(10):
        opt.zero_grad()
        nn.functional.cross_entropy(model(torch.randn(8, 5, 4)),
                                    torch.randint(0, 2, (8,))).backward()
        norms[step] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
        run.log(step, loss=1.0)
    assert run.finish(timeout=20) == 0
    assert run.rejected == {}

    detail = server.get(f"/runs/{q(run.id)}")
    assert detail["config"]["gradClip"] == 1.0
    layers = {ly["name"]: ly for ly in detail["model"]["layers"]}
    assert list(layers) == ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "head"]
    assert layers["lstm.weight_hh_l0"]["kind"] == "LSTM"
    assert (layers["lstm.weight_hh_l0"]["fanIn"], layers["lstm.weight_hh_l0"]["fanOut"]) \
        == (6, 24)
    series = {s["name"] for s in server.get(f"/runs/{q(run.id)}/series")["series"]}
    assert {"layer/lstm.weight_hh_l0/grad/norm", "layer/lstm.weight_hh_l0/bias/mean",
            "layer/lstm.weight_hh_l0/act/mean", "grad_norm"} <= series
    assert "layer/lstm.weight_ih_l0/act/mean" not in series
    pts = server.export(run.id, "grad_norm")
    got = {p[0]: p[1] for p in pts}
    assert sorted(got) == [0, 2, 4, 6, 8]
    for s, v in got.items():
        assert v == pytest.approx(norms[s], rel=1e-6)


def test_lr_too_high_ends_with_a_verdict_printed_once(
        server: Server, spool: str, capsys: pytest.CaptureFixture[str]) -> None:
    mod = importlib.import_module("fault_lr_too_high")
    received: list[Any] = []
    original = gradwatch.Run._on_diagnosis

    def counting(self: gradwatch.Run, msg: dict[str, Any]) -> None:
        received.append(msg)
        original(self, msg)

    mp = pytest.MonkeyPatch()
    mp.setattr(gradwatch.Run, "_on_diagnosis", counting)
    try:
        r = mod.main(server.url, project="e2e-diag", steps=200, spool_dir=spool)
        wait_for(lambda: r.diagnosis is not None and r.diagnosis["severity"] == "critical",
                 10)
        r.finish(timeout=10)
    finally:
        mp.undo()
    top = r.diagnosis
    assert top is not None, [a["rule"] for a in r.alerts]
    assert top["cause"] in ("lr_too_high", "numerical_nan"), top
    assert top["severity"] == "critical"
    rest = server.get(f"/runs/{q(r.id)}/diagnosis")
    assert rest["diagnoses"][0]["cause"] == top["cause"]

    err = capsys.readouterr().err
    printed = [ln for ln in err.splitlines() if ln.startswith("gradwatch diagnosis")]
    assert printed, err
    # once per change of the top verdict's cause or severity, however many updates came
    keys: list[tuple[str, str] | None] = []
    for msg in received:
        verdict = [d for d in msg["diagnoses"] if d["severity"] in ("warning", "critical")]
        best = min(verdict, key=lambda d: d["rank"]) if verdict else None
        key = None if best is None else (best["cause"], best["severity"])
        if not keys or keys[-1] != key:
            keys.append(key)
    shown = [k for k in keys if k is not None]
    assert len(printed) == len(shown), (printed, keys)
    assert len(received) > len(printed)  # updates that changed nothing shown were not printed
    assert printed[-1].startswith(f"gradwatch diagnosis [CRITICAL] {top['title']}")
    assert f"  advice: {top['advice']}" in err
