"""`gradwatch import tensorboard`: folders written by torch's own SummaryWriter during a real
training, imported into the real server, read back through REST."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tb_import_cli import PROJECT, cli, q, snapshot
from tb_logs import Logged, f32, write_run
from torch import nn

from gradwatch.cli import main
from gradwatch.importers.tb_runs import run_id

from conftest import Server


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Logged]]:
    root = tmp_path_factory.mktemp("tb") / "logs"
    logged = {"healthy": write_run(str(root / "healthy"), lr=0.1, steps=60),
              # the injected fault: a learning rate far too high for this (linear) network,
              # so the loss blows up to Inf/NaN within a few dozen steps
              "diverge": write_run(str(root / "diverge"), lr=5.0, steps=60, seed=1,
                                   act=nn.Identity())}
    return str(root), logged


@pytest.fixture(scope="module")
def imported(logs: tuple[str, dict[str, Logged]], _session_server: Server
             ) -> dict[str, Any]:
    root, _ = logs
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["import", "tensorboard", root, "--url", _session_server.url,
                   "--project", PROJECT])
    ids = {name: run_id(PROJECT, os.path.join(root, name), name) for name in logs[1]}
    return {"rc": rc, "out": out.getvalue(), "err": err.getvalue(), "ids": ids}


def test_every_scalar_comes_back_as_written(server: Server, logs: Any, imported: Any) -> None:
    assert imported["rc"] == 0, imported["err"]
    logged = logs[1]["healthy"]
    rid = imported["ids"]["healthy"]
    for tag, name in (("Loss/train", "loss"), ("lr", "lr"), ("Accuracy/train", "acc"),
                      ("Loss/val", "eval/val/loss")):
        pts = server.export(rid, name)
        want = [[s, f32(v)] for s, v in sorted(logged.scalars[tag].items())]
        assert [p[0] for p in pts] == [w[0] for w in want], name
        assert [p[1] for p in pts] == pytest.approx([w[1] for w in want], rel=1e-7), name
    d = server.get(f"/runs/{q(rid)}")
    assert d["status"] == "completed" and d["framework"] == "tensorboard"
    assert d["name"] == "healthy" and d["tags"] == ["tensorboard"]
    # torch's add_hparams wrote a child folder: its hparams are the run's config
    assert d["config"]["lr"] == pytest.approx(0.1) and d["config"]["batch_size"] == 32
    assert d["config"]["batchSize"] == 32 and d["config"]["optimizer"] == "sgd"
    assert d["config"]["hparamMetrics"]["hparam/final_loss"] == pytest.approx(
        logged.metrics["hparam/final_loss"], rel=1e-6)
    # the child folder is not a run of its own
    runs = server.get("/runs", project=PROJECT)["runs"]
    assert sorted(r["name"] for r in runs) == ["diverge", "healthy"]
    # progress went to stderr
    assert "importing healthy" in imported["err"]


def test_histograms_and_layer_stats(server: Server, logs: Any, imported: Any) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, logged_all = logs
    logged = logged_all["healthy"]
    rid = imported["ids"]["healthy"]
    d = server.get(f"/runs/{q(rid)}")
    layers = [(layer["name"], layer["params"]) for layer in d["model"]["layers"]]
    assert layers == [("0", 64 * 32 + 32), ("2", 32 * 10 + 10)]
    stored = server.get(f"/runs/{q(rid)}/histograms", limit=1000)["histograms"]
    by_key = {(h["layer"], h["of"], h["step"]): h for h in stored}
    # the reference reader: TensorBoard's own accumulator over the same folder
    acc = EventAccumulator(os.path.join(root, "healthy"), size_guidance={"histograms": 0})
    acc.Reload()
    n = 0
    for tag, layer, of in (("0.weight", "0", "param"), ("0.weight.grad", "0", "grad"),
                           ("2.weight", "2", "param"), ("2.weight.grad", "2", "grad")):
        for ev in acc.Histograms(tag):
            h = by_key[(layer, of, ev.step)]
            hv = ev.histogram_value
            assert h["edges"] == list(hv.bucket_limit), tag
            assert h["counts"] == [int(c) for c in hv.bucket[1:]], tag
            n += 1
            # stats: exact from the proto's sums; meanAbs estimated from the buckets
            x = logged.tensors[tag][ev.step]
            for field, want in (("mean", x.mean()), ("std", x.std()), ("min", x.min()),
                                ("max", x.max()), ("norm", math.sqrt(x @ x))):
                got = server.export(rid, f"layer/{layer}/{of}/{field}")
                v = dict(got)[ev.step]
                assert v == pytest.approx(float(want), rel=1e-5, abs=1e-9), (tag, field)
            got = dict(map(tuple, server.export(rid, f"layer/{layer}/{of}/meanAbs")))
            assert got[ev.step] == pytest.approx(float(np.abs(x).mean()), rel=0.05), tag
    assert n == 4 * 6 and len(stored) == n  # bias histograms give stats, not histograms
    bias = dict(map(tuple, server.export(rid, "layer/0/bias/mean")))
    assert bias[30] == pytest.approx(float(logged.tensors["0.bias"][30].mean()), rel=1e-5)
    assert "derived/grad_norm_ratio" in {s["name"] for s in
                                         server.get(f"/runs/{q(rid)}/series")["series"]}
    # bias gradients have no place in the protocol: said once per run, by name
    assert "0.bias.grad" in imported["err"]


def test_the_injected_fault_is_diagnosed(server: Server, logs: Any, imported: Any) -> None:
    rid = imported["ids"]["diverge"]
    alerts = server.get(f"/runs/{q(rid)}/alerts")["alerts"]
    nan = [a for a in alerts if a["rule"] == "nan.detected"]
    assert nan and nan[0]["severity"] == "critical"
    losses = logs[1]["diverge"].scalars["Loss/train"]
    first_bad = min(s for s, v in losses.items() if not math.isfinite(v))
    assert nan[0]["firstStep"] == first_bad
    assert server.export(rid, "loss")[first_bad][1] in ("NaN", "Infinity")
    # the command printed the diagnosis of each run
    out = imported["out"]
    diverge_part = out[out.index("diverge ("):out.index("healthy (")]
    assert "[CRITICAL] nan.detected" in diverge_part
    healthy_part = out[out.index("healthy ("):]
    assert "WARNING" not in healthy_part and "CRITICAL" not in healthy_part


def test_reimport_changes_nothing(server: Server, logs: Any, imported: Any,
                                  capsys: pytest.CaptureFixture) -> None:
    before = {k: snapshot(server, rid) for k, rid in imported["ids"].items()}
    rc, out, _ = cli(server, logs[0], capsys)
    assert rc == 0
    assert out.count("up to date") == 2
    after = {k: snapshot(server, rid) for k, rid in imported["ids"].items()}
    assert after == before
    assert "[CRITICAL] nan.detected" in out  # the diagnosis is printed again


def test_keras_layout_is_one_run_with_eval_metrics(server: Server, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "logs" / "fit"
    with SummaryWriter(str(run / "train")) as w:
        for e in range(5):
            w.add_scalar("epoch_loss", 1.0 / (e + 1), e)
            w.add_scalar("epoch_accuracy", 0.5 + e / 20, e)
            w.add_scalar("epoch_learning_rate", 0.01, e)
    with SummaryWriter(str(run / "validation")) as w:
        for e in range(5):
            w.add_scalar("epoch_loss", 1.2 / (e + 1), e)
            w.add_scalar("epoch_accuracy", 0.45 + e / 20, e)
    rc, out, err = cli(server, str(tmp_path / "logs"), capsys)
    assert rc == 0, err
    assert out.count("imported") == 1
    rid = run_id(PROJECT, str(run / "train"), "fit")
    assert server.get(f"/runs/{q(rid)}")["name"] == "fit"
    assert [p[1] for p in server.export(rid, "loss")] == pytest.approx(
        [1 / (e + 1) for e in range(5)])
    assert [p[1] for p in server.export(rid, "eval/val/loss")] == pytest.approx(
        [f32(1.2 / (e + 1)) for e in range(5)], rel=1e-7)
    assert len(server.export(rid, "eval/val/acc")) == 5
    assert len(server.export(rid, "lr")) == 5


def test_bad_input_is_refused_and_changes_nothing(server: Server, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    rc, _, err = cli(server, str(tmp_path / "missing"), capsys)
    assert rc == 2 and "is not a folder" in err
    (tmp_path / "empty").mkdir()
    rc, _, err = cli(server, str(tmp_path / "empty"), capsys)
    assert rc == 1 and "no TensorBoard event files" in err
    write_run(str(tmp_path / "ok" / "a"), lr=0.1, steps=5, hparams=False)
    rc, _, err = cli(server, str(tmp_path / "ok"), capsys, "bad project!")
    assert rc == 2 and "project" in err
    rc = main(["import", "tensorboard", str(tmp_path / "ok"), "--url", "http://127.0.0.1:9",
               "--project", PROJECT])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach" in err
    assert server.get("/runs", project="bad project!") is not None
    names = [r["name"] for r in server.get("/runs", project=PROJECT)["runs"]]
    assert "a" not in names


def test_hist_every_thins_histograms_but_keeps_every_stat(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "logs" / "thin"
    write_run(str(folder), lr=0.1, steps=60, hparams=False)
    rc, _out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT, "--hist-every", "3",
                       "-q")
    assert rc == 0, err
    assert "importing" not in err  # -q: no progress bar
    rid = run_id(PROJECT, str(folder), "thin")
    hists = server.get(f"/runs/{q(rid)}/histograms", layer="0", of="param")["histograms"]
    assert sorted(h["step"] for h in hists) == [0, 30]
    assert [s for s, _ in server.export(rid, "layer/0/param/std")] == [0, 10, 20, 30, 40, 50]

