"""The ingest WebSocket session: hello/welcome handshake, sending the outbox within the ack
window, handling acks, errors, alerts and commands, and reconnecting with backoff. Everything
here runs on the sender thread."""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from typing import Any, Callable

from ._encode import dumps, msgpack_available, to_msgpack
from ._warn import warn
from .errors import GradwatchError, error_action
from .outbox import Outbox

try:  # the only runtime dependency
    from websockets.exceptions import ConnectionClosed, InvalidHandshake
    from websockets.sync.client import connect as _ws_connect
except ImportError:  # pragma: no cover - declared dependency
    _ws_connect = None  # type: ignore[assignment]
    ConnectionClosed = OSError  # type: ignore[misc,assignment]
    InvalidHandshake = OSError  # type: ignore[misc,assignment]

PROTOCOL = 1

# Used until the server's welcome says otherwise; conservative so a batch cut before the
# first welcome is still accepted by a server with smaller limits.
DEFAULT_LIMITS: dict[str, int] = {
    "maxFrameBytes": 1 << 20,
    "maxLayers": 1000,
    "maxSeriesPerRun": 50000,
    "maxItemsPerMessage": 500,
    "maxMessagesPerSecond": 1000,
    "maxStringLength": 200,
}

MessageCallback = Callable[[dict[str, Any]], None]


def backoff(attempt: int) -> float:
    """Seconds before try number `attempt` + 1: doubling from 0.25 s up to 10 s, jittered."""
    return min(10.0, 0.25 * 2.0 ** min(attempt, 6)) * (0.75 + 0.5 * random.random())



def _packs_well(kind: str, text: str) -> bool:
    """Whether a message is worth a MessagePack frame: layer statistics and histograms are. A
    steps message of scalars alone parses as fast from JSON on the server, and converting it
    would cost the client more than the frame saves (the protocol lets a client choose per
    message)."""
    return kind != "steps" or '"layers":' in text

class Connection:
    """One run's link to the server; `ws` is None while disconnected. Every error code is
    handled as errors.py's table says. After a fatal error (`fatal` set) nothing more is sent
    and the data stays in the spool."""

    def __init__(self, url: str, run_info: dict[str, Any], outbox: Outbox,
                 limits: dict[str, int], *, token: str | None, rewind_to: int | None,
                 connect_timeout: float, window: int, spool_dir: str,
                 on_message: MessageCallback | None,
                 on_welcome: MessageCallback | None) -> None:
        self.url = url
        self.run_info = run_info
        self.outbox = outbox
        self.limits = limits
        self.token = token
        self.rewind_to = rewind_to
        self.connect_timeout = connect_timeout
        self.window = window
        self.spool_dir = spool_dir
        self.on_message = on_message
        self.on_welcome = on_welcome
        self.ws: Any = None
        self.attempts = 0
        self.next_attempt = 0.0
        self._pause_until = 0.0
        self.connected_once = False
        self.warned_unreachable = False
        self.fatal: GradwatchError | None = None
        self.rejected: dict[str, int] = {}
        self._retries = 0
        self._warned_codes: set[str] = set()
        self.welcomed = threading.Event()
        # set by the first handshake's outcome: welcomed, refused for good, or unreachable
        self.first_outcome = threading.Event()
        self.last_welcome: dict[str, Any] | None = None
        self.stopping = False
        # MessagePack binary frames: offered when the msgpack package is importable (and not
        # GRADWATCH_ENCODING=json), used once a welcome accepts them.
        self.offer_msgpack = (msgpack_available()
                              and os.environ.get("GRADWATCH_ENCODING", "").lower() != "json")
        self.binary = False
        # The server takes `hists` (welcome.features): histograms then go many to a message.
        self.hists = False

    # ------------------------------------------------------------------ connecting
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def connect(self) -> None:
        assert _ws_connect is not None, "the websockets package is required"
        self.attempts += 1
        try:
            kwargs: dict[str, Any] = {"open_timeout": self.connect_timeout, "close_timeout": 1,
                                          "max_size": None, "compression": None}
            headers = self._headers()
            if headers:
                kwargs["additional_headers"] = headers
            ws = _ws_connect(self.url, **kwargs)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            self._connect_failed(exc)
            return
        try:
            hello: dict[str, Any] = {"type": "hello", "protocol": PROTOCOL, "run": self.run_info}
            if self.rewind_to is not None:
                hello["rewindTo"] = self.rewind_to
            if self.token:
                hello["token"] = self.token
            if self.offer_msgpack:
                hello["encodings"] = ["msgpack"]
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
                    code = str(msg.get("code"))
                    text = str(msg.get("message", ""))
                    # A rejected hello is our own run description (ids, config): sending it
                    # again cannot help, so it ends the run like a fatal code.
                    if error_action(code) in ("fatal", "rejected"):
                        self._give_up(code, text)
                        ws.close()
                        return
                    raise ConnectionError(f"server error {code}: {text}")
                else:
                    self._dispatch(msg)
        except (OSError, TimeoutError, ConnectionClosed, ValueError) as exc:
            with contextlib.suppress(Exception):
                ws.close()
            self._connect_failed(exc)
            return
        self.ws = ws
        self._on_welcome(welcome)

    def _connect_failed(self, exc: BaseException) -> None:
        self.ws = None
        if not self.warned_unreachable:
            self.warned_unreachable = True
            warn(f"cannot reach the server at {self.url} ({type(exc).__name__}: {exc}); "
                 f"training goes on, data is buffered in {self.spool_dir} and sent once it "
                 "is reachable")
        self.next_attempt = time.monotonic() + backoff(self.attempts)
        self.first_outcome.set()

    def _give_up(self, code: str, text: str) -> None:
        self.fatal = GradwatchError(code, f"the server refused the run: {text}" if text
                                    else "the server refused the run")
        warn(f"{self.fatal}; nothing more is sent (data stays in the spool {self.spool_dir})")
        self.outbox.release_waiters()
        self.first_outcome.set()

    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        self.last_welcome = welcome
        self.binary = self.offer_msgpack and welcome.get("encoding") == "msgpack"
        features = welcome.get("features")
        self.hists = isinstance(features, list) and "hists" in features
        self.rewind_to = None
        limits = welcome.get("limits") or {}
        for k, v in limits.items():
            if isinstance(v, int) and v > 0:
                self.limits[k] = v
        self.outbox.welcome(int(welcome.get("lastSeq", 0)))
        self.attempts = 0
        if self.warned_unreachable and not self.connected_once:
            warn(f"connected to {self.url}; delivering {self.outbox.pending} buffered messages")
        elif self.warned_unreachable:
            warn(f"reconnected to {self.url}; re-sending {self.outbox.pending} messages")
        self.warned_unreachable = False
        self.connected_once = True
        self.welcomed.set()
        self.first_outcome.set()
        if self.on_welcome is not None:
            with contextlib.suppress(Exception):
                self.on_welcome(welcome)

    def rehello(self) -> None:
        """Reconnects at once, quietly, so that a hello carries the changed run description
        (a later hello replaces the stored config); everything not acked is re-sent."""
        if self.ws is None:
            return  # the next connect sends it anyway
        self.close()
        self.outbox.sent_upto = self.outbox.acked
        self.next_attempt = 0.0

    def drop(self) -> None:
        """Closes the socket after an error; everything not acked is re-sent on reconnect."""
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()
        self.outbox.sent_upto = self.outbox.acked
        if not self.warned_unreachable and not self.stopping and self.fatal is None:
            self.warned_unreachable = True
            warn(f"lost the connection to {self.url}; reconnecting in the background, "
                 "nothing is lost")
        self.next_attempt = time.monotonic() + backoff(self.attempts)
        self.attempts += 1

    def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    # ------------------------------------------------------------------ receiving
    def _dispatch(self, msg: dict[str, Any]) -> None:
        t = msg.get("type")
        if t == "ack":
            self._retries = 0
            self.outbox.ack(int(msg.get("seq", 0)))
        elif t == "error":
            self._on_error(msg)
        elif t in ("alert", "command", "diagnosis"):
            if self.on_message is not None:
                try:
                    self.on_message(msg)
                except Exception as exc:  # noqa: BLE001 - a user callback must not kill us
                    warn(f"handling a {t} message raised {type(exc).__name__}: {exc}")

    def _warn_code(self, code: str, text: str) -> None:
        if code not in self._warned_codes:
            self._warned_codes.add(code)
            warn(text)

    def _on_error(self, msg: dict[str, Any]) -> None:
        code = str(msg.get("code"))
        seq = msg.get("seq")
        text = str(msg.get("message", ""))
        action = error_action(code)
        if action == "rejected":
            self._rejected(code, int(seq) if isinstance(seq, int) else None, text)
        elif action == "retry":
            self._retry_later(code, int(seq) if isinstance(seq, int) else None)
        elif action == "resend":
            # Re-send from `expected`. What comes before it is only *accepted* by the server,
            # maybe not committed yet: it stays in the outbox until its own ack arrives.
            ob = self.outbox
            expected = int(msg.get("expected", ob.acked + 1))
            ob.sent_upto = max(ob.acked, min(ob.sent_upto, expected - 1))
        elif action == "reconnect":
            self.drop()
        else:
            self._give_up(code, text)
            self.drop()

    def _rejected(self, code: str, seq: int | None, text: str) -> None:
        """The message is consumed: count it, say so once per code, never send it again."""
        self.rejected[code] = self.rejected.get(code, 0) + 1
        ob = self.outbox
        e = ob.entry(seq) if seq is not None else None
        what = f"a {e.kind} message" if e is not None else "a message"
        at = f" (seq {seq})" if seq is not None else ""
        self._warn_code(code, f"the server rejected {what}{at}: {code}: {text}; it is not "
                              "stored and not sent again")
        if e is not None:
            e.consumed = True
            ob.ack(ob.acked)

    def _retry_later(self, code: str, seq: int | None) -> None:
        """Nothing was stored: send again from `seq` (or everything not acked) after a
        back-off that grows while the server keeps refusing and resets on the next ack."""
        ob = self.outbox
        ob.sent_upto = min(ob.sent_upto, seq - 1) if seq is not None else ob.acked
        self._pause_until = time.monotonic() + backoff(self._retries)
        self._retries += 1
        if code == "rate_limited":
            self._warn_code(code, "the server rate-limits this run; slowing down")

    # ------------------------------------------------------------------ pumping
    def pump(self, wait: float) -> None:
        """Sends what the window allows, then handles what arrives within `wait` s."""
        ws = self.ws
        ob = self.outbox
        try:
            now = time.monotonic()
            if now >= self._pause_until and ob.entries:
                top = ob.entries[-1].seq
                limit = self.limits["maxFrameBytes"]
                while ob.sent_upto < top and ob.sent_upto - ob.acked < self.window:
                    e = ob.entry(ob.sent_upto + 1)
                    if e is None:
                        break
                    text = ob.text_of(e)
                    binary = self.binary and _packs_well(e.kind, text)
                    frame: str | bytes = to_msgpack(text) if binary else text
                    size = len(frame) if isinstance(frame, bytes) else len(text) * 4
                    if size > limit and (isinstance(frame, bytes)
                                         or len(text.encode("utf-8")) > limit):
                        # Too large for this server: consume its seq with an invalid message.
                        self._warn_code("frame_too_large_local",
                                        f"a {e.kind} message of {len(text)} bytes exceeds the "
                                        f"server's frame limit ({limit}); it is dropped")
                        frame = f'{{"seq":{e.seq},"type":"steps","items":[]}}'
                    ws.send(frame)
                    ob.sent_upto = e.seq
            raw = ws.recv(timeout=wait)
            while True:
                self._dispatch(json.loads(raw))
                if self.ws is None:
                    return
                raw = ws.recv(timeout=0)
        except TimeoutError:
            return
        except (OSError, ConnectionClosed, ValueError):
            self.drop()
