"""The client streams through MessagePack binary frames when `msgpack` is importable and the
server accepts them: what is stored is exactly what the JSON path stores, NaN and +/-Infinity
included (docs/protocol.md, "Binary frames")."""

from __future__ import annotations

import math
import urllib.parse

import pytest
import torch
from torch import nn

import gradwatch
from gradwatch._encode import dumps, to_msgpack

from conftest import Server

msgpack = pytest.importorskip("msgpack")


def _train(server: Server, spool: str, name: str) -> str:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.randn(64, 6)
    target = torch.randint(0, 2, (64,))
    run = gradwatch.init(server.url, project="binary", name=name, spool_dir=spool)
    run.watch(model)
    specials = [math.nan, math.inf, -math.inf]
    for step in range(40):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
        extra = specials[step % 3] if step % 5 == 0 else step / 3
        run.log(step=step, loss=float(loss), odd=extra, tiny=5e-324, big=1.7976931348623157e308)
    run.log_eval(step=39, loss=math.nan, acc=0.5)
    binary = bool(run._sender is not None and run._sender.conn.binary)
    assert run.finish(timeout=60) == 0, server.tail()
    return run.id if binary else f"json:{run.id}"


def _stored(server: Server, run_id: str) -> dict[str, list]:
    series = server.get(f"/runs/{urllib.parse.quote(run_id)}/series")["series"]
    names = sorted(s["name"] for s in series if not s["name"].startswith("sys/"))
    return {n: server.export(run_id, n) for n in names}


def _wall_clock_free(points: dict[str, list]) -> dict[str, list]:
    return {k: v for k, v in points.items() if k != "derived/step_time"}


def test_msgpack_and_json_store_the_same(server: Server, tmp_path, monkeypatch) -> None:
    via_bin = _train(server, str(tmp_path / "a"), "msgpack")
    assert not via_bin.startswith("json:"), "the client did not switch to binary frames"
    monkeypatch.setenv("GRADWATCH_ENCODING", "json")
    via_json = _train(server, str(tmp_path / "b"), "json")
    assert via_json.startswith("json:")
    a = _stored(server, via_bin)
    b = _stored(server, via_json[5:])
    assert len(a) > 20
    assert set(a) == set(b)
    # Layer stats depend only on the seeded training: equal to the last bit both ways.
    for name in a:
        if name.startswith(("layer/", "odd", "tiny", "big", "eval/")):
            assert a[name] == b[name], name
    odd = dict(a["odd"])
    assert odd[0] == "NaN" and odd[5] == "-Infinity" and odd[10] == "Infinity"
    assert a["tiny"][0][1] == 5e-324 and a["big"][0][1] == 1.7976931348623157e308
    assert a["eval/val/loss"] == [[39, "NaN"]]


def test_to_msgpack_turns_markers_into_floats_only_where_measurements_are() -> None:
    msg = {"seq": 3, "type": "steps", "items": [{
        "step": 0, "scalars": {"loss": math.nan, "name": 1.0},
        "layers": {"NaN": {"grad": {"mean": math.inf, "std": 0, "meanAbs": 0, "min": -math.inf,
                                    "max": 0}}},
    }]}
    back = msgpack.unpackb(to_msgpack(dumps(msg)))
    assert back["seq"] == 3
    item = back["items"][0]
    assert math.isnan(item["scalars"]["loss"])
    grad = item["layers"]["NaN"]["grad"]
    assert grad["mean"] == math.inf and grad["min"] == -math.inf
    hist = {"seq": 4, "type": "hist", "step": 0, "layer": "NaN", "of": "param",
            "edges": [0, 1], "counts": [1]}
    assert msgpack.unpackb(to_msgpack(dumps(hist)))["layer"] == "NaN"
