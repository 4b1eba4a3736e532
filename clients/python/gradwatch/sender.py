"""The background sender: one thread per run that batches, sequences, spools and delivers
messages over the ingest WebSocket, and hands alerts and commands back to the run.

Life of a message:
  training thread --(bounded queue put)--> sender thread
  sender: merge step items of the same step, cut `steps` messages sized to welcome.limits
          (and histograms into `hists` messages when the welcome offers them) (batching.py),
          assign the run's next `seq`, append to the on-disk spool (spool.py),
          keep it in the outbox (outbox.py)
  sender: send within a window, drop from the outbox on `ack`; on reconnect, re-send
          everything after `welcome.lastSeq` (connection.py), so nothing is lost and nothing
          duplicated.
This module holds the thread: the producer side the run calls, and the loop that drives the
other parts.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, Callable, Protocol

from ._encode import dumps
from ._warn import warn
from .batching import HistBatcher, StepBatcher
from .connection import DEFAULT_LIMITS, Connection
from .errors import GradwatchError
from .outbox import Outbox
from .overflow import Item, Overflow
from .spool import Spool

# How long the sender thread waits on the socket before it looks at the queue again: log()
# only appends (it never signals, to stay cheap), so this bounds what the queue adds to the
# time a value takes to reach the dashboard.
POLL_S = 0.01

# Deferred jobs queued and not computed yet, at most: each holds copies of a model's weights
# and gradients, so a sender that falls behind has the training thread compute them instead.
MAX_DEFERRED = 2


class Deferred(Protocol):
    """Work the sender does on its thread when it reaches it in the queue: watch()'s
    statistics of a reporting step (report.py), becoming that step's items."""

    def items(self) -> list[Item]: ...


class Sender(threading.Thread):
    """Delivers one run's messages. All network I/O happens on this thread."""

    def __init__(
        self,
        url: str,
        run_info: dict[str, Any],
        *,
        token: str | None = None,
        rewind_to: int | None = None,
        spool_dir: str,
        seq_known: bool,
        queue_size: int = 10000,
        linger: float = 0.05,
        memory_limit: int = 64 << 20,
        window: int = 256,
        connect_timeout: float = 5.0,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        on_welcome: Callable[[dict[str, Any]], None] | None = None,
        reuse_spool: bool = True,
    ) -> None:
        super().__init__(name="gradwatch-sender", daemon=True)
        # deque appends/pops are atomic: the training thread never takes a lock to log
        self.q: collections.deque[Item] = collections.deque()
        self.queue_size = queue_size
        self.linger = linger
        self.limits: dict[str, int] = dict(DEFAULT_LIMITS)

        # stopping
        self._stopping = False
        self._deadline = float("inf")
        self._wake = threading.Event()
        self.dropped = 0
        self._ended = False  # run() has returned: nothing put from now on is sent
        self._deferred = threading.BoundedSemaphore(MAX_DEFERRED)
        self._deferred_failed = False

        self.spool_dir = spool_dir
        self.spool = Spool(spool_dir)
        self.overflow = Overflow(os.path.join(spool_dir, "overflow.bin"))
        self.outbox = Outbox(self.spool, memory_limit,
                             restore=reuse_spool and rewind_to is None)
        self.hists = HistBatcher(self.limits, self.outbox.sequence)
        self.steps = StepBatcher(self.limits, self._sequence_steps)
        self.conn = Connection(
            url, run_info, self.outbox, self.limits, token=token, rewind_to=rewind_to,
            connect_timeout=connect_timeout, window=window, spool_dir=spool_dir,
            on_message=on_message, on_welcome=on_welcome)

    # ------------------------------------------------------------------ producer side
    def put(self, item: Item) -> None:
        """Queues an item without blocking: into memory while the queue has room, else into
        the overflow file (and every later item too, until the sender has caught up)."""
        q, ov = self.q, self.overflow
        if not ov.active and len(q) < self.queue_size:
            q.append(item)
            return
        with ov.lock:
            if ov.active or len(q) >= self.queue_size:
                # A burst puts every item here: a flag, not is_alive(), which costs a
                # microsecond a call.
                if self._ended:
                    self._lost(1)
                elif item[0] == "deferred":
                    for it in self._expand(item):
                        ov.put(it)
                else:
                    ov.put(item)
                return
        q.append(item)

    def reserve_deferred(self) -> bool:
        """Room for one more deferred job: the thread runs, the queue has room and fewer
        than MAX_DEFERRED jobs wait. The caller puts ("deferred", job) or releases."""
        if not self.is_alive() or self.overflow.active or len(self.q) >= self.queue_size:
            return False
        return self._deferred.acquire(blocking=False)

    def release_deferred(self) -> None:
        self._deferred.release()

    def stats_failed(self, step: int | None, exc: BaseException) -> None:
        """watch() could not compute a step's statistics: said once, the step goes without."""
        if not self._deferred_failed:
            self._deferred_failed = True
            warn(f"watch() statistics of step {step} could not be computed "
                 f"({type(exc).__name__}: {exc}); the step is sent without them")

    def _lost(self, n: int) -> None:
        self.dropped += n
        if self.dropped == n:
            warn("the sender thread has stopped; what is logged now is not sent")

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> None:
        conn = self.conn
        if not conn.connected_once and conn.warned_unreachable:
            timeout = min(timeout, 2.0)  # never reachable: do not hold the process at exit
        elif conn.ws is None and conn.warned_unreachable:
            timeout = min(timeout, 5.0)  # down right now: a few more tries, then spool
            conn.attempts = 0
            conn.next_attempt = 0.0
        self._deadline = time.monotonic() + timeout
        self._stopping = True
        conn.stopping = True
        self._wake.set()

    # ------------------------------------------------------------------ state
    @property
    def pending(self) -> int:
        return self.outbox.pending

    @property
    def connected(self) -> bool:
        return self.conn.ws is not None

    @property
    def acked(self) -> int:
        return self.outbox.acked

    @property
    def fatal(self) -> GradwatchError | None:
        return self.conn.fatal

    @property
    def rejected(self) -> dict[str, int]:
        return dict(self.conn.rejected)

    @property
    def welcomed(self) -> threading.Event:
        return self.conn.welcomed

    @property
    def last_welcome(self) -> dict[str, Any] | None:
        return self.conn.last_welcome

    @property
    def connected_once(self) -> bool:
        return self.conn.connected_once

    def undelivered(self) -> tuple[int, int | None, int | None]:
        """(count, first seq, last seq) of messages not acked."""
        live = self.outbox.live_seqs()
        steps = self.steps
        n = len(live) + len(self.outbox.unsequenced) + (1 if steps.tail is not None else 0) \
            + len(steps.closed) + len(self.hists.closed) + len(self.q) + self.overflow.pending
        return n, (live[0] if live else None), (live[-1] if live else None)

    # ------------------------------------------------------------------ main loop
    def _sequence_steps(self, kind: str, body: str) -> None:
        # Histograms queued before these steps go first: an interrupted import resumes after
        # the last stored step and counts on the histograms before it being stored too.
        self.hists.cut()
        self.outbox.sequence(kind, body)

    def _expand(self, item: Item) -> list[Item]:
        """A deferred job's items (computed now), any other item as it is."""
        if item[0] != "deferred":
            return [item]
        try:
            return item[1].items()  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - a failed report must not stop the run
            self.stats_failed(getattr(item[1], "step", None), exc)
            return []
        finally:
            self._deferred.release()

    def _handle(self, item: Item) -> None:
        kind = item[0]
        if kind == "deferred":
            for it in self._expand(item):
                self._handle(it)
        elif kind in ("log", "report"):
            _, step, scalars, epoch, examples, layers, inputs, t = item
            self.steps.add(step, scalars, epoch, examples, layers, inputs, t,
                           defaults=kind == "report")
        elif kind == "msg":
            body = item[1]
            if body.get("type") == "hist" and self.conn.hists:
                # Sequenced as one `hists` when cut. Should a reconnect find a server older than
                # the feature, one already cut is refused (unknown_type) again at every send.
                self.hists.add(body)
                return
            if body.get("type") == "end":
                self.steps.close_tail()
                self.steps.cut()
            self.hists.cut()
            self.outbox.sequence(body["type"], dumps(body))
        elif kind == "config":
            self.conn.run_info.setdefault("config", {}).update(item[1])
            self.conn.rehello()
        elif kind == "flush":
            self.steps.close_tail()
            self.steps.cut()
            self.hists.cut()
            if self.conn.fatal is not None:
                item[1].set()  # nothing will be acked any more: do not keep the caller
            else:
                self.outbox.add_flush_waiter(item[1])

    def _drain(self, wait: float) -> None:
        q, ov = self.q, self.overflow
        if not q and not ov.active and wait > 0:
            self._wake.wait(wait)
            self._wake.clear()
        pop = q.popleft
        for _ in range(100000):
            try:
                item = pop()
            except IndexError:
                break
            self._handle(item)
        # The queue's items are older than the overflow's: take from it only when the queue
        # is empty (a producer that found room in the queue did so before it used the
        # overflow, so what it queued is seen here first).
        if ov.active and not q:
            for item in ov.take():
                self._handle(item)
            ov.try_close(lambda: not q)

    def _spool_rest(self) -> None:
        """Sequences whatever is still queued, so that it stays in the spool for a resume."""
        while self.q or self.overflow.active:
            self._drain(0)
        self.steps.close_tail()
        self.steps.cut()
        self.hists.cut()
        self.spool.flush()

    def _idle(self) -> bool:
        return (not self.q and not self.overflow.active and self.steps.tail is None
                and not self.steps.closed and not self.hists.closed and self.outbox.settled())

    def run(self) -> None:
        conn, ob, steps = self.conn, self.outbox, self.steps
        try:
            while True:
                connected = conn.ws is not None
                busy = connected and ob.entries and ob.sent_upto < ob.entries[-1].seq
                self._drain(0 if (connected or busy) else POLL_S)
                now = time.monotonic()
                if steps.tail is not None and (
                        self._stopping or now - steps.tail_touched >= self.linger):
                    steps.close_tail()
                # Adaptive batching: with nothing in flight the closed items go out at once;
                # while the server is still acking, they wait for the acks (or `linger`), so
                # a busy run sends few large messages and an idle one has no added delay.
                if steps.closed and (self._stopping or (conn.ws is not None and not ob.entries)
                                     or now - steps.closed_since >= self.linger):
                    steps.cut()
                hists = self.hists
                if hists.closed and (self._stopping or (conn.ws is not None and not ob.entries)
                                     or now - hists.closed_since >= self.linger):
                    hists.cut()
                self.spool.flush()
                ob.notify_flush()
                if self._stopping and (self._idle() or time.monotonic() >= self._deadline
                                       or conn.fatal is not None):
                    self._spool_rest()
                    break
                if conn.fatal is not None:
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                if conn.ws is None:
                    now = time.monotonic()
                    if now >= conn.next_attempt:
                        conn.connect()
                    else:
                        self._wake.wait(min(0.05, conn.next_attempt - now))
                        self._wake.clear()
                    continue
                wait = POLL_S
                if self.q or self.overflow.active:
                    wait = 0.0  # items are waiting: only poll the socket
                if steps.tail is not None:
                    wait = min(wait, steps.tail_touched + self.linger - now)
                if steps.closed:
                    wait = min(wait, steps.closed_since + self.linger - now)
                if self.hists.closed:
                    wait = min(wait, self.hists.closed_since + self.linger - now)
                conn.pump(max(0.0, wait))
        except Exception as exc:  # noqa: BLE001 - never crash the training process
            warn(f"sender stopped on an internal error: {type(exc).__name__}: {exc}")
        finally:
            self._ended = True
            conn.close()
            self.overflow.close()
            ob.release_waiters()
            clean = self._idle()
            self.spool.close(remove=clean)
