"""The importer's handle on a Run: step items with their own wall time and layer stats,
`hist` and `model` messages, and back-pressure instead of the training-time policy.

A training loop must never wait on gradwatch, so `Run.log` drops values when the send queue
is full; an import must never drop anything, so here the producer waits for the sender
instead. The Run offers no public call for layer stats, histograms, the model or a step's
time, so this module is the one place that uses the Run's sender directly."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..run import Run


class SendFailed(RuntimeError):
    pass


class Emitter:
    def __init__(self, run: Run, max_queued: int = 20000) -> None:
        sender = run._sender
        if sender is None:
            raise SendFailed("the run is disabled")
        self.run = run
        self._sender = sender
        # JSON text frames, not MessagePack: an import is bound by this process' one core (the
        # GIL) while the server has the other, and JSON spares the text-to-MessagePack
        # conversion here for a little more parsing there. Read on the sender thread at its
        # next send and at each welcome.
        sender.conn.offer_msgpack = False
        sender.conn.binary = False
        self._q = sender.q
        self._max = max_queued
        self.steps = 0
        self.hists = 0
        self.evals = 0

    def _wait(self) -> None:
        q, sender = self._q, self._sender
        if len(q) < self._max:
            return
        sender.wake()
        while len(q) >= self._max:
            if sender.fatal is not None:
                raise SendFailed(sender.fatal)
            if not sender.is_alive():
                raise SendFailed("the sender thread stopped")
            time.sleep(0.002)

    def step(self, step: int, t: float, scalars: dict[str, float],
             layers: dict[str, dict[str, dict[str, float]]] | None) -> None:
        self._wait()
        self._sender.put(("log", step, scalars, None, None, layers or None, None, t))
        self.steps += 1

    def message(self, msg: dict[str, Any]) -> None:
        self._wait()
        if msg.get("type") == "eval":
            # The sender sequences a message at once but holds step items to batch them, so
            # an eval would reach the rules before the training steps logged before it;
            # a flush cuts the pending steps into a message first.
            self._sender.put(("flush", threading.Event()))
        self._sender.put(("msg", msg))
        kind = msg.get("type")
        if kind == "hist":
            self.hists += 1
        elif kind == "eval":
            self.evals += 1

    @property
    def acked(self) -> int:
        return self._sender.acked

    @property
    def fatal(self) -> str | None:
        err = self._sender.fatal
        return None if err is None else str(err)
