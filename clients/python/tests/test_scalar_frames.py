"""run.log's items (finite float scalars alone) are written as JSON directly, not through the
general encoder, and go as JSON text frames even where the server takes MessagePack: what is
stored is the same to the last bit."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradwatch
import gradwatch.connection as connection
from gradwatch._encode import dumps
from gradwatch.batching import StepBatcher

from conftest import Server

names = st.text(min_size=1, max_size=20)
finite = st.floats(allow_nan=False, allow_infinity=False)


def _text_of(tail: dict) -> str | None:
    return StepBatcher({"maxFrameBytes": 1 << 20, "maxItemsPerMessage": 500},
                       lambda k, b: None)._scalars_text(tail)


@given(st.integers(min_value=0, max_value=2**53), finite, st.dictionaries(names, finite))
def test_the_direct_json_reads_back_as_the_encoder_writes_it(step: int, t: float,
                                                             scalars: dict) -> None:
    tail = {"step": step, "time": t, "scalars": scalars}
    text = _text_of(tail)
    assert text is not None
    # the time goes to the microsecond either way (close_tail rounds it for the encoder)
    want = dict(tail, time=round(t, 6))
    assert json.loads(text) == json.loads(dumps(want)) == want


@pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf, 3, True, "x", None])
def test_anything_but_finite_floats_takes_the_encoder(odd: object) -> None:
    assert _text_of({"step": 1, "time": 2.0, "scalars": {"a": 1.0, "b": odd}}) is None


def test_scalar_steps_go_as_text_and_are_stored_exactly(server: Server, tmp_path,
                                                        monkeypatch) -> None:
    pytest.importorskip("msgpack")
    packed: list[str] = []
    to_msgpack = connection.to_msgpack

    def counting(text: str) -> bytes:
        packed.append(json.loads(text)["type"])
        return to_msgpack(text)

    monkeypatch.setattr(connection, "to_msgpack", counting)
    run = gradwatch.init(server.url, project="frames", name="scalars",
                         spool_dir=str(tmp_path))
    values = [0.1, 5e-324, 1.7976931348623157e308, -2.5e-300, 1 / 3, math.nan, math.inf]
    for step in range(700):
        run.log(step=step, loss=values[step % len(values)], n=step)
    binary = run._sender is not None and run._sender.conn.binary
    run.log_eval(step=699, acc=0.5)
    assert run.finish(timeout=60) == 0, server.tail()
    assert binary, "the server did not take binary frames"
    # Steps with NaN/Infinity take the encoder, and still go as text: no steps frame is packed.
    assert "steps" not in packed and "eval" in packed
    loss = server.export(run.id, "loss")
    markers = {"NaN": math.nan, "Infinity": math.inf}
    back = [markers.get(v, v) if isinstance(v, str) else v for _, v in loss]
    want = [values[s % len(values)] for s in range(700)]
    assert len(back) == 700
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(back, want))
    assert [v for _, v in server.export(run.id, "n")] == list(range(700))
