"""run.watch(): hooks, the model message, and statistics equal to a direct computation."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

import gradwatch

from fakeserver import FakeServer


def np_stats(a) -> dict:
    a = np.asarray(a, dtype=np.float64).ravel()
    fin = a[np.isfinite(a)]
    return {"mean": fin.mean(), "std": fin.std(), "meanAbs": np.abs(fin).mean(),
            "min": fin.min(), "max": fin.max(), "norm": np.sqrt((fin ** 2).sum()),
            "nonFinite": int((~np.isfinite(a)).sum())}


def close(got: dict, want: dict, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=rtol, abs=atol), (k, got[k], v)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.act1 = nn.ReLU()
        self.drop = nn.Dropout(0.0)
        self.fc2 = nn.Linear(8, 5)
        self.act2 = nn.Tanh()
        self.out = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act2(self.fc2(self.drop(self.act1(self.fc1(x))))))


def by_step(fake: FakeServer, run_id: str) -> dict:
    return {it["step"]: it for it in fake.items(run_id)}


def test_model_message_and_exact_stats(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = MLP()
    with torch.no_grad():
        model.fc1.bias[:3] = -100.0  # units 0..2 of fc1 dead for every input
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    crit = nn.CrossEntropyLoss()
    run = gradwatch.init(fake.url, project="p", id="w-1", spool_dir=spool)
    run.watch(model, opt, crit, every=1, hist_every=2)
    captured = {}
    for name in ("act1", "act2"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: captured.__setitem__(name, o.detach().clone()))
    expect = {}
    for step in range(4):
        x = torch.randn(16, 6)
        y = torch.randint(0, 3, (16,))
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        before = model.fc2.weight.detach().clone()
        grad = model.fc2.weight.grad.detach().clone()
        opt.step()
        expect[step] = {
            "x": x.numpy().copy(), "grad": grad.numpy(),
            "param": model.fc2.weight.detach().numpy().copy(),
            "update": (model.fc2.weight.detach() - before).numpy(),
            "act1": captured["act1"].numpy(), "act2": captured["act2"].numpy(),
        }
        run.log(step, loss=loss.item())
    assert run.finish(timeout=10) == 0

    models = fake.stored("w-1", "model")
    assert len(models) == 1
    m = models[0]
    assert [ly["name"] for ly in m["layers"]] == ["fc1", "fc2", "out"]
    assert [ly.get("activation") for ly in m["layers"]] == ["relu", "tanh", None]
    assert m["layers"][0] == {"name": "fc1", "kind": "Linear", "params": 56, "activation": "relu",
                              "fanIn": 6, "fanOut": 8, "trainable": True}
    assert m["loss"] == "CrossEntropyLoss"
    assert m["optimizer"] == {"type": "SGD", "lr": 0.05, "momentum": 0.9, "weightDecay": 1e-4}

    items = by_step(fake, "w-1")
    assert sorted(items) == [0, 1, 2, 3]
    for step, e in expect.items():
        it = items[step]
        fc2 = it["layers"]["fc2"]
        close(fc2["param"], np_stats(e["param"]))
        close(fc2["grad"], np_stats(e["grad"]))
        close(fc2["update"], np_stats(e["update"]), rtol=1e-3, atol=1e-7)
        assert fc2["update"]["meanAbs"] > 0
        close(it["layers"]["fc1"]["act"], np_stats(e["act1"]))
        a1 = it["layers"]["fc1"]["act"]
        assert a1["fracDeadUnits"] == pytest.approx(np.all(e["act1"] == 0, axis=0).mean())
        assert a1["fracDeadUnits"] >= 3 / 8
        assert a1["fracZero"] == pytest.approx((e["act1"] == 0).mean())
        a2 = it["layers"]["fc2"]["act"]
        assert a2["fracSaturated"] == pytest.approx((np.abs(e["act2"]) > 0.99).mean())
        ins = it["inputs"]
        want = np_stats(e["x"])
        assert set(ins) == {"mean", "std", "min", "max", "nonFinite"}
        close(ins, {k: want[k] for k in ("mean", "std", "min", "max")})
        assert it["examples"] == 16
        assert it["scalars"]["loss"] > 0
        assert "bias" in it["layers"]["fc1"]
    assert items[0]["scalars"]["sys/rss_mb"] > 0  # sampled at most once a second
    hists = fake.stored("w-1", "hist")
    assert {h["step"] for h in hists} == {0, 2}
    kinds = {(h["layer"], h["of"]) for h in hists if h["step"] == 2}
    assert ("fc2", "update") in kinds and ("fc1", "act") in kinds and ("out", "grad") in kinds
    for h in hists:
        assert len(h["edges"]) == len(h["counts"]) + 1
    h = next(h for h in hists if h["step"] == 2 and h["layer"] == "fc2" and h["of"] == "param")
    assert sum(h["counts"]) == 40


def test_every_n_and_step_alignment(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = gradwatch.init(fake.url, project="p", id="w-2", spool_dir=spool)
    run.watch(model, opt, every=10)
    for it in range(35):
        x = torch.randn(8, 4)
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
        run.log(it + 1, loss=loss.item())  # the user counts steps from 1
    run.finish(timeout=10)
    with_layers = sorted(s for s, it in by_step(fake, "w-2").items() if "layers" in it)
    # iteration 0 is reported before the first log() (step 0); then aligned with the user's steps
    assert with_layers == [0, 11, 21, 31]
    m = fake.stored("w-2", "model")[0]
    assert m["optimizer"]["type"] == "Adam" and m["optimizer"]["betas"] == [0.9, 0.999]


def test_optimizer_found_without_passing_it(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="w-3", spool_dir=spool)
    run.watch(model, every=2)
    for it in range(6):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
        run.log(it, loss=1.0)
    run.finish(timeout=10)
    models = fake.stored("w-3", "model")
    assert models[-1]["optimizer"]["type"] == "SGD"
    items = by_step(fake, "w-3")
    assert sorted(s for s, i in items.items() if "layers" in i) == [0, 2, 4]
    assert items[2]["layers"]["0"]["update"]["meanAbs"] > 0


def test_frozen_layer_and_eval_inputs(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    for p in model[0].parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="w-4", spool_dir=spool)
    run.watch(model, opt, every=1)
    for it in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
        run.log(it, loss=1.0)
    model.eval()
    xs = [torch.randn(5, 4) * 3 + 1 for _ in range(3)]
    with torch.no_grad():
        for x in xs:
            model(x)
    run.log_eval(2, loss=0.5, acc=0.9)
    run.finish(timeout=10)
    layers = fake.stored("w-4", "model")[0]["layers"]
    assert [ly["trainable"] for ly in layers] == [False, True]
    st = by_step(fake, "w-4")[1]["layers"]
    assert "update" not in st["0"] and "grad" not in st["0"]
    assert st["2"]["update"]["meanAbs"] > 0
    ev = fake.stored("w-4", "eval")[0]
    allx = torch.cat(xs).numpy()
    close(ev["inputs"], {k: v for k, v in np_stats(allx).items()
                         if k in ("mean", "std", "min", "max")})
    assert ev["split"] == "val" and ev["metrics"] == {"loss": 0.5, "acc": 0.9}


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.bn(self.conv(x))).flatten(1))


def test_cnn_channels_and_norm_pairing(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = CNN()
    with torch.no_grad():
        model.bn.bias[1] = -100.0  # channel 1 dead after BN + ReLU
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = gradwatch.init(fake.url, project="p", id="w-5", spool_dir=spool)
    run.watch(model, opt, every=1)
    opt.zero_grad()
    model(torch.randn(6, 1, 4, 4)).sum().backward()
    opt.step()
    run.log(0, loss=1.0)
    run.finish(timeout=10)
    layers = fake.stored("w-5", "model")[0]["layers"]
    assert [(ly["name"], ly["kind"], ly.get("activation")) for ly in layers] == [
        ("conv", "Conv2d", "relu"), ("bn", "BatchNorm2d", "relu"), ("fc", "Linear", None)]
    assert layers[0]["fanIn"] == 9 and layers[0]["fanOut"] == 36
    st = by_step(fake, "w-5")[0]["layers"]
    assert st["bn"]["act"]["fracDeadUnits"] == pytest.approx(0.25)
    assert st["conv"]["act"]["fracDeadUnits"] == 0


def test_nan_reaches_the_stats(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=1e6)
    run = gradwatch.init(fake.url, project="p", id="w-6", spool_dir=spool)
    run.watch(model, opt, every=1)
    for it in range(6):
        opt.zero_grad()
        loss = (model(torch.randn(8, 4) * 100) - 1).pow(2).mean()
        loss.backward()
        opt.step()
        run.log(it, loss=loss.item())
    run.finish(timeout=10)
    items = by_step(fake, "w-6")
    last = items[5]
    assert last["scalars"]["loss"] in ("NaN", "Infinity")
    assert any(ly["param"]["nonFinite"] > 0 for ly in last["layers"].values())


def test_one_host_sync_per_reporting_step_and_none_on_the_training_thread(
        fake: FakeServer, spool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Sigmoid(),
                          nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="w-7", spool_dir=spool)
    run.watch(model, opt, every=2, hist_every=2)
    model(torch.randn(2, 4))  # discovery forward
    opt.zero_grad()
    opt.step()
    assert run.flush(10)
    syncs: list[str] = []
    orig_tolist, orig_item = torch.Tensor.tolist, torch.Tensor.item

    def tolist(self):  # type: ignore[no-untyped-def]
        syncs.append(threading.current_thread().name)
        return orig_tolist(self)

    def item(self):  # type: ignore[no-untyped-def]
        syncs.append(threading.current_thread().name)
        return orig_item(self)

    monkeypatch.setattr(torch.Tensor, "tolist", tolist)
    monkeypatch.setattr(torch.Tensor, "item", item)
    for _ in range(1, 5):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
        # the statistics are computed on the sender thread: training never waits for them
        assert threading.current_thread().name not in syncs
    assert run.flush(10)
    assert syncs == ["gradwatch-sender"] * 2  # iterations 2 and 4, one transfer each
    monkeypatch.undo()
    run.finish(timeout=10)
