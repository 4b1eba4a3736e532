"""Python client overhead: prints figures, never passes or fails on timing.

1. watch() overhead per training step at every=1, 10 and 100 for an MLP and a small CNN
   (CPU; and CUDA when available), against the same loop without gradwatch. Configurations
   are interleaved round by round and the median per-step time is kept, so drifting machine
   load hits every configuration alike.
2. Cost per logged value of run.log() on the training thread, beside TensorBoard's
   SummaryWriter.add_scalar on the same loop (and the wall time until the server acked all).

By default the client talks to a minimal ack-everything WebSocket sink in a subprocess (so
the sink's CPU is not billed to the training process); --url points it at a real server.

    clients/python/.venv/bin/python bench/client_overhead.py [--smoke] [--url http://...]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import gradwatch  # noqa: E402

SINK = textwrap.dedent("""
    import asyncio, json, sys
    from websockets.asyncio.server import serve
    LIMITS = {"maxFrameBytes": 4194304, "maxLayers": 1000, "maxSeriesPerRun": 50000,
              "maxItemsPerMessage": 1000, "maxMessagesPerSecond": 100000,
              "maxStringLength": 200}
    async def handler(ws):
        hello = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "welcome", "protocol": 1,
                                  "runId": hello["run"]["id"], "lastSeq": 0,
                                  "limits": LIMITS}))
        async for raw in ws:
            i = raw.index(",")
            await ws.send('{"type":"ack","seq":%s}' % raw[7:i])
    async def main():
        async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=None):
            print("ready", flush=True)
            await asyncio.Future()
    asyncio.run(main())
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink() -> Tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, f"ws://127.0.0.1:{port}"


# ---------------------------------------------------------------------------- models
def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


MODELS: Dict[str, Tuple[Callable[[], nn.Module], Tuple[int, ...]]] = {
    "MLP 64-256-256-10, batch 128": (mlp, (128, 64)),
    "CNN conv16-conv32 (BN) 8x8, batch 128": (cnn, (128, 1, 8, 8)),
}


METRICS = (("wall", time.perf_counter), ("cpu", time.process_time),
           ("train-thread cpu", time.thread_time))


def overhead(url: str, device: str, steps: int, rounds: int, spool: str) -> None:
    print(f"\n== watch() overhead per training step on {device} "
          f"({torch.get_num_threads()} intra-op threads; median of {rounds} interleaved rounds "
          f"of {steps} steps)")
    print("   wall: elapsed time; cpu: CPU time of the whole process (training thread + the "
          "sender thread);\n   train-thread cpu: CPU time of the training thread alone. On a "
          "shared machine the CPU figures\n   are the stable ones; wall time also carries "
          "other processes' load.")
    print(f"{'model':40s} {'metric':17s} {'baseline':>10s} {'every=1':>17s} {'every=10':>17s} "
          f"{'every=100':>17s}")
    for label, (make, shape) in MODELS.items():
        torch.manual_seed(0)
        x = torch.randn(*shape, device=device)
        y = torch.randint(0, 10, (shape[0],), device=device)
        crit = nn.CrossEntropyLoss()
        configs = [None, 1, 10, 100]
        setups = {}
        for every in configs:
            model = make().to(device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            run = None
            if every is not None:
                run = gradwatch.init(url, project="bench", name=f"overhead {every}",
                                     spool_dir=spool, print_alerts=False)
                run.watch(model, opt, crit, every=every)
            setups[every] = (model, opt, run, [0])
        times: Dict[object, List[Tuple[float, ...]]] = {e: [] for e in configs}

        def loop(every: object, n: int) -> Tuple[float, ...]:
            model, opt, run, counter = setups[every]
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = [f() for _, f in METRICS]
            for _ in range(n):
                opt.zero_grad(set_to_none=True)
                loss = crit(model(x), y)
                loss.backward()
                opt.step()
                lv = loss.item()
                if run is not None:
                    run.log(counter[0], loss=lv)
                counter[0] += 1
            if device == "cuda":
                torch.cuda.synchronize()
            return tuple((f() - t) / n for (_, f), t in zip(METRICS, t0))

        for every in configs:  # warm-up (includes the first forward's model discovery)
            loop(every, max(5, steps // 5))
        for r in range(rounds):
            order = configs if r % 2 == 0 else list(reversed(configs))
            for every in order:
                times[every].append(loop(every, steps))
        for mi, (mname, _) in enumerate(METRICS):
            base = statistics.median(t[mi] for t in times[None])
            cells = []
            for every in configs[1:]:
                t = statistics.median(v[mi] for v in times[every])
                cells.append(f"{t * 1e3:7.3f} ms {100 * (t - base) / base:+6.1f}%")
            name = label if mi == 0 else ""
            print(f"{name:40s} {mname:17s} {base * 1e3:7.3f} ms "
                  + " ".join(f"{c:>17s}" for c in cells))
        for every in configs[1:]:
            run = setups[every][2]
            run.finish(timeout=30)


def log_cost(url: str, n: int, spool: str) -> None:
    print(f"\n== cost per logged value on the training thread ({n} steps)")
    rows = []
    for nvals in (1, 10):
        names = [f"m{i}" for i in range(nvals)]
        run = gradwatch.init(url, project="bench", name=f"log cost {nvals}", spool_dir=spool,
                             print_alerts=False, queue_size=max(10000, n + 10))
        vals = {k: 0.5 for k in names}
        t0 = time.perf_counter()
        for s in range(n):
            vals[names[0]] = s * 1e-3
            run.log(s, **vals)
        t_loop = time.perf_counter() - t0
        run.flush(120)
        t_acked = time.perf_counter() - t0
        run.finish(timeout=30)
        rows.append((f"gradwatch run.log, {nvals} value(s)/call", t_loop / (n * nvals),
                     f"all acked after {t_acked:.2f} s"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception as exc:  # noqa: BLE001
        print(f"(TensorBoard unavailable: {exc})")
    else:
        with tempfile.TemporaryDirectory() as d:
            w = SummaryWriter(d)
            t0 = time.perf_counter()
            for s in range(n):
                w.add_scalar("loss", s * 1e-3, s)
            t_loop = time.perf_counter() - t0
            w.flush()
            t_all = time.perf_counter() - t0
            w.close()
        rows.append(("TensorBoard SummaryWriter.add_scalar", t_loop / n,
                     f"flushed after {t_all:.2f} s"))
    for label, per, note in rows:
        print(f"{label:44s} {per * 1e6:8.2f} us/value   ({note})")
    if len(rows) == 3:
        print(f"ratio add_scalar / run.log (1 value): {rows[2][1] / rows[0][1]:.1f}x; "
              f"(10 values/call): {rows[2][1] / rows[1][1]:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny counts: checks it runs")
    ap.add_argument("--url", help="a real gradwatch server instead of the in-process sink")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (default: torch's own choice)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--log-calls", type=int, default=100000)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    steps, rounds, calls = (a.steps, a.rounds, a.log_calls)
    if a.smoke:
        steps, rounds, calls = 20, 2, 2000
    sink = None
    url = a.url
    if not url:
        sink, url = start_sink()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"gradwatch client overhead (torch {torch.__version__}, python "
          f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load[0]:.1f}, "
          f"server: {a.url or 'local sink'})")
    try:
        with tempfile.TemporaryDirectory() as spool:
            overhead(url, "cpu", steps, rounds, spool)
            if torch.cuda.is_available():
                overhead(url, "cuda", steps, rounds, spool)
            log_cost(url, calls, spool)
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait(10)


if __name__ == "__main__":
    main()
