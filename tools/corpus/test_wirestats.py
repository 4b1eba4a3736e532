"""The corpus must carry the statistics the Python client sends: compare the recorder's
wirestats with gradwatch.stats.tensor_stats on the same tensors (weights, ReLU / tanh / sigmoid
activations, conv outputs, tensors with NaN and Inf).

    PYTHONPATH=clients/python /work/main/clients/python/.venv/bin/python -m pytest tools/corpus/test_wirestats.py
"""

import math
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wirestats import stats  # noqa: E402
from gradwatch.stats import tensor_stats  # noqa: E402


def close(a, b):
    if isinstance(a, str):
        return str(b) == a or (a == "NaN" and isinstance(b, float) and math.isnan(b))
    return math.isclose(a, b, rel_tol=2e-3, abs_tol=1e-9)


CASES = [
    ("weights", lambda g: torch.randn(64, 32, generator=g) * 0.1, False, None, -1),
    ("relu act", lambda g: torch.relu(torch.randn(32, 64, generator=g) - 0.5), True, "relu", -1),
    ("tanh act", lambda g: torch.tanh(torch.randn(32, 64, generator=g) * 3), True, "tanh", -1),
    ("sigmoid act", lambda g: torch.sigmoid(torch.randn(32, 64, generator=g) * 5), True, "sigmoid", -1),
    ("conv act", lambda g: torch.relu(torch.randn(8, 16, 6, 6, generator=g) - 1), True, "relu", 1),
]


@pytest.mark.parametrize("name,make,act,activation,unit_dim", CASES, ids=[c[0] for c in CASES])
def test_same_stats_as_the_client(name, make, act, activation, unit_dim):
    t = make(torch.Generator().manual_seed(7))
    mine = stats(t, act=act, activation=activation, unit_dim=unit_dim)
    theirs = tensor_stats(t, activation=activation, act=act, unit_dim=unit_dim)
    assert set(mine) == set(theirs), name
    for k, v in mine.items():
        assert close(v, theirs[k]), (name, k, v, theirs[k])


def test_non_finite_counted_and_excluded():
    t = torch.randn(100, generator=torch.Generator().manual_seed(3))
    t[5], t[9] = float("nan"), float("inf")
    mine, theirs = stats(t), tensor_stats(t)
    assert mine["nonFinite"] == theirs["nonFinite"] == 2
    for k in ("mean", "std", "meanAbs", "min", "max", "norm"):
        assert close(mine[k], theirs[k]), k
