"""The ingest WebSocket session: hello/welcome handshake, sending the outbox within the ack
window, handling acks, errors, alerts and commands, and reconnecting with backoff. Everything
here runs on the sender thread."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any, Callable, Dict, Optional

from ._encode import dumps
from ._warn import warn
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
DEFAULT_LIMITS: Dict[str, int] = {
    "maxFrameBytes": 1 << 20,
    "maxLayers": 1000,
    "maxSeriesPerRun": 50000,
    "maxItemsPerMessage": 500,
    "maxMessagesPerSecond": 1000,
    "maxStringLength": 200,
}

_FATAL_CODES = {"unauthorized", "forbidden", "protocol", "replaced"}

MessageCallback = Callable[[Dict[str, Any]], None]


class Connection:
    """One run's link to the server; `ws` is None while disconnected. After a fatal error
    (`fatal` set) nothing more is sent and the data stays in the spool."""

    def __init__(self, url: str, run_info: Dict[str, Any], outbox: Outbox,
                 limits: Dict[str, int], *, token: Optional[str], rewind_to: Optional[int],
                 connect_timeout: float, window: int, spool_dir: str,
                 on_message: Optional[MessageCallback],
                 on_welcome: Optional[MessageCallback]) -> None:
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
        self.fatal: Optional[str] = None
        self._warned_codes: set = set()
        self.welcomed = threading.Event()
        self.last_welcome: Optional[Dict[str, Any]] = None
        self.stopping = False

    # ------------------------------------------------------------------ connecting
    def _headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def connect(self) -> None:
        assert _ws_connect is not None, "the websockets package is required"
        self.attempts += 1
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
        self.ws = ws
        self._on_welcome(welcome)

    def _connect_failed(self, exc: BaseException) -> None:
        self.ws = None
        if not self.warned_unreachable:
            self.warned_unreachable = True
            warn(f"cannot reach the server at {self.url} ({type(exc).__name__}: {exc}); "
                 f"training goes on, data is buffered in {self.spool_dir} and sent once it "
                 "is reachable")
        delay = min(10.0, 0.25 * (2 ** min(self.attempts, 6)))
        self.next_attempt = time.monotonic() + delay * (0.75 + 0.5 * random.random())

    def _give_up(self, why: str) -> None:
        self.fatal = why
        warn(why + "; nothing more is sent (data stays in the spool " + self.spool_dir + ")")

    def _on_welcome(self, welcome: Dict[str, Any]) -> None:
        self.last_welcome = welcome
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
        if self.on_welcome is not None:
            try:
                self.on_welcome(welcome)
            except Exception:  # noqa: BLE001
                pass

    def drop(self) -> None:
        """Closes the socket after an error; everything not acked is re-sent on reconnect."""
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass
        self.outbox.sent_upto = self.outbox.acked
        if not self.warned_unreachable and not self.stopping:
            self.warned_unreachable = True
            warn(f"lost the connection to {self.url}; reconnecting in the background, "
                 "nothing is lost")
        delay = min(10.0, 0.25 * (2 ** min(self.attempts, 6)))
        self.attempts += 1
        self.next_attempt = time.monotonic() + delay * (0.75 + 0.5 * random.random())

    def close(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001
                pass

    # ------------------------------------------------------------------ receiving
    def _dispatch(self, msg: Dict[str, Any]) -> None:
        t = msg.get("type")
        if t == "ack":
            self.outbox.ack(int(msg.get("seq", 0)))
        elif t == "error":
            self._on_error(msg)
        elif t in ("alert", "command"):
            if self.on_message is not None:
                try:
                    self.on_message(msg)
                except Exception as exc:  # noqa: BLE001 - a user callback must not kill us
                    warn(f"on_alert callback raised {type(exc).__name__}: {exc}")

    def _warn_code(self, code: str, text: str) -> None:
        if code not in self._warned_codes:
            self._warned_codes.add(code)
            warn(text)

    def _on_error(self, msg: Dict[str, Any]) -> None:
        ob = self.outbox
        code = str(msg.get("code"))
        seq = msg.get("seq")
        text = msg.get("message", "")
        if code == "gap":
            expected = int(msg.get("expected", ob.acked + 1))
            if expected - 1 > ob.acked:
                ob.ack(expected - 1)
            ob.sent_upto = max(ob.acked, expected - 1)
        elif code == "retry":
            s = int(seq) if seq is not None else ob.acked + 1
            ob.sent_upto = min(ob.sent_upto, s - 1)
            self._pause_until = time.monotonic() + 0.5
        elif code in ("rate_limited",):
            self._pause_until = time.monotonic() + 1.0
            ob.sent_upto = ob.acked
            self._warn_code(code, "the server rate-limits this run; slowing down")
        elif code in _FATAL_CODES:
            self._give_up(f"server error {code}: {text}")
            self.drop()
        elif code == "shutdown":
            self.drop()
        elif seq is not None:
            # A validation error consumes the seq: the message is not stored.
            e = ob.entry(int(seq))
            what = e.kind if e is not None else "message"
            self._warn_code(code, f"the server rejected a {what} message (seq {seq}): "
                                  f"{code}: {text}")
            if e is not None:
                e.consumed = True
                ob.ack(ob.acked)
        else:
            self._warn_code(code, f"server error {code}: {text}")

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
                    if len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
                        # Too large for this server: consume its seq with an invalid message.
                        self._warn_code("frame_too_large_local",
                                        f"a {e.kind} message of {len(text)} bytes exceeds the "
                                        f"server's frame limit ({limit}); it is dropped")
                        text = '{"seq":%d,"type":"%s","items":[]}' % (e.seq, "steps")
                    ws.send(text)
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
