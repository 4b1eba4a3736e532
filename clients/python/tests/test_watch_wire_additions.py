"""watch()'s additions for the server's diagnosis (docs/diagnosis.md, "Wire additions"): the
reserved scalar grad_norm, one layer per weight matrix of recurrent and split-projection
attention modules, and the clipping threshold in the config."""

from __future__ import annotations

import json
import time

import pytest
import torch
from test_watch import by_step, close, np_stats
from torch import nn

import gradwatch
from gradwatch.batching import StepBatcher
from gradwatch.connection import DEFAULT_LIMITS

from fakeserver import FakeServer


class Tagger(nn.Module):
    """A 2-layer bidirectional LSTM and a head: several matrices per module."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(14, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_grad_norm_is_clip_grad_norm_before_clipping(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 6), nn.ReLU(),
                          nn.Linear(6, 2))
    model[0].weight.requires_grad_(False)  # a frozen parameter has no grad: left out
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="gn-1", spool_dir=spool)
    run.watch(model, opt, every=2)
    want: dict[int, float] = {}
    for step in range(6):
        opt.zero_grad()
        x = torch.randint(0, 10, (8, 3))
        loss = (model(x) * 50).pow(2).mean()
        model(x).argmax(1)  # a metric on a second forward, before the backward
        loss.backward()
        # clips hard: what reaches the optimizer is at most 0.01, grad_norm is the norm before
        want[step] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01))
        opt.step()
        run.log(step=step, loss=1.0)
    run.finish(timeout=10)
    items = by_step(fake, "gn-1")
    sent = {s: it["scalars"]["grad_norm"] for s, it in items.items()
            if "grad_norm" in it["scalars"]}
    assert sorted(sent) == [0, 2, 4]
    for s, v in sent.items():
        assert want[s] > 1.0  # the clipping did change the gradients
        assert v == pytest.approx(want[s], rel=1e-6), s


def test_grad_norm_without_clipping_and_user_value_wins(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(1)
    model = Tagger()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = gradwatch.init(fake.url, project="p", id="gn-2", spool_dir=spool)
    run.watch(model, opt, every=1)
    measured: dict[int, float] = {}
    for step in range(4):
        opt.zero_grad()
        nn.functional.cross_entropy(model(torch.randn(4, 6, 5)),
                                    torch.randint(0, 3, (4,))).backward()
        measured[step] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        opt.step()
        if step == 2:
            run.log(step=step, loss=0.5, grad_norm=456.0)  # the user's own value
        else:
            run.log(step=step, loss=0.5)
    run.finish(timeout=10)
    items = by_step(fake, "gn-2")
    for s in (0, 1, 3):
        assert items[s]["scalars"]["grad_norm"] == pytest.approx(measured[s], rel=1e-6), s
    assert items[2]["scalars"]["grad_norm"] == 456.0


def test_watch_scalars_never_replace_logged_ones_in_either_order() -> None:
    bodies: list[str] = []
    b = StepBatcher(dict(DEFAULT_LIMITS), lambda _kind, body: bodies.append(body))
    b.add(0, {"grad_norm": 1.0, "loss": 2.0}, None, None, None, None, 0.0)
    b.add(0, {"grad_norm": 9.0, "sys/cpu": 5.0}, None, None, None, None, 0.0, defaults=True)
    b.add(1, {"grad_norm": 9.0}, None, None, None, None, 0.0, defaults=True)
    b.add(1, {"grad_norm": 3.0}, None, None, None, None, 0.0)
    b.close_tail()
    b.cut()
    items = json.loads(bodies[0])["items"]
    assert [it["scalars"] for it in items] == [
        {"grad_norm": 1.0, "loss": 2.0, "sys/cpu": 5.0}, {"grad_norm": 3.0}]


def test_grad_norm_with_accumulated_micro_batches(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = gradwatch.init(fake.url, project="p", id="gn-3", spool_dir=spool)
    run.watch(model, opt, every=1)
    opt.zero_grad()
    for _ in range(3):  # one optimizer step over three backwards
        model(torch.randn(5, 3)).pow(2).sum().backward()
    total = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
    opt.step()
    run.log(step=0, loss=1.0)
    run.finish(timeout=10)
    assert by_step(fake, "gn-3")[0]["scalars"]["grad_norm"] == pytest.approx(total, rel=1e-6)


def test_lstm_sends_one_layer_per_matrix(fake: FakeServer, spool: str) -> None:
    torch.manual_seed(3)
    model = Tagger()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="rnn-1", spool_dir=spool)
    run.watch(model, opt, every=1)
    x = torch.randn(4, 6, 5)
    opt.zero_grad()
    out = model(x)
    nn.functional.cross_entropy(out, torch.randint(0, 3, (4,))).backward()
    bias_before = model.lstm.bias_hh_l1_reverse.detach().clone()
    with torch.no_grad():
        want_act = model.lstm(x)[0]
    opt.step()
    run.log(step=0, loss=1.0)
    run.finish(timeout=10)

    names = [f"lstm.weight_{p}_l{k}{d}" for k in (0, 1) for d in ("", "_reverse")
             for p in ("ih", "hh")]
    layers = fake.stored("rnn-1", "model")[-1]["layers"]
    by_name = {ly["name"]: ly for ly in layers}
    assert [ly["name"] for ly in layers] == [*names, "head"]  # named_parameters() order
    for n in names:
        w = model.get_parameter(n)
        ly = by_name[n]
        assert ly["kind"] == "LSTM"
        assert (ly["fanIn"], ly["fanOut"]) == (w.shape[1], w.shape[0])
        assert ly["activation"] == "tanh"
    # layer 1 reads both directions of layer 0; every hh matrix reads the hidden state
    assert by_name["lstm.weight_ih_l0"]["fanIn"] == 5
    assert by_name["lstm.weight_ih_l1"]["fanIn"] == 14
    assert by_name["lstm.weight_hh_l0"]["fanIn"] == 7
    assert by_name["lstm.weight_hh_l1_reverse"]["fanOut"] == 28

    st = by_step(fake, "rnn-1")[0]["layers"]
    hh = st["lstm.weight_hh_l1_reverse"]
    close(hh["param"], np_stats(model.lstm.weight_hh_l1_reverse.detach().numpy()))
    close(hh["bias"], np_stats(model.lstm.bias_hh_l1_reverse.detach().numpy()))
    assert hh["bias"]["mean"] != pytest.approx(float(bias_before.mean()), abs=1e-9)
    assert {"param", "grad", "update", "bias"} <= set(st["lstm.weight_ih_l0"])
    # the module's output rides on its last matrix only
    carriers = [n for n in names if "act" in st[n]]
    assert carriers == ["lstm.weight_hh_l1_reverse"]
    close(st[carriers[0]]["act"], np_stats(want_act.numpy()))


def test_attention_layers(fake: FakeServer, spool: str) -> None:
    class Both(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.packed = nn.MultiheadAttention(8, 2, batch_first=True)
            self.split = nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.packed(x, x, x, need_weights=False)[0]
            return self.split(h, x[..., :6], x[..., :6], need_weights=False)[0]

    torch.manual_seed(4)
    model = Both()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="attn-1", spool_dir=spool)
    run.watch(model, opt, every=1)
    opt.zero_grad()
    model(torch.randn(2, 3, 8)).pow(2).mean().backward()
    opt.step()
    run.log(step=0, loss=1.0)
    run.finish(timeout=10)
    layers = {ly["name"]: ly for ly in fake.stored("attn-1", "model")[-1]["layers"]}
    assert set(layers) == {"packed", "packed.out_proj", "split.q_proj_weight",
                           "split.k_proj_weight", "split.v_proj_weight", "split.out_proj"}
    assert (layers["packed"]["fanIn"], layers["packed"]["fanOut"]) == (8, 24)
    assert (layers["split.k_proj_weight"]["fanIn"], layers["split.k_proj_weight"]["fanOut"]) \
        == (6, 8)
    assert layers["split.q_proj_weight"]["kind"] == "MultiheadAttention"
    st = by_step(fake, "attn-1")[0]["layers"]
    close(st["packed"]["bias"], np_stats(model.packed.in_proj_bias.detach().numpy()))
    close(st["split.v_proj_weight"]["bias"],
          np_stats(model.split.in_proj_bias.detach()[16:24].numpy()))
    assert "act" in st["split.v_proj_weight"] and "act" not in st["split.q_proj_weight"]


def test_grad_clip_goes_into_the_config(fake: FakeServer, spool: str) -> None:
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = gradwatch.init(fake.url, project="p", id="clip-1", config={"lr": 0.1},
                         spool_dir=spool)
    run.log(step=0, loss=1.0)
    assert run.flush(10)
    run.watch(model, opt, grad_clip=0.5)
    run.log(step=1, loss=0.9)
    assert run.flush(10)
    run.finish(timeout=10)
    last = fake.hellos[-1]["run"]
    assert last["config"] == {"lr": 0.1, "gradClip": 0.5}
    assert fake.hellos[0]["run"]["config"] == {"lr": 0.1}
    assert sorted(by_step(fake, "clip-1")) == [0, 1]  # nothing lost or doubled on the way
    assert run.config["gradClip"] == 0.5


def _diag(cause: str, severity: str, rank: int = 1, confidence: float = 0.8) -> dict:
    return {"cause": cause, "title": cause.replace("_", " "), "rank": rank,
            "severity": severity, "confidence": confidence, "active": True, "firstStep": 3,
            "lastStep": 9, "symptoms": [], "explains": ["numerical_nan"],
            "evidence": "update ratio 10^-0.2", "advice": "Lower the learning rate."}


def _wait(cond, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_diagnosis_printed_when_the_top_verdict_changes(
        fake: FakeServer, spool: str, capsys: pytest.CaptureFixture[str]) -> None:
    run = gradwatch.init(fake.url, project="p", id="dg-1", spool_dir=spool)
    run.log(step=0, loss=1.0)
    assert run.flush(10)
    assert run.diagnosis is None
    capsys.readouterr()
    fake.push("dg-1", {"type": "diagnosis", "diagnoses": [_diag("minibatch_too_small", "info")]})
    fake.push("dg-1", {"type": "some_future_message", "x": 1})
    _wait(lambda: len(run.diagnoses) == 1)
    assert run.diagnosis is None  # an info hint is not a verdict
    top = [_diag("lr_too_high", "warning", 1, 0.6), _diag("minibatch_too_small", "info", 2)]
    fake.push("dg-1", {"type": "diagnosis", "diagnoses": top})
    _wait(lambda: run.diagnosis is not None)
    fake.push("dg-1", {"type": "diagnosis",
                       "diagnoses": [_diag("lr_too_high", "warning", 1, 0.9), *top[1:]]})
    _wait(lambda: run.diagnosis is not None and run.diagnosis["confidence"] == 0.9)
    fake.push("dg-1", {"type": "diagnosis",
                       "diagnoses": [_diag("lr_too_high", "critical", 1, 0.95)]})
    _wait(lambda: run.diagnosis is not None and run.diagnosis["severity"] == "critical")
    run.log(step=1, loss=1.0)
    assert run.flush(10)  # the socket still works after the unknown message
    run.finish(timeout=10)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("gradwatch diagnosis")]
    assert lines == [
        "gradwatch diagnosis [WARNING] lr too high (60% sure) since step 3; it explains "
        "numerical_nan",
        "gradwatch diagnosis [CRITICAL] lr too high (95% sure) since step 3; it explains "
        "numerical_nan",
    ]
    assert "  advice: Lower the learning rate." in err
    assert run.diagnosis["cause"] == "lr_too_high"
    assert [d["cause"] for d in run.diagnoses] == ["lr_too_high"]


@pytest.mark.parametrize("cell,act,gates", [("GRU", "tanh", 3), ("RNN", "relu", 1)])
def test_gru_and_rnn_as_the_watched_model(fake: FakeServer, spool: str, cell: str, act: str,
                                          gates: int) -> None:
    torch.manual_seed(5)
    model = nn.GRU(3, 4) if cell == "GRU" else nn.RNN(3, 4, nonlinearity="relu")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rid = f"cell-{cell}"
    run = gradwatch.init(fake.url, project="p", id=rid, spool_dir=spool)
    run.watch(model, opt, every=1)
    for step in range(2):
        opt.zero_grad()
        model(torch.randn(5, 2, 3))[0].sum().backward()
        opt.step()
        run.log(step=step, loss=1.0)
    run.finish(timeout=10)
    layers = fake.stored(rid, "model")[-1]["layers"]
    assert [(ly["name"], ly["kind"], ly["fanIn"], ly["fanOut"], ly["activation"],
             ly["params"]) for ly in layers] == [
        (f"{cell}.weight_ih_l0", cell, 3, 4 * gates, act, 4 * gates * 3 + 4 * gates),
        (f"{cell}.weight_hh_l0", cell, 4, 4 * gates, act, 4 * gates * 4 + 4 * gates),
    ]
    for step in (0, 1):  # the first forward (discovery) and a later one
        st = by_step(fake, rid)[step]["layers"]
        assert "act" in st[f"{cell}.weight_hh_l0"] and "act" not in st[f"{cell}.weight_ih_l0"]
    close(st[f"{cell}.weight_ih_l0"]["grad"], np_stats(model.weight_ih_l0.grad.numpy()))


def test_grad_norm_unscaled_with_a_grad_scaler_and_skipped_steps_unsent(
        fake: FakeServer, spool: str) -> None:
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1)
    run = gradwatch.init(fake.url, project="p", id="amp-1", spool_dir=spool)
    run.watch(model, opt, every=1, scaler=scaler)
    want: dict[int, float] = {}
    step = 0
    for k in range(5):
        opt.zero_grad()
        loss = model(torch.randn(6, 4)).pow(2).mean()
        if k == 2:
            loss = loss * float("inf")  # an overflow: the scaler skips this optimizer step
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
        scaler.step(opt)
        scaler.update()
        if k != 2:
            want[step] = gn
            run.log(step=step, loss=float(loss))
            step += 1
    run.finish(timeout=10)
    assert scaler.get_scale() != 1024.0  # the scale moved during the run
    sent = {s: it["scalars"].get("grad_norm") for s, it in by_step(fake, "amp-1").items()}
    assert sorted(sent) == [0, 1, 2, 3]
    for s, v in sent.items():
        assert v == pytest.approx(want[s], rel=1e-5), (s, v, want[s])
