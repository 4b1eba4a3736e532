"""GradwatchCallback on Keras 3's TensorFlow and PyTorch backends: a real fit of a small MLP
(tests/keras_fit.py, in its own process per backend) against the real server."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import Server

HERE = Path(__file__).resolve().parent
BACKENDS = {"tensorflow": "tensorflow", "torch": "torch"}


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


_FITS: dict[str, Any] = {}


def fits(server: Server, backend: str, tmp_path: Path) -> Any:
    """The fits of one backend, in one process: a healthy one and, on torch, one with an
    injected fault (a learning rate far too high, reported on every batch)."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"the {backend} backend is not installed")
    if backend in _FITS:
        return _FITS[backend]
    jobs = [{"name": f"fit-{backend}", "lr": 0.05, "every": 4}]
    if backend == "torch":
        jobs.append({"name": "fit-torch-lr-too-high", "lr": 50.0, "every": 1})
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent),
                                                         os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, str(HERE / "keras_fit.py"), server.url, "keras",
                        str(tmp_path / "spool"), json.dumps(jobs)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    _FITS[backend] = json.loads(p.stdout.strip().splitlines()[-1])
    return _FITS[backend]


def points(server: Server, rid: str, name: str) -> dict[int, Any]:
    return dict(server.export(rid, name))


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_keras_fit_streams_everything(server: Server, tmp_path: Path, backend: str) -> None:
    got = fits(server, backend, tmp_path)[0]
    rid = got["run"]
    d = server.get(f"/runs/{q(rid)}")
    assert d["status"] == "completed" and d["framework"] == f"keras-{backend}"
    first, last = got["layers"][0], got["layers"][-1]
    assert [(x["name"], x["kind"], x.get("activation"), x.get("fanIn"), x.get("fanOut"))
            for x in d["model"]["layers"]] == [(first, "Dense", "relu", 64, 32),
                                               (last, "Dense", "softmax", 32, 10)]
    assert d["model"]["loss"] == "sparse_categorical_crossentropy"
    assert d["model"]["optimizer"]["type"] == "SGD"
    assert d["model"]["optimizer"]["momentum"] == pytest.approx(0.9)
    cfg = d["config"]
    assert cfg["lr"] == pytest.approx(0.05) and cfg["batchSize"] == 32
    assert cfg["dropout"] == pytest.approx(0.2) and cfg["epochs"] == 2

    # each batch's own loss: its running mean over the epoch is what Keras reported
    loss = points(server, rid, "loss")
    acc = points(server, rid, "acc")
    assert sorted(loss) == list(range(24))
    for epoch in range(2):
        steps = range(epoch * 12, epoch * 12 + 12)
        means = np.cumsum([loss[s] for s in steps]) / np.arange(1, 13)
        reported = [r[2] for r in got["running"][epoch * 12:epoch * 12 + 12]]
        assert means == pytest.approx(reported, rel=1e-4)
        acc_means = np.cumsum([acc[s] for s in steps]) / np.arange(1, 13)
        assert acc_means == pytest.approx([r[3] for r in got["running"][epoch * 12:
                                                                        epoch * 12 + 12]],
                                          abs=1e-5)
    lrs = points(server, rid, "lr")
    assert len(lrs) == 24 and list(lrs.values()) == pytest.approx([0.05] * 24)

    # weight and update stats of the first layer on the reporting batches
    for field, i in (("mean", 0), ("std", 1), ("min", 2), ("max", 3)):
        stored = points(server, rid, f"layer/{first}/param/{field}")
        assert sorted(stored) == [0, 4, 8, 12, 16, 20]
        for s, want in got["kernel"].items():
            assert stored[int(s)] == pytest.approx(want[i], rel=1e-6, abs=1e-9), field
    upd = points(server, rid, f"layer/{first}/update/meanAbs")
    for s, want in got["update"].items():
        assert upd[int(s)] == pytest.approx(want[1], rel=1e-6)
    assert f"layer/{first}/update_ratio" in {s["name"] for s in
                                             server.get(f"/runs/{q(rid)}/series")["series"]}
    # gradients, captured inside the compiled train step on both backends
    gnorm = points(server, rid, f"layer/{first}/grad/norm")
    assert sorted(gnorm) == [0, 4, 8, 12, 16, 20] and all(v > 0 for v in gnorm.values())
    for s, want in got["grad"].items():  # torch: the .grad Keras left on the variable
        assert gnorm[int(s)] == pytest.approx(want[1], rel=1e-4)
        assert points(server, rid, f"layer/{first}/grad/mean")[int(s)] == pytest.approx(
            want[0], rel=1e-3, abs=1e-8)
    hists = server.get(f"/runs/{q(rid)}/histograms", layer=first)["histograms"]
    assert sorted({(h["step"], h["of"]) for h in hists}) == [
        (s, of) for s in (0, 8, 16) for of in ("param", "update")]

    # validation metrics at each epoch's last step
    assert [v for _, v in server.export(rid, "eval/val/loss")] == pytest.approx(
        got["val_loss"], rel=1e-5)
    assert [s for s, _ in server.export(rid, "eval/val/acc")] == [11, 23]
    alerts = server.get(f"/runs/{q(rid)}/alerts")["alerts"]
    assert not [a for a in alerts if a["severity"] != "info"], alerts


def test_keras_fault_is_diagnosed(server: Server, tmp_path: Path) -> None:
    got = fits(server, "torch", tmp_path)[1]
    alerts = server.get(f"/runs/{q(got['run'])}/alerts")["alerts"]
    high = [a for a in alerts if a["rule"] == "lr.update_ratio_high"]
    # both Dense layers (one alert per episode lists every layer it fired on), from the 16th
    # observation of a too-large update ratio
    fired = sorted({layer for a in high for layer in (a.get("layers") or [a["layer"]])})
    assert fired == sorted(got["layers"][i] for i in (0, 2))
    assert all(a["severity"] == "warning" and a["firstStep"] <= 16 for a in high)
