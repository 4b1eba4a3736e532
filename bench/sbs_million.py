"""bench/side_by_side.py, figures 4.-6.: a long one-scalar run (a float32 loss) logged into
gradwatch and into a TensorBoard event file; ingest time, bytes on disk per value, then a fresh server on the stored
data to the first answer of the chart's query, and the warm query."""

from __future__ import annotations

import math
import os
from array import array
import statistics
import subprocess
import time
import urllib.error
from typing import IO, Any, Callable

from sbs_common import (
    CHART,
    TB_BIN,
    cpu_of,
    dir_bytes,
    free_port,
    get_json,
    init,
    row,
    start_server,
    stop,
    wait_up,
)


def cold_chart(start: Callable[[], tuple[subprocess.Popen[bytes], str]], steps: int,
               points: Callable[[Any], list[Any]], step: Callable[[Any], int],
               cap: float) -> tuple[str, float, float]:
    """Starts a server on stored data and polls its chart query every 20 ms: (what it took,
    seconds to the answer holding the last step, the warm query's median of 20 in ms)."""
    up, first, full, first_last, n = math.nan, math.nan, math.nan, -1, 0
    t0 = time.perf_counter()
    proc, url = start()
    try:
        while time.perf_counter() < t0 + cap and math.isnan(full):
            try:
                pts = points(get_json(url, 30))
                last = step(pts[-1]) if pts else -1
            except (urllib.error.HTTPError, ValueError, IndexError, KeyError):
                last = -1  # an answer, without the data yet
            except OSError:
                last = -2  # not listening yet
            now = time.perf_counter() - t0
            if last >= -1 and math.isnan(up):
                up = now
            if last >= 0 and first_last < 0:
                first, first_last = now, last
            if last >= steps - 1:
                full, n = now, len(pts)
            time.sleep(0.02)
        ts = []
        for _ in range(20):
            t = time.perf_counter()
            get_json(url, 30)
            ts.append(time.perf_counter() - t)
    finally:
        stop(proc)
    ms = statistics.median(ts) * 1000
    return (f"listening {up:.2f} s, first answer with points {first:.2f} s (last step "
            f"{first_last:,}), holding step {steps - 1:,} at {full:.2f} s ({n:,} points); "
            f"warm {ms:.1f} ms"), full, ms


def million(entry: tuple[list[str], str, str], work: str, steps: int, log: IO[bytes],
            cap: float) -> None:
    from torch.utils.tensorboard import SummaryWriter

    # A training loss is a float32 tensor's .item(): float32 values, as Python floats.
    losses = array("f", (2.0 / (1 + s * 1e-4) for s in range(steps)))
    data = os.path.join(work, "million")
    proc, url = start_server(entry, data, log)
    wait_up(proc, url)
    run = init(url, os.path.join(work, "spool"), "million")
    t0, c0, s0 = time.perf_counter(), time.process_time(), cpu_of(proc.pid)
    for s in range(steps):
        run.log(s, loss=losses[s])
    gw_loop = time.perf_counter() - t0
    left = run.finish(timeout=900)
    gw_ingest = time.perf_counter() - t0
    gw_cpu, srv_cpu = time.process_time() - c0, cpu_of(proc.pid) - s0
    stop(proc)
    gw_bytes = dir_bytes(data)
    files = ", ".join(f"{f} {os.path.getsize(os.path.join(data, f)):,}"
                      for f in sorted(os.listdir(data)))

    def gw_start() -> tuple[subprocess.Popen[bytes], str]:
        proc, url = start_server(entry, data, log)
        return proc, url + CHART.format("million")
    gw_cold, gw_full, gw_warm = cold_chart(gw_start, steps, lambda a: a["series"][0]["buckets"],
                                           lambda b: b["toStep"], cap)

    logdir = os.path.join(work, "tb", "big")
    w = SummaryWriter(logdir)
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(steps):
        w.add_scalar("loss", losses[s], s)
    tb_loop = time.perf_counter() - t0
    w.close()
    tb_ingest, tb_cpu = time.perf_counter() - t0, time.process_time() - c0
    tb_bytes = dir_bytes(logdir)

    def tb_start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        proc = subprocess.Popen([TB_BIN, "--logdir", os.path.dirname(logdir), "--port",
                                 str(port), "--host", "127.0.0.1"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        return proc, f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=big&tag=loss"
    tb_cold, tb_full, tb_warm = cold_chart(tb_start, steps, lambda a: a, lambda p: p[1], cap)
    try:
        import tensorboard_data_server  # noqa: F401
        loader = "tensorboard-data-server (Rust, load_fast=auto)"
    except ImportError:
        loader = "the Python loader"

    print(f"\n== 4.-6. a {steps:,}-step one-scalar run")
    print(f"   6. ingest: gradwatch run.log loop {gw_loop:.2f} s, all acknowledged "
          f"{gw_ingest:.2f} s ({left} undelivered; CPU: training process {gw_cpu:.1f} s, "
          f"server {srv_cpu:.1f} s);\n      TensorBoard add_scalar loop {tb_loop:.2f} s, "
          f"closed {tb_ingest:.2f} s (CPU: training process {tb_cpu:.1f} s)")
    print(f"   5. on disk: gradwatch {gw_bytes:,} B ({files}) = {gw_bytes / steps:.1f} B/value;"
          f" TensorBoard event file {tb_bytes:,} B = {tb_bytes / steps:.1f} B/value")
    print(f"   4. fresh server process -> the chart's query\n      gradwatch"
          f": {gw_cold}\n      TensorBoard ({loader}): {tb_cold}")
    row("4. fresh start -> chart with last step (s)", gw_full, tb_full, "{:.2f}")
    row("4. warm chart query (ms)", gw_warm, tb_warm, "{:.1f}")
    row("5. bytes on disk per value", gw_bytes / steps, tb_bytes / steps, "{:.1f}")
    row(f"6. ingest {steps:,} steps (s)", gw_ingest, tb_ingest, "{:.2f}")
