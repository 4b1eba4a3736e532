"""Freshness: how long a logged value takes from `run.log()` in the training loop to a live
subscriber (what the dashboard draws), with the client's and the server's default settings.
Prints figures; never passes or fails on timing.

A real server is started for the purpose (SQLite, synchronous=FULL: each value is committed
before it is sent live). A training loop logs `loss` at a fixed rate; the value logged is the
wall-clock time of the call, so the subscriber's latency is its arrival time minus the value
(one machine, one clock). Each rate runs for --seconds.

    clients/python/.venv/bin/python bench/freshness.py [--rates 10,50,200] [--seconds 10]

FRESH_LINGER=0.001 (seconds) sets the client's `linger` instead of its default, to see what
the wait for more values of a step adds at slow rates.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

from tb_import import start_server  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

import gradwatch  # noqa: E402


def subscribe(url: str, run_id: str, latencies: list[float], ready: threading.Event,
              stop: threading.Event) -> None:
    with connect(url.replace("http", "ws", 1) + "/v1/live") as ws:
        ws.send(json.dumps({"type": "subscribe", "runs": [run_id], "series": ["loss"]}))
        ready.set()
        while not stop.is_set():
            try:
                raw = ws.recv(timeout=0.2)
            except TimeoutError:
                continue
            now = time.time()
            m = json.loads(raw)
            if m.get("type") == "points":
                for _step, sent in m["series"].get("loss", []):
                    if isinstance(sent, (int, float)):
                        latencies.append((now - sent) * 1000)


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def measure(url: str, rate: float, seconds: float, spool: str) -> None:
    run_id = f"fresh-{int(rate)}-{os.getpid()}"
    latencies: list[float] = []
    ready, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=subscribe, args=(url, run_id, latencies, ready, stop),
                         daemon=True)
    t.start()
    ready.wait(10)
    extra = {"linger": float(os.environ["FRESH_LINGER"])} if "FRESH_LINGER" in os.environ else {}
    run = gradwatch.init(url, project="bench", id=run_id, name=run_id, spool_dir=spool,
                         print_alerts=False, **extra)
    period = 1.0 / rate
    n = int(seconds * rate)
    t0 = time.perf_counter()
    for i in range(n):
        # the loop's own work until its next step
        while time.perf_counter() < t0 + i * period:
            time.sleep(min(0.001, max(0.0, t0 + i * period - time.perf_counter())))
        run.log(i, loss=time.time())
    run.finish(timeout=30)
    time.sleep(0.5)
    stop.set()
    t.join(5)
    if not latencies:
        print(f"{rate:>6.0f} steps/s: nothing arrived live")
        return
    print(f"{rate:>6.0f} steps/s: {len(latencies):>5} of {n} values live, "
          f"p50 {statistics.median(latencies):6.1f} ms, p90 {pct(latencies, 90):6.1f} ms, "
          f"p99 {pct(latencies, 99):6.1f} ms, max {max(latencies):6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="10,50,200", help="steps per second, comma-separated")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--smoke", action="store_true", help="one short rate: checks it runs")
    args = ap.parse_args()
    rates = [20.0] if args.smoke else [float(r) for r in args.rates.split(",")]
    seconds = 2.0 if args.smoke else args.seconds
    work = tempfile.mkdtemp(prefix="gradwatch-fresh-")
    proc, url = start_server(os.path.join(work, "data"))
    try:
        print("freshness: run.log() in the training loop -> live subscriber "
              "(default client and server settings; target p99 under 100 ms)")
        for r in rates:
            measure(url, r, seconds, os.path.join(work, "spool"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


if __name__ == "__main__":
    main()
