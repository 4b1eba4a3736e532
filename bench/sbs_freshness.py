"""bench/side_by_side.py, figure 3: freshness. A value logged at RATE steps/s until it is
readable: through gradwatch's live WebSocket or its REST query polled every 5 ms, and through
TensorBoard's own reader with SummaryWriter's defaults."""

from __future__ import annotations

import inspect
import os
import statistics
import threading
import time
from typing import Callable

from freshness import pct, subscribe
from sbs_common import CHART, RATE, get_json, init, row

import gradwatch

Reader = Callable[[list[float], list[float], threading.Event, threading.Event], None]


def poller(last_step: Callable[[int], int], k: int) -> Reader:
    """A reader that asks for the newest readable step (from the first unseen) every 5 ms."""
    def read(logged: list[float], lat: list[float], ready: threading.Event,
             stop_ev: threading.Event) -> None:
        ready.set()
        seen = -1
        while not stop_ev.is_set() and seen < k - 1:
            try:
                s = last_step(seen + 1)
            except Exception:  # noqa: BLE001 (nothing readable yet)
                s = -1
            now = time.time()
            lat.extend((now - logged[i]) * 1000 for i in range(seen + 1, min(s, k - 1) + 1))
            seen = max(seen, s)
            time.sleep(0.005)
    return read


def sample(log: Callable[[int, float], None], read: Reader, k: int, cap: float) -> list[float]:
    """Logs at RATE (each value: the wall-clock time of its call) until `read`, in a thread,
    found the first k values readable, or for cap s; their latencies in ms."""
    lat: list[float] = []
    logged: list[float] = []
    ready, stop_ev = threading.Event(), threading.Event()
    th = threading.Thread(target=read, args=(logged, lat, ready, stop_ev), daemon=True)
    th.start()
    ready.wait(10)
    t0 = time.perf_counter()
    i = 0
    while len(lat) < k and time.perf_counter() < t0 + cap:
        while time.perf_counter() < t0 + i / RATE:
            time.sleep(0.001)
        logged.append(time.time())
        log(i, logged[-1])
        i += 1
    stop_ev.set()
    th.join(5)
    return lat[:k]


def freshness(url: str, spool: str, tbdir: str, k: int, tb_cap: float) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    res: dict[str, list[float]] = {}
    for how in ("live WebSocket", "REST poll 5 ms"):
        run_id = f"fresh-{how[:4].lower()}-{os.getpid()}"
        q = url + CHART.format(run_id) + "&from={}"

        def last(frm: int, q: str = q) -> int:  # from: the first step not seen yet
            b = get_json(q.format(frm), 1)["series"][0]["buckets"]
            return int(b[-1]["toStep"]) if b else -1

        def live(logged: list[float], lat: list[float], ready: threading.Event,
                 stop_ev: threading.Event, run_id: str = run_id) -> None:
            subscribe(url, run_id, lat, ready, stop_ev)
        run = init(url, spool, run_id)

        def log(i: int, t: float, run: gradwatch.Run = run) -> None:
            run.log(i, loss=t)
        res[how] = sample(log, live if how.startswith("live") else poller(last, k), k, 30)
        run.finish(timeout=30)

    defaults = inspect.signature(SummaryWriter.__init__).parameters
    logdir = os.path.join(tbdir, "fresh")
    w = SummaryWriter(logdir)
    acc = EventAccumulator(logdir, size_guidance={"scalars": 0})

    def tb_last(_frm: int) -> int:
        acc.Reload()
        return int(acc.Scalars("loss")[-1].step)
    res["TensorBoard reader"] = sample(lambda i, t: w.add_scalar("loss", t, i),
                                       poller(tb_last, k), k, tb_cap)
    w.close()
    print(f"\n== 3. freshness: {k} values logged at {RATE:.0f} steps/s -> readable (the loop "
          f"goes on logging until they are)")
    print(f"   TensorBoard: SummaryWriter defaults max_queue={defaults['max_queue'].default}, "
          f"flush_secs={defaults['flush_secs'].default}: values reach the file when its write "
          "buffer fills\n   (4 KiB here, ~95 scalar events) or flush_secs after the last "
          "flush; read by EventAccumulator.Reload() every 5 ms")
    for how, v in res.items():
        if len(v) < k:
            print(f"   {how:20s} only {len(v)} of {k} values readable within the wait's cap")
        if v:
            print(f"   {how:20s} p50 {statistics.median(v):8.1f} ms, p99 {pct(v, 99):8.1f} ms, "
                  f"max {max(v):8.1f} ms")
    tb = res["TensorBoard reader"] or [float("nan")]
    for how in ("live WebSocket", "REST poll 5 ms"):
        row(f"3. freshness {how}, p50 (ms)", statistics.median(res[how]),
            statistics.median(tb), "{:.1f}")
        row(f"3. freshness {how}, p99 (ms)", pct(res[how], 99), pct(tb, 99), "{:.1f}")
