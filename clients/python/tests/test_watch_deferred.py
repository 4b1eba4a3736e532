"""watch()'s statistics are computed on the sender thread while training goes on: they must
be those of the reporting step, whatever training does to its tensors afterwards."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch
from test_watch import by_step, close, np_stats
from torch import nn

import gradwatch
from gradwatch.report import ReportJob

from fakeserver import FakeServer


@pytest.fixture
def held_sender(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Deferred jobs wait on the sender thread until the returned event is set, so the
    training loop races ahead of them for certain (and computes the jobs past the sender's
    limit itself)."""
    go = threading.Event()
    orig = ReportJob.items

    def items(self: ReportJob) -> list[tuple[Any, ...]]:
        if threading.current_thread().name == "gradwatch-sender":
            assert go.wait(20)
        return orig(self)

    monkeypatch.setattr(ReportJob, "items", items)
    return go


@pytest.mark.parametrize("set_to_none", [False, True])
def test_stats_are_the_steps_although_training_changes_its_tensors_in_place(
        fake: FakeServer, spool: str, held_sender: threading.Event, set_to_none: bool) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    rid = f"d-1-{set_to_none}"
    run = gradwatch.init(fake.url, project="p", id=rid, spool_dir=spool)
    run.watch(model, opt, crit, every=2, hist_every=4)
    fc = model[2]
    x = torch.empty(16, 6)  # one input buffer, refilled in place every step
    expect = {}
    for step in range(12):
        x.copy_(torch.randn(16, 6) * (step + 1))
        y = torch.randint(0, 3, (16,))
        loss = crit(model(x), y)
        loss.backward()
        before = fc.weight.detach().clone()
        grad = fc.weight.grad.detach().clone()
        opt.step()
        expect[step] = {"x": x.clone().numpy(), "grad": grad.numpy(),
                        "param": fc.weight.detach().clone().numpy(),
                        "update": (fc.weight.detach() - before).numpy()}
        # at once: the gradients zeroed in place, or new ones made by the next backward
        opt.zero_grad(set_to_none=set_to_none)
        run.log(step, loss=loss.item())
    held_sender.set()
    assert run.finish(timeout=10) == 0

    items = by_step(fake, rid)
    name = next(iter(fake.stored(rid, "model")[0]["layers"][1:2]))["name"]
    reported = [s for s in range(12) if "layers" in items[s]]
    assert reported == [0, 2, 4, 6, 8, 10]
    for step in reported:
        got, want = items[step], expect[step]
        ly = got["layers"][name]
        close(ly["param"], np_stats(want["param"]))
        close(ly["grad"], np_stats(want["grad"]))
        close(ly["update"], np_stats(want["update"]), atol=1e-7)
        close(got["inputs"], {k: v for k, v in np_stats(want["x"]).items()
                              if k in ("mean", "std", "min", "max")})
    hists = [h for h in fake.stored(rid, "hist") if h["layer"] == name and h["of"] == "grad"]
    assert sorted(h["step"] for h in hists) == [0, 4, 8]
    for h in hists:
        want = expect[h["step"]]["grad"].ravel()
        assert sum(h["counts"]) == want.size
        assert h["edges"][0] == pytest.approx(float(want.min()), rel=1e-5)
        assert h["edges"][-1] == pytest.approx(float(want.max()), rel=1e-5)


class InPlaceAfterAct(nn.Module):
    """fc1's activation is changed in place later in the forward (as a residual add does)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.LeakyReLU(0.1)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        h.add_(1000.0)
        return self.fc2(h)


def test_an_activation_changed_in_place_is_measured_as_its_hook_saw_it(
        fake: FakeServer, spool: str, held_sender: threading.Event) -> None:
    torch.manual_seed(1)
    model = InPlaceAfterAct()
    opt = torch.optim.SGD(model.parameters(), lr=1e-7)
    run = gradwatch.init(fake.url, project="p", id="d-2", spool_dir=spool)
    run.watch(model, opt, every=2)
    seen: dict[int, np.ndarray] = {}
    model.act.register_forward_hook(
        lambda m, i, o: seen.__setitem__(len(seen), o.detach().clone().numpy()))
    for _ in range(6):
        opt.zero_grad()
        model(torch.randn(32, 4)).pow(2).mean().backward()
        opt.step()
    held_sender.set()
    assert run.finish(timeout=10) == 0
    items = by_step(fake, "d-2")
    # the discovery forward (step 0) saw it only after the change: no act is sent for it
    assert "act" not in items[0]["layers"]["fc1"]
    for step in (2, 4):
        act = items[step]["layers"]["fc1"]["act"]
        close(act, np_stats(seen[step]))
        assert act["max"] < 100  # not the value after the in-place add


def test_a_sparse_gradient_is_measured_by_the_rows_it_holds(fake: FakeServer,
                                                            spool: str) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Embedding(50, 8, sparse=True), nn.Flatten(), nn.Linear(24, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="d-3", spool_dir=spool)
    run.watch(model, opt, every=1, hist_every=1)
    expect = {}
    for step in range(5):
        opt.zero_grad()
        model(torch.randint(0, 50, (4, 3))).pow(2).mean().backward()
        g = model[0].weight.grad.coalesce().values()
        dense = [p.grad for p in model.parameters() if not p.grad.is_sparse]
        norm = torch.cat([g.reshape(-1)] + [d.reshape(-1) for d in dense]).norm()
        expect[step] = (g.clone().numpy(), float(norm))
        opt.step()
    assert run.finish(timeout=10) == 0
    items = by_step(fake, "d-3")
    for step in range(5):
        close(items[step]["layers"]["0"]["grad"], np_stats(expect[step][0]))
        assert items[step]["scalars"]["grad_norm"] == pytest.approx(expect[step][1], rel=1e-5)


def test_grad_norm_moves_off_the_backward_while_the_loop_leaves_gradients_alone(
        fake: FakeServer, spool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradwatch.grad_norm as gn

    measured_at_backward: list[int] = []
    orig = gn.total_grad_norm

    def counting(params):  # type: ignore[no-untyped-def]
        measured_at_backward.append(1)
        return orig(params)

    monkeypatch.setattr(gn, "total_grad_norm", counting)
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 6))
    model[2].weight = model[0].weight  # tied: one parameter, counted once in the norm
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = gradwatch.init(fake.url, project="p", id="d-4", spool_dir=spool)
    run.watch(model, opt, every=1)
    want: dict[int, float] = {}
    for step in range(8):
        opt.zero_grad()
        model(torch.randn(6, 6)).pow(2).mean().mul(100).backward()
        if step >= 5:  # the loop starts to clip: the norm before is the one to send
            want[step] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3))
        else:
            want[step] = float(torch.nn.utils.get_total_norm(
                [p.grad for p in model.parameters()]))
        opt.step()
        run.log(step, loss=1.0)
    assert run.finish(timeout=10) == 0
    sent = {s: it["scalars"].get("grad_norm") for s, it in by_step(fake, "d-4").items()}
    # step 0 measures at the backward and sees the gradients left alone; steps 1-4 are
    # measured by the reports; step 5 clips unannounced and goes without; 6 and 7 are
    # measured at the backward again, before the clipping
    assert sent[5] is None
    for s in (0, 1, 2, 3, 4, 6, 7):
        assert sent[s] == pytest.approx(want[s], rel=1e-5), s
    assert len(measured_at_backward) == 3  # steps 0, 6 and 7


def test_the_copies_are_kept_between_reports_and_dropped_by_unwatch(fake: FakeServer,
                                                                     spool: str) -> None:
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = gradwatch.init(fake.url, project="p", id="d-5", spool_dir=spool)
    w = run.watch(model, opt, every=1)
    for _ in range(4):
        opt.zero_grad()
        model(torch.randn(8, 64)).pow(2).mean().backward()
        opt.step()
    assert run.flush(10)
    pool = w._copies
    assert pool.held_bytes >= 2 * 4 * (64 * 32 + 32 * 4)  # snapshots and copies, reused
    run.unwatch()
    assert pool.held_bytes == 0
    assert run.finish(timeout=10) == 0
