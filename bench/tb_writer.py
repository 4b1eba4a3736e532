"""The drop-in writer's cost per add_scalar beside TensorBoard's own: prints figures, never
passes or fails on timing.

The same loop (3 scalars a step, like loss/lr/accuracy) runs through torch's SummaryWriter,
gradwatch.tensorboard.SummaryWriter, and the drop-in with tee=True (both), in interleaved
rounds; the median cost per add_scalar on the training thread is printed, with the time
until everything was written (TensorBoard: flushed to disk; gradwatch: acknowledged).
gradwatch talks to an ack-everything sink in a subprocess (bench/client_overhead.py's), so
the figure is the client's own cost; --url points it at a real server instead.

    clients/python/.venv/bin/python bench/tb_writer.py [--steps 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

from client_overhead import start_sink  # noqa: E402

TAGS = ("Loss/train", "lr", "Accuracy/train")


def loop(w: object, steps: int) -> float:
    add = w.add_scalar  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for s in range(steps):
        add(TAGS[0], 2.0 / (1 + s), s)
        add(TAGS[1], 1e-3, s)
        add(TAGS[2], s / steps, s)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    sink = None
    url = args.url
    if url is None:
        sink, url = start_sink()
    from torch.utils.tensorboard import SummaryWriter as Torch

    from gradwatch.tensorboard import SummaryWriter as Drop

    work = tempfile.mkdtemp(prefix="gradwatch-tbw-")
    spool = os.path.join(work, "spool")

    def torch_writer(i: int) -> object:
        return Torch(os.path.join(work, f"tb{i}"))

    def dropin(i: int) -> object:
        return Drop(os.path.join(work, f"gw{i}"), url=url, project="bench", spool_dir=spool,
                    print_alerts=False, queue_size=4 * args.steps + 10)

    def tee(i: int) -> object:
        return Drop(os.path.join(work, f"tee{i}"), tee=True, url=url, project="bench",
                    spool_dir=spool, print_alerts=False, queue_size=4 * args.steps + 10)

    configs: Dict[str, Callable[[int], object]] = {
        "torch.utils.tensorboard.SummaryWriter": torch_writer,
        "gradwatch.tensorboard.SummaryWriter": dropin,
        "gradwatch drop-in, tee=True": tee}
    per: Dict[str, List[float]] = {k: [] for k in configs}
    done: Dict[str, List[float]] = {k: [] for k in configs}
    n = args.steps * len(TAGS)
    try:
        for r in range(args.rounds):
            for label, make in configs.items():
                w = make(r)
                t0 = time.perf_counter()
                t = loop(w, args.steps)
                w.close()  # type: ignore[attr-defined]
                per[label].append(t / n)
                done[label].append(time.perf_counter() - t0)
    finally:
        if sink is not None:
            sink.kill()
    print(f"add_scalar cost on the training thread, {args.steps} steps x {len(TAGS)} tags, "
          f"median of {args.rounds} rounds ({'sink' if args.url is None else args.url})")
    rows: List[Tuple[str, float, float]] = [
        (k, statistics.median(per[k]), statistics.median(done[k])) for k in configs]
    for label, p, d in rows:
        print(f"  {label:40s} {p * 1e6:7.2f} us/call   (all written/acked after {d:.2f} s)")
    base = rows[0][1]
    print(f"  drop-in / TensorBoard: {rows[1][1] / base:.2f}x; tee / TensorBoard: "
          f"{rows[2][1] / base:.2f}x")


if __name__ == "__main__":
    main()
