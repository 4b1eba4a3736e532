"""The background sender: one thread per run that batches, sequences, spools and delivers
messages over the ingest WebSocket, and hands alerts and commands back to the run.

Life of a message:
  training thread --(bounded queue put)--> sender thread
  sender: merge step items of the same step, cut `steps` messages sized to welcome.limits,
          assign the run's next `seq`, append to the on-disk spool, keep it in the outbox
  sender: send within a window, drop from the outbox on `ack`; on reconnect, re-send
          everything after `welcome.lastSeq` (so nothing is lost and nothing duplicated).
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import sys
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ._encode import dumps

try:  # the only runtime dependency
    from websockets.exceptions import ConnectionClosed, InvalidHandshake
    from websockets.sync.client import connect as _ws_connect
except ImportError:  # pragma: no cover - declared dependency
    _ws_connect = None  # type: ignore[assignment]
    ConnectionClosed = OSError  # type: ignore[misc,assignment]
    InvalidHandshake = OSError  # type: ignore[misc,assignment]

import json

PROTOCOL = 1

# Used until the server's welcome says otherwise; conservative so a batch cut before the
# first welcome is still accepted by a server with smaller limits.
DEFAULT_LIMITS: Dict[str, int] = {
    "maxFrameBytes": 1 << 20,
    "maxLayers": 1000,
    "maxSeriesPerRun": 50000,
    "maxItemsPerMessage": 500,
    "maxMessagesPerSecond": 1000,
    "maxStringLength": 200,
}

_FATAL_CODES = {"unauthorized", "forbidden", "protocol", "replaced"}


def _warn(msg: str) -> None:
    print(f"gradwatch: {msg}", file=sys.stderr, flush=True)


class _Entry:
    """One sequenced message of the outbox (sent or not, not yet acked)."""

    __slots__ = ("seq", "text", "seg", "offset", "length", "consumed", "kind")

    def __init__(self, seq: int, text: Optional[str], seg: int, offset: int, length: int,
                 kind: str) -> None:
        self.seq = seq
        self.text = text
        self.seg = seg
        self.offset = offset
        self.length = length
        self.consumed = False
        self.kind = kind


def _with_seq(seq: int, body: str) -> str:
    # body is a JSON object without seq: '{"type":...}'
    return '{"seq":%d,%s' % (seq, body[1:])


def _seq_of(text: str) -> int:
    # texts always start with '{"seq":N,'
    return int(text[7:text.index(",", 7)])


def _kind_of(text: str) -> str:
    i = text.find('"type":"')
    if i < 0:
        return "?"
    j = text.index('"', i + 8)
    return text[i + 8:j]


class Spool:
    """Append-only segment files holding every sequenced message until it is acked.

    The files are flushed to the OS after every write batch, so they survive a crash of the
    training process (not a power loss); a new process resuming the run re-sends them."""

    SEGMENT_BYTES = 8 << 20

    def __init__(self, directory: str) -> None:
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.seg = 0
        self.fh: Optional[Any] = None
        self.size = 0
        self.seg_max_seq: Dict[int, int] = {}
        existing = self._segments()
        self.seg = (existing[-1] + 1) if existing else 1
        self._dirty = False

    def _segments(self) -> List[int]:
        out = []
        for name in os.listdir(self.dir):
            if name.startswith("seg-") and name.endswith(".jsonl"):
                try:
                    out.append(int(name[4:-6]))
                except ValueError:
                    pass
        return sorted(out)

    def _path(self, seg: int) -> str:
        return os.path.join(self.dir, "seg-%06d.jsonl" % seg)

    def load(self) -> List[Tuple[int, str]]:
        """Messages left by an earlier process (seq, text), in seq order, deduplicated."""
        found: Dict[int, str] = {}
        for seg in self._segments():
            try:
                with open(self._path(seg), "r", encoding="utf-8") as fh:
                    for line in fh:
                        if not line.endswith("\n"):
                            break  # torn last line of a crashed writer
                        text = line[:-1]
                        try:
                            found[_seq_of(text)] = text
                        except ValueError:
                            continue
            except OSError:
                continue
        return sorted(found.items())

    def discard_old(self) -> None:
        for seg in self._segments():
            if seg < self.seg:
                try:
                    os.remove(self._path(seg))
                except OSError:
                    pass

    def append(self, seq: int, text: str) -> Tuple[int, int, int]:
        if self.fh is None or self.size >= self.SEGMENT_BYTES:
            if self.fh is not None:
                self.fh.flush()
                self.fh.close()
                self.seg += 1
            self.fh = open(self._path(self.seg), "ab")
            self.size = self.fh.tell()
        data = text.encode("utf-8") + b"\n"
        offset = self.size
        self.fh.write(data)
        self.size += len(data)
        self.seg_max_seq[self.seg] = seq
        self._dirty = True
        return self.seg, offset, len(data) - 1

    def flush(self) -> None:
        if self._dirty and self.fh is not None:
            self.fh.flush()
            self._dirty = False

    def read(self, seg: int, offset: int, length: int) -> str:
        self.flush()
        with open(self._path(seg), "rb") as fh:
            fh.seek(offset)
            return fh.read(length).decode("utf-8")

    def release(self, acked: int) -> None:
        """Deletes closed segments whose messages are all acked."""
        for seg, mx in list(self.seg_max_seq.items()):
            if seg != self.seg and mx <= acked:
                try:
                    os.remove(self._path(seg))
                except OSError:
                    pass
                del self.seg_max_seq[seg]

    def close(self, remove: bool) -> None:
        if self.fh is not None:
            self.fh.flush()
            self.fh.close()
            self.fh = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


class Sender(threading.Thread):
    """Delivers one run's messages. All network I/O happens on this thread."""

    def __init__(
        self,
        url: str,
        run_info: Dict[str, Any],
        *,
        token: Optional[str] = None,
        rewind_to: Optional[int] = None,
        spool_dir: str,
        seq_known: bool,
        queue_size: int = 10000,
        linger: float = 0.05,
        memory_limit: int = 64 << 20,
        window: int = 256,
        connect_timeout: float = 5.0,
        on_message: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_welcome: Optional[Callable[[Dict[str, Any]], None]] = None,
        reuse_spool: bool = True,
    ) -> None:
        super().__init__(name="gradwatch-sender", daemon=True)
        self.url = url
        self.run_info = run_info
        self.token = token
        self.rewind_to = rewind_to
        # deque appends/pops are atomic: the training thread never takes a lock to log
        self.q: Deque[tuple] = collections.deque()
        self.queue_size = queue_size
        self.linger = linger
        self.memory_limit = memory_limit
        self.window = window
        self.connect_timeout = connect_timeout
        self.on_message = on_message
        self.on_welcome = on_welcome
        self.limits: Dict[str, int] = dict(DEFAULT_LIMITS)

        # step items being built
        self._closed: List[str] = []
        self._closed_bytes = 0
        self._closed_since = 0.0
        self._tail: Optional[Dict[str, Any]] = None
        self._tail_touched = 0.0
        self._last_closed_step = -1
        self._late_warned = False

        # sequencing
        # Seqs are assigned at once. Until the first welcome they are provisional: a run id
        # that the server already knows (reused without the spool) renumbers them after its
        # lastSeq, since none of them has been sent yet.
        self._seq_known = True
        self._welcomed_once = False
        self._prov_first: Optional[int] = None
        self._next_seq = 1
        self._unsequenced: List[Tuple[str, str]] = []
        self.outbox: Deque[_Entry] = collections.deque()
        self._mem_bytes = 0
        self.acked = 0
        self._sent_upto = 0
        self._flush_waiters: List[Tuple[int, threading.Event]] = []

        # connection
        self._ws: Any = None
        self._attempts = 0
        self._next_attempt = 0.0
        self._pause_until = 0.0
        self.connected_once = False
        self._warned_unreachable = False
        self.fatal: Optional[str] = None
        self._warned_codes: set = set()
        self.welcomed = threading.Event()
        self.last_welcome: Optional[Dict[str, Any]] = None

        # stopping
        self._stopping = False
        self._deadline = float("inf")
        self._wake = threading.Event()
        self.dropped = 0

        self.spool = Spool(spool_dir)
        self.spool_dir = spool_dir
        if reuse_spool and rewind_to is None:
            old = self.spool.load()
            for seq, text in old:
                self._add_entry(seq, text, write=True)
            if old:
                self._next_seq = old[-1][0] + 1
        self.spool.discard_old()
        self.spool.flush()

    # ------------------------------------------------------------------ producer side
    def put(self, item: tuple, block_timeout: float = 0.1) -> bool:
        """Queues an item; when the queue is full, waits at most block_timeout, then drops it."""
        q = self.q
        if len(q) < self.queue_size:
            q.append(item)
            return True
        deadline = time.monotonic() + block_timeout
        self._wake.set()
        while len(q) >= self.queue_size:
            if time.monotonic() >= deadline or not self.is_alive():
                self.dropped += 1
                if self.dropped == 1:
                    _warn("the send queue is full (the sender cannot keep up); dropping data "
                          "rather than blocking training")
                return False
            time.sleep(0.001)
        q.append(item)
        return True

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> None:
        if not self.connected_once and self._warned_unreachable:
            timeout = min(timeout, 2.0)  # never reachable: do not hold the process at exit
        elif self._ws is None and self._warned_unreachable:
            timeout = min(timeout, 5.0)  # down right now: a few more tries, then spool
            self._attempts = 0
            self._next_attempt = 0.0
        self._deadline = time.monotonic() + timeout
        self._stopping = True
        self._wake.set()

    @property
    def pending(self) -> int:
        return sum(1 for e in self.outbox if not e.consumed) + len(self._unsequenced)

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # ------------------------------------------------------------------ building
    def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "log":
            _, step, scalars, epoch, examples, layers, inputs, t = item
            tail = self._tail
            if tail is not None and step == tail["step"]:
                tail["scalars"].update(scalars)
                if layers:
                    tail.setdefault("layers", {}).update(layers)
                if inputs is not None:
                    tail["inputs"] = inputs
                if epoch is not None:
                    tail["epoch"] = epoch
                if examples is not None:
                    tail["examples"] = examples
                self._tail_touched = time.monotonic()
                return
            if step <= self._last_closed_step or (tail is not None and step < tail["step"]):
                if not self._late_warned:
                    self._late_warned = True
                    _warn(f"values for step {step} arrived after that step was sent; they are "
                          "dropped (log every value of a step together, with increasing steps)")
                return
            self._close_tail()
            d: Dict[str, Any] = {"step": step, "time": t, "scalars": dict(scalars)}
            if epoch is not None:
                d["epoch"] = epoch
            if examples is not None:
                d["examples"] = examples
            if layers:
                d["layers"] = dict(layers)
            if inputs is not None:
                d["inputs"] = inputs
            self._tail = d
            self._tail_touched = time.monotonic()
        elif kind == "msg":
            body = item[1]
            if body.get("type") == "end":
                self._close_tail()
                self._cut()
            self._sequence(body["type"], dumps(body))
        elif kind == "flush":
            self._close_tail()
            self._cut()
            target = self._next_seq - 1 if self._seq_known else -1
            self._flush_waiters.append((target, item[1]))

    def _close_tail(self) -> None:
        tail = self._tail
        if tail is None:
            return
        self._tail = None
        self._last_closed_step = tail["step"]
        if not tail["scalars"] and not tail.get("layers") and tail.get("inputs") is None:
            return
        text = dumps(tail)
        budget = self.limits["maxFrameBytes"] - 256
        if self._closed and (self._closed_bytes + len(text) + 1 > budget
                             or len(self._closed) >= self.limits["maxItemsPerMessage"]):
            self._cut()
        if not self._closed:
            self._closed_since = time.monotonic()
        self._closed.append(text)
        self._closed_bytes += len(text) + 1

    def _cut(self) -> None:
        if not self._closed:
            return
        body = '{"type":"steps","items":[' + ",".join(self._closed) + "]}"
        self._closed = []
        self._closed_bytes = 0
        self._sequence("steps", body)

    def _sequence(self, kind: str, body: str) -> None:
        if not self._seq_known:
            self._unsequenced.append((kind, body))
            return
        seq = self._next_seq
        self._next_seq += 1
        if not self._welcomed_once and self._prov_first is None:
            self._prov_first = seq
        self._add_entry(seq, _with_seq(seq, body), write=True, kind=kind)

    def _add_entry(self, seq: int, text: str, write: bool, kind: Optional[str] = None) -> None:
        seg, off, ln = self.spool.append(seq, text) if write else (0, 0, len(text))
        keep = text if self._mem_bytes + len(text) <= self.memory_limit else None
        if keep is not None:
            self._mem_bytes += len(text)
        self.outbox.append(_Entry(seq, keep, seg, off, ln, kind or _kind_of(text)))

    # ------------------------------------------------------------------ acks
    def _ack(self, seq: int) -> None:
        if seq > self.acked:
            self.acked = seq
        ob = self.outbox
        while ob and (ob[0].seq <= self.acked or ob[0].consumed):
            e = ob.popleft()
            if e.text is not None:
                self._mem_bytes -= len(e.text)
            if e.seq > self.acked:
                self.acked = e.seq
        if self._sent_upto < self.acked:
            self._sent_upto = self.acked
        self.spool.release(self.acked)
        self._notify_flush()

    def _notify_flush(self) -> None:
        if not self._flush_waiters or not self._seq_known:
            return
        done_to = self.outbox[0].seq - 1 if self.outbox else self._next_seq - 1
        keep = []
        for target, ev in self._flush_waiters:
            if target < 0:
                target = self._next_seq - 1
            if target <= done_to:
                ev.set()
            else:
                keep.append((target, ev))
        self._flush_waiters = keep

    # ------------------------------------------------------------------ connection
    def _headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _connect(self) -> None:
        assert _ws_connect is not None, "the websockets package is required"
        self._attempts += 1
        try:
            kwargs: Dict[str, Any] = dict(open_timeout=self.connect_timeout, close_timeout=1,
                                          max_size=None, compression=None)
            headers = self._headers()
            if headers:
                kwargs["additional_headers"] = headers
            ws = _ws_connect(self.url, **kwargs)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            self._connect_failed(exc)
            return
        try:
            hello: Dict[str, Any] = {"type": "hello", "protocol": PROTOCOL, "run": self.run_info}
            if self.rewind_to is not None:
                hello["rewindTo"] = self.rewind_to
            if self.token:
                hello["token"] = self.token
            ws.send(dumps(hello))
            deadline = time.monotonic() + max(self.connect_timeout, 5.0)
            welcome = None
            while welcome is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no welcome from the server")
                msg = json.loads(ws.recv(timeout=left))
                t = msg.get("type")
                if t == "welcome":
                    welcome = msg
                elif t == "error":
                    code = msg.get("code")
                    text = f"server refused the run: {code}: {msg.get('message')}"
                    if code in _FATAL_CODES:
                        self._give_up(text)
                        ws.close()
                        return
                    raise ConnectionError(text)
                else:
                    self._dispatch(msg)
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
            self._connect_failed(exc)
            return
        self._ws = ws
        self._on_welcome(welcome)

    def _connect_failed(self, exc: BaseException) -> None:
        self._ws = None
        if not self._warned_unreachable:
            self._warned_unreachable = True
            _warn(f"cannot reach the server at {self.url} ({type(exc).__name__}: {exc}); "
                  f"training goes on, data is buffered in {self.spool_dir} and sent once it "
                  "is reachable")
        delay = min(10.0, 0.25 * (2 ** min(self._attempts, 6)))
        self._next_attempt = time.monotonic() + delay * (0.75 + 0.5 * random.random())

    def _give_up(self, why: str) -> None:
        self.fatal = why
        _warn(why + "; nothing more is sent (data stays in the spool " + self.spool_dir + ")")

    def _on_welcome(self, welcome: Dict[str, Any]) -> None:
        self.last_welcome = welcome
        self.rewind_to = None
        limits = welcome.get("limits") or {}
        for k, v in limits.items():
            if isinstance(v, int) and v > 0:
                self.limits[k] = v
        last = int(welcome.get("lastSeq", 0))
        if not self._welcomed_once:
            self._welcomed_once = True
            if self._prov_first is not None and last >= self._prov_first:
                self._renumber_from(last + 1, self._prov_first)
            self._prov_first = None
            if last >= self._next_seq:
                self._next_seq = last + 1
        self._ack(last)
        self._sent_upto = max(last, self.acked)
        self._attempts = 0
        if self._warned_unreachable and not self.connected_once:
            _warn(f"connected to {self.url}; delivering {self.pending} buffered messages")
        elif self._warned_unreachable:
            _warn(f"reconnected to {self.url}; re-sending {self.pending} messages")
        self._warned_unreachable = False
        self.connected_once = True
        self.welcomed.set()
        if self.on_welcome is not None:
            try:
                self.on_welcome(welcome)
            except Exception:  # noqa: BLE001
                pass

    def _renumber_from(self, first: int, from_seq: int) -> None:
        """Gives the entries numbered from `from_seq` on new seqs starting at `first`."""
        keep = [e for e in self.outbox if e.seq < from_seq]
        move = [e for e in self.outbox if e.seq >= from_seq and not e.consumed]
        self.outbox.clear()
        self.outbox.extend(keep)
        self._mem_bytes = sum(len(e.text) for e in keep if e.text is not None)
        seq = first
        for e in move:
            text = e.text if e.text is not None else self.spool.read(e.seg, e.offset, e.length)
            body = "{" + text[text.index(",") + 1:]
            self._add_entry(seq, _with_seq(seq, body), write=True, kind=e.kind)
            seq += 1
        self._next_seq = seq

    def _drop_connection(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        self._sent_upto = self.acked
        if not self._warned_unreachable and not self._stopping:
            self._warned_unreachable = True
            _warn(f"lost the connection to {self.url}; reconnecting in the background, "
                  "nothing is lost")
        delay = min(10.0, 0.25 * (2 ** min(self._attempts, 6)))
        self._attempts += 1
        self._next_attempt = time.monotonic() + delay * (0.75 + 0.5 * random.random())

    # ------------------------------------------------------------------ receiving
    def _dispatch(self, msg: Dict[str, Any]) -> None:
        t = msg.get("type")
        if t == "ack":
            self._ack(int(msg.get("seq", 0)))
        elif t == "error":
            self._on_error(msg)
        elif t in ("alert", "command"):
            if self.on_message is not None:
                try:
                    self.on_message(msg)
                except Exception as exc:  # noqa: BLE001 - a user callback must not kill us
                    _warn(f"on_alert callback raised {type(exc).__name__}: {exc}")

    def _warn_code(self, code: str, text: str) -> None:
        if code not in self._warned_codes:
            self._warned_codes.add(code)
            _warn(text)

    def _entry(self, seq: int) -> Optional[_Entry]:
        if not self.outbox:
            return None
        i = seq - self.outbox[0].seq
        if 0 <= i < len(self.outbox):
            return self.outbox[i]
        return None

    def _on_error(self, msg: Dict[str, Any]) -> None:
        code = str(msg.get("code"))
        seq = msg.get("seq")
        text = msg.get("message", "")
        if code == "gap":
            expected = int(msg.get("expected", self.acked + 1))
            if expected - 1 > self.acked:
                self._ack(expected - 1)
            self._sent_upto = max(self.acked, expected - 1)
        elif code == "retry":
            s = int(seq) if seq is not None else self.acked + 1
            self._sent_upto = min(self._sent_upto, s - 1)
            self._pause_until = time.monotonic() + 0.5
        elif code in ("rate_limited",):
            self._pause_until = time.monotonic() + 1.0
            self._sent_upto = self.acked
            self._warn_code(code, "the server rate-limits this run; slowing down")
        elif code in _FATAL_CODES:
            self._give_up(f"server error {code}: {text}")
            self._drop_connection()
        elif code == "shutdown":
            self._drop_connection()
        elif seq is not None:
            # A validation error consumes the seq: the message is not stored.
            e = self._entry(int(seq))
            what = e.kind if e is not None else "message"
            self._warn_code(code, f"the server rejected a {what} message (seq {seq}): "
                                  f"{code}: {text}")
            if e is not None:
                e.consumed = True
                self._ack(self.acked)
        else:
            self._warn_code(code, f"server error {code}: {text}")

    # ------------------------------------------------------------------ pumping
    def _pump(self, wait: float) -> None:
        ws = self._ws
        try:
            now = time.monotonic()
            if now >= self._pause_until and self.outbox:
                top = self.outbox[-1].seq
                limit = self.limits["maxFrameBytes"]
                while self._sent_upto < top and self._sent_upto - self.acked < self.window:
                    e = self._entry(self._sent_upto + 1)
                    if e is None:
                        break
                    text = e.text if e.text is not None else self.spool.read(
                        e.seg, e.offset, e.length)
                    if len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
                        # Too large for this server: consume its seq with an invalid message.
                        self._warn_code("frame_too_large_local",
                                        f"a {e.kind} message of {len(text)} bytes exceeds the "
                                        f"server's frame limit ({limit}); it is dropped")
                        text = '{"seq":%d,"type":"%s","items":[]}' % (e.seq, "steps")
                    ws.send(text)
                    self._sent_upto = e.seq
            raw = ws.recv(timeout=wait)
            while True:
                self._dispatch(json.loads(raw))
                if self._ws is None:
                    return
                raw = ws.recv(timeout=0)
        except TimeoutError:
            return
        except (OSError, ConnectionClosed, ValueError):
            self._drop_connection()

    # ------------------------------------------------------------------ main loop
    def _drain(self, wait: float) -> None:
        q = self.q
        if not q and wait > 0:
            self._wake.wait(wait)
            self._wake.clear()
        pop = q.popleft
        for _ in range(100000):
            try:
                item = pop()
            except IndexError:
                break
            self._handle(item)

    def _idle(self) -> bool:
        return (not self.q and self._tail is None and not self._closed
                and not self._unsequenced
                and all(e.consumed for e in self.outbox))

    def run(self) -> None:  # noqa: C901
        try:
            while True:
                connected = self._ws is not None
                busy = connected and self.outbox and self._sent_upto < self.outbox[-1].seq
                self._drain(0 if (connected or busy) else 0.02)
                now = time.monotonic()
                if self._tail is not None and (
                        self._stopping or now - self._tail_touched >= self.linger):
                    self._close_tail()
                # batch: a steps message goes out once its first item waited `linger`
                if self._closed and (self._stopping or now - self._closed_since >= self.linger):
                    self._cut()
                self.spool.flush()
                self._notify_flush()
                if self._stopping and (self._idle() or time.monotonic() >= self._deadline):
                    break
                if self.fatal is not None:
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                if self._ws is None:
                    now = time.monotonic()
                    if now >= self._next_attempt:
                        self._connect()
                    else:
                        self._wake.wait(min(0.05, self._next_attempt - now))
                        self._wake.clear()
                    continue
                wait = 0.02
                if self._tail is not None:
                    wait = min(wait, self._tail_touched + self.linger - now)
                if self._closed:
                    wait = min(wait, self._closed_since + self.linger - now)
                self._pump(max(0.001, wait))
        except Exception as exc:  # noqa: BLE001 - never crash the training process
            _warn(f"sender stopped on an internal error: {type(exc).__name__}: {exc}")
        finally:
            ws, self._ws = self._ws, None
            if ws is not None:
                try:
                    ws.close()
                except Exception:  # noqa: BLE001
                    pass
            for _, ev in self._flush_waiters:
                ev.set()
            clean = self._idle()
            self.spool.close(remove=clean)

    def undelivered(self) -> Tuple[int, Optional[int], Optional[int]]:
        """(count, first seq, last seq) of messages not acked."""
        live = [e.seq for e in self.outbox if not e.consumed]
        n = len(live) + len(self._unsequenced) + (1 if self._tail is not None else 0) \
            + len(self._closed) + len(self.q)
        return n, (live[0] if live else None), (live[-1] if live else None)
