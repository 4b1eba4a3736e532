"""`from gradwatch.tensorboard import SummaryWriter` in place of torch's: the same training
script (tb_logs.train), only the import changed, streams to the real server."""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
import torch
from tb_logs import train

from conftest import Server


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


@pytest.fixture()
def env(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # the script's only change is the import: where to stream comes from the environment
    monkeypatch.setenv("GRADWATCH_URL", server.url)
    monkeypatch.setenv("GRADWATCH_PROJECT", "dropin")
    monkeypatch.setenv("GRADWATCH_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_same_script_streams_every_number(server: Server, env: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    from gradwatch.tensorboard import SummaryWriter

    with SummaryWriter("runs/mlp") as w:
        logged = train(w, lr=0.1, steps=40)
        w.add_image("sample", torch.zeros(3, 4, 4), 0)
        w.add_text("note", "hello", 0)
        rid = w.run.id
    err = capsys.readouterr().err
    assert err.count("add_image and other summaries without numbers") == 1
    assert "add_text" not in err  # one warning for all of them
    assert w.get_logdir() == "runs/mlp" and (env / "runs" / "mlp").is_dir()

    d = server.get(f"/runs/{q(rid)}")
    assert d["status"] == "completed" and d["name"] == "mlp"
    # add_hparams came after the data: a second hello carried it into the config
    assert d["config"]["lr"] == 0.1 and d["config"]["batchSize"] == 32
    assert d["config"]["hparamMetrics"] == logged.metrics
    assert [x["name"] for x in d["model"]["layers"]] == ["0", "2"]
    for tag, name in (("Loss/train", "loss"), ("lr", "lr"), ("Accuracy/train", "acc"),
                      ("Loss/val", "eval/val/loss")):
        want = sorted(logged.scalars[tag].items())
        assert [tuple(p) for p in server.export(rid, name)] == [(s, v) for s, v in want], name
    for tag, layer, of in (("0.weight", "0", "param"), ("0.weight.grad", "0", "grad"),
                           ("2.bias", "2", "bias")):
        for field, fn in (("mean", np.mean), ("std", np.std), ("min", np.min), ("max", np.max),
                          ("meanAbs", lambda x: np.abs(x).mean())):
            got = dict(map(tuple, server.export(rid, f"layer/{layer}/{of}/{field}")))
            want = {s: float(fn(x)) for s, x in logged.tensors[tag].items()}
            assert got.keys() == want.keys()
            for s in want:
                assert got[s] == pytest.approx(want[s], rel=1e-9, abs=1e-12), (tag, field, s)
    hists = server.get(f"/runs/{q(rid)}/histograms", layer="0", of="param")["histograms"]
    assert sorted(h["step"] for h in hists) == [0, 10, 20, 30]
    x = logged.tensors["0.weight"][20]
    h = next(h for h in hists if h["step"] == 20)
    counts, edges = np.histogram(x, bins=32)
    assert h["counts"] == counts.tolist() and h["edges"] == pytest.approx(edges.tolist())


def test_tee_also_writes_the_event_files(server: Server, env: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gradwatch.tensorboard import SummaryWriter

    w = SummaryWriter("runs/tee", tee=True)
    logged = train(w, lr=0.1, steps=20, hparams=False)
    w.add_scalars("cmp", {"a": 1.0, "b": 2.0}, 19)
    w.add_image("sample", torch.zeros(3, 4, 4), 0)
    w.close()
    acc = EventAccumulator(str(env / "runs" / "tee"), size_guidance={"histograms": 0})
    acc.Reload()
    assert [e.value for e in acc.Scalars("Loss/train")] == pytest.approx(
        [v for _, v in sorted(logged.scalars["Loss/train"].items())], rel=1e-6)
    assert len(acc.Histograms("0.weight")) == 2
    assert acc.Tags()["images"] == ["sample"]
    rid = w.run.id
    assert len(server.export(rid, "loss")) == 20
    assert server.export(rid, "cmp/a") == [[19, 1.0]]
    sub = EventAccumulator(str(env / "runs" / "tee" / "cmp_a"))
    sub.Reload()
    assert [e.value for e in sub.Scalars("cmp")] == [1.0]


def test_a_non_finite_histogram_is_counted_not_fatal(server: Server, env: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from gradwatch.tensorboard import SummaryWriter

    with SummaryWriter("runs/nan", tee=True) as w:
        for s in range(5):
            w.add_scalar("loss", 1.0, s)
        bad = torch.ones(10, 10)
        bad[0, :3] = float("nan")
        w.add_histogram("fc.weight.grad", bad, 5)
        w.add_scalar("loss", 1.0, 6)
        rid = w.run.id
    assert server.export(rid, "layer/fc/grad/nonFinite") == [[5, 3]]
    assert server.export(rid, "layer/fc/grad/mean") == [[5, 1.0]]
    alerts = server.get(f"/runs/{q(rid)}/alerts")["alerts"]
    nan = [a for a in alerts if a["rule"] == "nan.detected"]
    assert [(a["firstStep"], a["evidence"]["layer"], a["evidence"]["quantity"])
            for a in nan] == [(5, "fc", "grad")]


def test_a_failing_script_ends_the_run_failed(server: Server, env: Path) -> None:
    from gradwatch.tensorboard import SummaryWriter

    with pytest.raises(RuntimeError), SummaryWriter("runs/boom") as w:
        w.add_scalar("loss", 2.0, 0)
        raise RuntimeError("boom")
    d = server.get(f"/runs/{q(w.run.id)}")
    assert d["status"] == "failed"
    assert server.export(w.run.id, "loss") == [[0, 2.0]]


def test_hparams_before_data_start_the_run_with_them(server: Server, env: Path) -> None:
    from gradwatch.tensorboard import SummaryWriter

    w = SummaryWriter("runs/hp")
    w.add_hparams({"learning_rate": 3e-4, "optimizer": "adam"}, {})
    w.add_scalar("train/loss", 1.5, 0)
    w.close()
    d = server.get(f"/runs/{q(w.run.id)}")
    assert d["config"] == {"learning_rate": 3e-4, "optimizer": "adam", "lr": 3e-4}
    assert [e["kind"] for e in d["events"]] == ["end"]  # one hello, one end
    assert server.export(w.run.id, "loss") == [[0, 1.5]]
    assert math.isclose(d["config"]["lr"], 3e-4)


def test_drop_in_accepts_torch_positional_arguments(env: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter as Torch

    from gradwatch.tensorboard import SummaryWriter

    w = SummaryWriter("runs/pos", "", None, 10, 120, "")  # torch's positional order
    assert w.get_logdir() == "runs/pos"
    w.close()
    d = SummaryWriter(comment="-x")
    assert d.get_logdir().startswith("runs") and d.get_logdir().endswith("-x")
    d.close()
    for name in ("add_scalar", "add_scalars", "add_histogram", "add_hparams", "flush", "close",
                 "add_image", "add_graph", "add_embedding", "add_text", "add_audio"):
        assert callable(getattr(d, name)) and hasattr(Torch, name), name
