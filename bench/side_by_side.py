"""gradwatch beside TensorBoard 2.x, in one run on this machine: prints each pair of figures
and its ratio; never passes or fails on timing.

1. Logging cost per value on the training thread, finish()/close() included: run.log() with
   1 and with 10 values a call against SummaryWriter.add_scalar (1 a call, 10 calls a step)
   and add_scalars (10 tags), interleaved rounds, median.
2. Training overhead (training-thread CPU per step, time.thread_time) of run.watch(every=10)
   against TensorBoard histograms of every weight and gradient every 10 steps, each against
   the same loop without monitoring: MLP 784-256-256-10, batch 64, SGD, CPU, 1 torch thread,
   interleaved rounds, median.
3. Freshness: a value logged at 20 steps/s until readable. gradwatch: a live WebSocket
   subscriber (bench/freshness.py's) or a REST query polled every 5 ms; TensorBoard: its
   reader (EventAccumulator.Reload() polled every 5 ms), SummaryWriter defaults. The loop
   goes on logging until the sampled values are readable, as a training would.
4.-6. A 1M-step one-scalar run: ingest time (run.log loop + finish, against an add_scalar loop
   + close), bytes on disk per value (the data dir after the server stopped, against the
   event file), then a fresh server on that data -> first answer of the dashboard's chart
   query (GET /api/v1/runs/:id/query?series=loss&maxPoints=600) against a fresh
   `tensorboard --logdir` -> first answer of /data/plugin/scalars/scalars holding the last
   step; and the warm query (median of 20).

Every gradwatch server is a real one in its own process, started as `npm start` does (node
with server/package.json's heap flags on the bundled server): server/dist/start.js when the
bundle is newer than the sources, else the working tree bundled by server/scripts/build.mjs into a
temporary folder (tsx if that fails); the output says which. Ratios are TensorBoard /
gradwatch: above 1, gradwatch is that many times faster or smaller. Figures 3. and 4.-6. are in
sbs_freshness.py and sbs_million.py; the table, helpers and server start in sbs_common.py.

    clients/python/.venv/bin/python bench/side_by_side.py [--smoke] [--steps 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import torch  # noqa: E402
from sbs_common import (  # noqa: E402
    NODE_FLAGS,
    TABLE,
    init,
    row,
    server_entry,
    start_server,
    stop,
    wait_up,
)
from sbs_freshness import freshness  # noqa: E402
from sbs_million import million  # noqa: E402
from torch import nn  # noqa: E402


# ---------------------------------------------------------------------------- 1. log cost
def log_cost(url: str, spool: str, tbdir: str, values: int, rounds: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    def gw(width: int) -> Callable[[int], tuple[float, float]]:
        def go(_r: int) -> tuple[float, float]:
            vals = {f"m{i}": 0.5 for i in range(width)}
            run = init(url, spool)
            t0 = time.perf_counter()
            for s in range(values // width):
                vals["m0"] = s * 1e-3
                run.log(s, vals)
            loop = time.perf_counter() - t0
            left = run.finish(timeout=300)
            assert left == 0, f"{left} messages not delivered"
            return loop, time.perf_counter() - t0
        return go

    def tb(width: int, scalars: bool) -> Callable[[int], tuple[float, float]]:
        def go(r: int) -> tuple[float, float]:
            w = SummaryWriter(os.path.join(tbdir, f"cost-{width}-{scalars}-{r}"))
            tags = [f"m{i}" for i in range(width)]
            vals = dict.fromkeys(tags, 0.5)
            add, adds = w.add_scalar, w.add_scalars
            t0 = time.perf_counter()
            for s in range(values // width):
                if scalars:
                    vals["m0"] = s * 1e-3
                    adds("m", vals, s)
                else:
                    for t in tags:
                        add(t, s * 1e-3, s)
            loop = time.perf_counter() - t0
            w.close()
            return loop, time.perf_counter() - t0
        return go

    configs = {"gradwatch run.log, 1 value/call": gw(1),
               "gradwatch run.log, 10 values/call": gw(10),
               "TensorBoard add_scalar, 1/step": tb(1, False),
               "TensorBoard add_scalar x10/step": tb(10, False),
               "TensorBoard add_scalars, 10 tags": tb(10, True)}
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in configs}
    for r in range(rounds):
        for k in (configs if r % 2 == 0 else reversed(list(configs))):
            got[k].append(configs[k](r))
    print(f"\n== 1. logging cost per value on the training thread ({values:,} values a "
          f"config, median of {rounds} interleaved rounds; gradwatch: real server, default "
          f"client settings)")
    per = {}
    for k, v in got.items():
        loop = statistics.median(x[0] for x in v)
        end = statistics.median(x[1] for x in v)
        per[k] = end / values * 1e6
        print(f"   {k:36s} {per[k]:7.2f} us/value with finish()/close() (loop alone "
              f"{loop / values * 1e6:6.2f} us/value, then finish()/close() {end - loop:.2f} s)")
    keys = list(configs)
    row("1. log, 1 value/call (us/value)", per[keys[0]], per[keys[2]], "{:.2f}")
    row("1. log, 10 values/step (us/value)", per[keys[1]], per[keys[3]], "{:.2f}")
    row("1. ...vs add_scalars (us/value)", per[keys[1]], per[keys[4]], "{:.2f}")


# ---------------------------------------------------------------------------- 2. overhead
def overhead(url: str, spool: str, tbdir: str, steps: int, rounds: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    crit = nn.CrossEntropyLoss()
    configs = ["none", "gradwatch watch(every=10)", "gradwatch watch(every=10, hist_every=10)",
               "TensorBoard add_histogram x12 /10 steps"]
    setups: dict[str, tuple[nn.Module, torch.optim.Optimizer, Any, list[int]]] = {}
    for c in configs:
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        mon: Any = None
        if c.startswith("gradwatch"):
            mon = init(url, spool)
            mon.watch(model, opt, crit, every=10, hist_every=10 if "hist" in c else None)
        elif c.startswith("TensorBoard"):
            mon = SummaryWriter(os.path.join(tbdir, "hist"))
        setups[c] = (model, opt, mon, [0])

    def loop(c: str, n: int) -> tuple[float, float]:
        model, opt, mon, step = setups[c]
        tb = isinstance(mon, SummaryWriter)
        t0, p0 = time.thread_time(), time.process_time()
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
            if tb and step[0] % 10 == 0:
                for name, p in model.named_parameters():
                    mon.add_histogram(name, p, step[0])
                    mon.add_histogram(name + ".grad", p.grad, step[0])
            step[0] += 1
        thread = (time.thread_time() - t0) / n
        if mon is not None:  # what is left in the background: billed here, not to the next
            mon.flush()
        return thread, (time.process_time() - p0) / n

    for c in configs:  # warm-up, the model's discovery at the first forward pass included
        loop(c, 20)
    times: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
    for r in range(rounds):
        for c in (configs if r % 2 == 0 else reversed(configs)):
            times[c].append(loop(c, steps))
    for _, _, mon, _ in setups.values():
        if mon is not None:
            (mon.close if isinstance(mon, SummaryWriter) else mon.finish)()
    print(f"\n== 2. training overhead: MLP 784-256-256-10, batch 64, SGD, CPU, 1 torch thread "
          f"(median of {rounds} interleaved rounds of {steps} steps)")
    print("   gradwatch watch(every=10): per-layer stats every 10 steps, histograms every 100 "
          "(its default);\n   TensorBoard: add_histogram of each of the 6 weights and 6 grads "
          "every 10 steps")
    base = statistics.median(t[0] for t in times["none"])
    cost = {}
    for c in configs:
        t = statistics.median(v[0] for v in times[c])
        proc = statistics.median(v[1] for v in times[c])
        cost[c] = t - base
        print(f"   {c:42s} {t * 1e3:7.3f} ms/step training thread "
              f"({100 * (t - base) / base:+6.1f}%), {proc * 1e3:7.3f} ms/step whole process")
    tb = 100 * cost[configs[3]] / base
    row("2. training overhead, watch (%)", 100 * cost[configs[1]] / base, tb, "{:+.1f}")
    row("2. ...watch(hist_every=10) (%)", 100 * cost[configs[2]] / base, tb, "{:+.1f}")




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="small sizes: checks it runs")
    ap.add_argument("--steps", type=int, default=1_000_000, help="the long run's steps")
    a = ap.parse_args()
    steps = 20_000 if a.smoke else a.steps
    values, log_rounds = (5_000, 1) if a.smoke else (100_000, 3)
    train_steps, train_rounds = (20, 2) if a.smoke else (300, 11)
    k, tb_cap, cap = (20, 20.0, 60.0) if a.smoke else (50, 130.0, 300.0)
    t_all = time.perf_counter()
    t = time.perf_counter()
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401 (TensorFlow is imported)

    import_s = time.perf_counter() - t
    work = tempfile.mkdtemp(prefix="gradwatch-side-")
    log = open(os.path.join(work, "servers.log"), "wb")  # noqa: SIM115
    try:
        entry = server_entry(work)
        load = os.getloadavg()[0]
        print(f"gradwatch beside TensorBoard (torch {torch.__version__}, tensorboard "
              f"{__import__('tensorboard').__version__}; {os.cpu_count()} CPUs, load average "
              f"{load:.1f}; torch.utils.tensorboard imported in {import_s:.1f} s)")
        t = time.perf_counter()
        proc, url = start_server(entry, os.path.join(work, "data"), log)
        try:
            wait_up(proc, url)
            print(f"gradwatch server: node {' '.join(NODE_FLAGS)}, {entry[2]}; on an empty "
                  f"data dir it answered /healthz after {time.perf_counter() - t:.2f} s")
            spool, tbdir = os.path.join(work, "spool"), os.path.join(work, "tbsmall")
            log_cost(url, spool, tbdir, values, log_rounds)
            overhead(url, spool, tbdir, train_steps, train_rounds)
            freshness(url, spool, tbdir, k, tb_cap)
        finally:
            stop(proc)
        million(entry, work, steps, log, cap)
    except BaseException:
        log.flush()
        with open(os.path.join(work, "servers.log"), "rb") as f:
            sys.stderr.write(f.read()[-4000:].decode(errors="replace"))
        raise
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    print("\n== pairs (ratio = TensorBoard / gradwatch: above 1, gradwatch is that many times"
          " faster or smaller)")
    print(f"   {'figure':44s} {'gradwatch':>12s} {'TensorBoard':>12s} {'ratio':>8s}")
    for fig, gw, tb, r in TABLE:
        print(f"   {fig:44s} {gw:>12s} {tb:>12s} {r:>8s}")
    print(f"\n(whole run {time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()

