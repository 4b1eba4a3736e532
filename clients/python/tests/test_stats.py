"""Statistics equal a direct numpy computation, non-finite elements included."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gradwatch._encode import decode_num, dumps
from gradwatch.stats import Collector, hist_message, tensor_stats


def np_stats(a: np.ndarray) -> dict:
    a = np.asarray(a, dtype=np.float64).ravel()
    fin = a[np.isfinite(a)]
    return {"mean": fin.mean(), "std": fin.std(), "meanAbs": np.abs(fin).mean(),
            "min": fin.min(), "max": fin.max(), "norm": np.sqrt((fin ** 2).sum()),
            "nonFinite": int((~np.isfinite(a)).sum())}


def close(got: dict, want: dict, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=rtol, abs=atol), (k, got[k], v)


def test_known_tensor() -> None:
    t = torch.tensor([[1.0, -2.0, 0.0], [3.0, 0.0, -4.0]])
    s = tensor_stats(t)
    close(s, np_stats(t.numpy()))
    assert s["nonFinite"] == 0
    assert s["mean"] == pytest.approx(-1 / 3)
    assert s["meanAbs"] == pytest.approx(10 / 6)
    assert s["norm"] == pytest.approx(math.sqrt(30))


@pytest.mark.parametrize("bad", [[math.nan], [math.inf], [-math.inf],
                                 [math.nan, math.inf, -math.inf]])
def test_non_finite_counted_and_excluded(bad: list) -> None:
    vals = [0.5, -1.5, 2.0, 4.0, *bad]
    t = torch.tensor(vals)
    s = tensor_stats(t)
    assert s["nonFinite"] == len(bad)
    close(s, np_stats(np.array(vals)))


def test_all_non_finite() -> None:
    s = tensor_stats(torch.tensor([math.nan, math.inf]))
    assert s["nonFinite"] == 2
    assert math.isnan(s["mean"])
    # and it survives the wire encoding
    text = dumps({"v": s})
    back = json.loads(text)
    assert back["v"]["mean"] == "NaN" and math.isnan(decode_num(back["v"]["mean"]))


def test_activation_dead_units_and_zero_fraction() -> None:
    # batch of 4 examples x 5 units; units 1 and 3 are zero for every example (dead),
    # unit 0 is zero for one example only (alive)
    a = np.array([[0.0, 0, 1, 0, 2],
                  [1.0, 0, 0, 0, 3],
                  [2.0, 0, 5, 0, 0],
                  [3.0, 0, 1, 0, 1]], dtype=np.float32)
    s = tensor_stats(torch.from_numpy(a), act=True, activation="relu")
    close(s, np_stats(a))
    assert s["fracZero"] == pytest.approx((a == 0).mean())
    assert s["fracDeadUnits"] == pytest.approx(2 / 5)
    assert "fracSaturated" not in s


def test_conv_dead_channels() -> None:
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(size=(3, 4, 5, 5))).astype(np.float32)
    a[:, 2] = 0  # channel 2 dead over batch and positions
    a[0, 1] = 0  # channel 1 zero for one example only
    s = tensor_stats(torch.from_numpy(a), act=True, activation="relu", unit_dim=1)
    dead = np.all(a == 0, axis=(0, 2, 3)).mean()
    assert s["fracDeadUnits"] == pytest.approx(dead) == pytest.approx(0.25)
    assert s["fracZero"] == pytest.approx((a == 0).mean())


@pytest.mark.parametrize("act,lo,hi", [("sigmoid", 0.01, 0.99), ("tanh", -0.99, 0.99)])
def test_saturation(act: str, lo: float, hi: float) -> None:
    x = torch.linspace(-8, 8, 101).reshape(1, -1)
    y = torch.sigmoid(x) if act == "sigmoid" else torch.tanh(x)
    s = tensor_stats(y, act=True, activation=act)
    a = y.numpy()
    assert s["fracSaturated"] == pytest.approx(((a < lo) | (a > hi)).mean())
    assert 0.2 < s["fracSaturated"] < 0.9


def test_activation_with_nan() -> None:
    a = np.array([[0.0, 1.0], [math.nan, 2.0], [0.0, math.inf]], dtype=np.float32)
    s = tensor_stats(torch.from_numpy(a), act=True, activation="relu")
    assert s["nonFinite"] == 2
    close(s, np_stats(a))


def test_one_transfer_for_many_tensors() -> None:
    c = Collector()
    ts = [torch.randn(7, 3), torch.randn(10), torch.tensor([1.0, math.nan])]
    hs = [c.add(t) for t in ts]
    hh = c.add_hist(ts[0], 8)
    c.resolve()
    for t, h in zip(ts, hs):
        close(c.result(h), np_stats(t.numpy()))
    edges, counts = hist_message(c.result(hh))
    ref, ref_edges = np.histogram(ts[0].numpy(), bins=8,
                                  range=(float(ts[0].min()), float(ts[0].max())))
    assert sum(counts) == 21
    np.testing.assert_allclose(edges, ref_edges, rtol=1e-5, atol=1e-6)
    # bucket boundaries may differ by one ulp: counts agree up to boundary ties
    assert np.abs(np.array(counts) - ref).sum() <= 2


def test_hist_of_non_finite_tensor_is_not_sent() -> None:
    # a tensor with NaN/Inf has no meaningful bucket range: its stats carry nonFinite instead
    c = Collector()
    h = c.add_hist(torch.tensor([0.0, 1.0, 2.0, math.nan, math.inf]), 4)
    h2 = c.add_hist(torch.tensor([0.0, 1.0, 2.0, 2.0]), 4)
    c.resolve()
    assert hist_message(c.result(h)) is None
    edges, counts = hist_message(c.result(h2))
    assert counts == [1, 0, 1, 2] and edges == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_one_pass_variant_matches() -> None:
    a = np.random.default_rng(2).normal(0.01, 0.05, size=(64, 32)).astype(np.float32)
    c = Collector()
    h = c.add(torch.from_numpy(a), two_pass=False)
    c.resolve()
    close(c.result(h), np_stats(a), rtol=1e-4)


def test_mixed_dtypes_in_one_report() -> None:
    # float64 and float32 statistics (and an activation's counts) in one report come back in
    # the order they were queued, each from its own dtype's stack
    rng = np.random.default_rng(3)
    a64 = rng.normal(0.5, 0.2, size=(16, 4))
    a32 = rng.normal(-1.0, 0.3, size=(8, 5)).astype(np.float32)
    act = np.maximum(rng.normal(0.0, 1.0, size=(6, 10)), 0.0).astype(np.float32)
    act[:, 3] = 0.0
    c = Collector()
    h64 = c.add(torch.from_numpy(a64), two_pass=False)
    h32 = c.add(torch.from_numpy(a32))
    ha = c.add(torch.from_numpy(act), act=True, activation="relu")
    hh = c.add_hist(torch.from_numpy(a64), 4)
    c.resolve()
    close(c.result(h64), np_stats(a64), rtol=1e-6)
    close(c.result(h32), np_stats(a32), rtol=1e-4)
    r = c.result(ha)
    close(r, np_stats(act), rtol=1e-4)
    assert r["fracZero"] == pytest.approx(float((act == 0).mean()))
    assert r["fracDeadUnits"] == pytest.approx(0.1)
    assert sum(c.result(hh)["counts"]) == 64


def test_float64_and_half_inputs() -> None:
    a = np.random.default_rng(1).normal(3.0, 0.1, size=1000)
    close(tensor_stats(torch.from_numpy(a)), np_stats(a), rtol=1e-4)
    h = torch.from_numpy(a.astype(np.float16))
    close(tensor_stats(h), np_stats(h.float().numpy()), rtol=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
                          st.sampled_from([math.nan, math.inf, -math.inf])),
                min_size=1, max_size=50))
def test_property_matches_numpy(vals: list) -> None:
    a = np.array(vals, dtype=np.float32)
    s = tensor_stats(torch.from_numpy(a))
    want = np_stats(a) if np.isfinite(a).any() else None
    assert s["nonFinite"] == int((~np.isfinite(a)).sum())
    if want is not None:
        scale = max(1.0, float(np.abs(a[np.isfinite(a)]).max()))
        for k in ("mean", "meanAbs", "min", "max", "std", "norm"):
            assert s[k] == pytest.approx(want[k], rel=1e-4, abs=1e-5 * scale), k


def test_encoding_of_non_finite() -> None:
    text = dumps({"a": math.nan, "b": [math.inf, -math.inf, 1.5], "NaN": 2})
    assert json.loads(text) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "NaN": 2}
