"""Records the diagnosis corpus: real PyTorch trainings (tools/corpus/scenarios.py) written as
the wire messages a client sends, one JSON file per run under server/test/diagnosis/corpus/.

    /work/main/clients/python/.venv/bin/python tools/corpus/record.py [name ...]

Deterministic (seeded, one CPU thread), so re-running reproduces the committed files."""

from __future__ import annotations

import os
import sys
import time
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from scenarios import SCENARIOS  # noqa: E402
from train import run  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "server", "test", "diagnosis", "corpus")


def explosion_onset(rec) -> int:
    """First step whose total gradient norm exceeds 10x the median of the run's first 50 steps."""
    items = [it for m in rec.messages if m["type"] == "steps" for it in m["items"]]
    norms = [it["scalars"]["grad_norm"] for it in items]
    base = sorted(norms[:50])[len(norms[:50]) // 2]
    return next((it["step"] for it, n in zip(items, norms) if isinstance(n, (int, float)) and n > 10 * base), 0)


def main(wanted: list) -> None:
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for sc in SCENARIOS:
        if wanted and sc.name not in wanted:
            continue
        t0 = time.time()
        seed = zlib.crc32(sc.name.encode())  # by name: adding a scenario changes no other recording
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed + 1)
        setup = sc.build(g)
        rec = run(sc.name, setup)
        onset = sc.onset
        if sc.cause in ("numerical_nan", "bad_input_data") and rec.first_nan_step is not None:
            onset = rec.first_nan_step  # the fault shows itself only when the value underflows
        if sc.cause == "exploding_gradients":
            onset = explosion_onset(rec)
        meta = {"name": sc.name, "arch": sc.arch, "description": sc.description, "heldOut": sc.held_out,
                "fault": None if sc.cause is None else {"cause": sc.cause, "onset": onset},
                "firstNonFiniteStep": rec.first_nan_step, "torch": torch.__version__}
        size = rec.write(os.path.join(OUT, f"{sc.name}.json"), meta)
        steps = sum(len(m["items"]) for m in rec.messages if m["type"] == "steps")
        last = next(m for m in reversed(rec.messages) if m["type"] == "steps")["items"][-1]["scalars"]["loss"]
        print(f"{sc.name:30} {steps:4} steps {size / 1024:6.0f} KB  last loss {last}  nan@{rec.first_nan_step}"
              f"  {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
