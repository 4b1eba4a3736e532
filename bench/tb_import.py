"""TensorBoard import throughput: prints figures, never passes or fails on timing.

Writes one run folder holding a 1,000,000-step scalar tag ("loss") and 50 layers of weight
histograms every 100 steps (500,000 histograms, 30 buckets each), then imports it into a
real server started for the purpose, and prints: the file's size, the time to read it alone
(tensorboard's reader, which checksum), and the time of the whole import until the server
acknowledged everything.

The server is started with GRADWATCH_MAX_MESSAGES_PER_SECOND raised: every histogram is one
message, and at the default of 1,000 messages a second the 500,000 histograms alone take
500 s (their per-layer stats travel inside the steps messages and are not limited that way).

    clients/python/.venv/bin/python bench/tb_import.py [--steps 1000000] [--layers 50]
        [--send-hist-every N]   (the importer's --hist-every: histograms of every Nth step)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

from gradwatch.importers.tb_reader import EventReader  # noqa: E402
from gradwatch.importers.tensorboard import import_logdir  # noqa: E402


def write_logs(folder: str, steps: int, layers: int, hist_every: int) -> int:
    """The event file, written with tensorboard's own record writer and protos."""
    import numpy as np
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
    from tensorboard.summary.writer import record_writer

    try:  # the generator's speed only: the same checksum, computed in C
        import google_crc32c

        def masked(data: bytes) -> int:
            x = google_crc32c.value(bytes(data))
            return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF

        record_writer.masked_crc32c = masked
    except ImportError:
        pass
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"events.out.tfevents.{int(time.time())}.bench.0")
    rng = np.random.default_rng(0)
    limits = np.linspace(-0.3, 0.3, 31).tolist()
    hists = []
    for _ in range(layers):
        counts = [0.0] + rng.integers(0, 500, 30).astype(float).tolist()
        n = sum(counts)
        hists.append(HistogramProto(min=-0.29, max=0.29, num=n, sum=0.01 * n,
                                    sum_squares=0.02 * n, bucket_limit=limits, bucket=counts))
    t0 = 1.8e9
    with open(path, "wb") as f:
        w = record_writer.RecordWriter(f)
        for s in range(steps):
            ev = Event(step=s, wall_time=t0 + s * 0.01)
            ev.summary.value.add(tag="loss", simple_value=2.0 / (1 + s * 1e-4))
            w.write(ev.SerializeToString())
            if s % hist_every == 0:
                for i, h in enumerate(hists):
                    hv = Event(step=s, wall_time=t0 + s * 0.01,
                               summary=Summary(value=[Summary.Value(tag=f"layer{i}.weight",
                                                                    histo=h)]))
                    w.write(hv.SerializeToString())
    return os.path.getsize(path)


def start_server(data_dir: str) -> "tuple[subprocess.Popen, str]":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADWATCH_PORT=str(port), GRADWATCH_HOST="127.0.0.1",
               GRADWATCH_DATA_DIR=data_dir, GRADWATCH_LOG_LEVEL="warn",
               GRADWATCH_MAX_MESSAGES_PER_SECOND="1000000")
    proc = subprocess.Popen([shutil.which("npx") or "npx", "tsx", "server/src/server.ts"],
                            cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("the server did not start")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of one process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state; pgrp is the third
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--hist-every", type=int, default=100)
    ap.add_argument("--send-hist-every", type=int, default=1)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gradwatch-tb-bench-")
    try:
        from tensorboard.compat import tf

        reader = "TensorFlow's" if tf.__version__ != "stub" else "tensorboard's pure-Python"
        try:
            import google_crc32c  # noqa: F401
            crc = "google-crc32c"
        except ImportError:
            crc = "pure Python"
        t = time.perf_counter()
        size = write_logs(os.path.join(work, "logs", "big"), args.steps, args.layers,
                          args.hist_every)
        n_hist = (args.steps + args.hist_every - 1) // args.hist_every * args.layers
        print(f"wrote {args.steps:,} scalar steps + {n_hist:,} histograms "
              f"({size / 1e6:,.0f} MB) in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        n = 0
        for path in sorted(os.listdir(os.path.join(work, "logs", "big"))):
            for _ in EventReader(os.path.join(work, "logs", "big", path)):
                n += 1
        read_s = time.perf_counter() - t
        print(f"read only: {n:,} values in {read_s:.1f} s ({reader} reader, checksums: {crc})")

        proc, url = start_server(os.path.join(work, "data"))
        try:
            t, cpu, server_cpu = time.perf_counter(), time.process_time(), group_cpu(proc.pid)
            res = import_logdir(os.path.join(work, "logs"), url, "bench", quiet=True,
                                hist_every=args.send_hist_every)
            total = time.perf_counter() - t
            cpu = time.process_time() - cpu
            server_cpu = group_cpu(proc.pid) - server_cpu
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        r = res[0]
        print(f"import (--hist-every {args.send_hist_every}): {r.steps:,} steps, "
              f"{r.hists:,} histograms in {total:.1f} s "
              f"({size / 1e6 / total:.1f} MB/s, {(r.steps + r.hists) / total:,.0f} "
              f"records/s) -> {r.outcome}; target: under 60 s")
        print(f"CPU during the import: importer {cpu:.1f} s, server {server_cpu:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
