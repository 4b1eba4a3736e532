"""An in-process ingest server speaking protocol v1, for testing the sender's delivery logic
(sequencing, acks, re-sends, reconnects) without the real server."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.server import serve

from protocol_doc import doc_error_actions

SEQ_TYPES = ["model", "steps", "eval", "hist", "end"]
LIMITS = {"maxFrameBytes": 4194304, "maxLayers": 1000, "maxSeriesPerRun": 50000,
          "maxItemsPerMessage": 1000, "maxMessagesPerSecond": 100000, "maxStringLength": 200}


class FakeRun:
    def __init__(self) -> None:
        self.last_seq = 0
        self.stored: list[dict[str, Any]] = []  # every stored message, in seq order
        self.last_step = -1
        self.rewinds: list[int] = []


class FakeServer:
    def __init__(self, limits: dict[str, int] | None = None,
                 features: tuple[str, ...] = ("hists",)) -> None:
        self.limits = dict(LIMITS, **(limits or {}))
        self.features = list(features)  # () plays a server that predates them
        self.runs: dict[str, FakeRun] = {}
        self.hellos: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []  # every sequenced message received
        self.reject: set[int] = set()  # seqs answered with a validation error
        # seq -> error codes answering its next receptions; per docs/protocol.md a `rejected`
        # code consumes the seq, any other stores nothing and leaves the seq to be re-sent
        self.answer: dict[int, list[str]] = {}
        self.hello_errors: list[str] = []  # codes answering the next hellos, one each
        self.drop_after: int | None = None  # abort the socket after storing N more messages
        self.withhold_acks = False
        self.hold_acks = False  # keep the replies until release_acks()
        self._held: list[Any] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._conns: dict[str, Any] = {}
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> FakeServer:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                self._server = await serve(self._handler, "127.0.0.1", port, max_size=None)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()

            loop.run_until_complete(boot())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert ready.wait(10)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shut() -> None:
            for ws in list(self._conns.values()):
                ws.transport.abort()
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ingest"

    def push(self, run_id: str, msg: dict[str, Any]) -> None:
        """Sends a server message (alert, command, error) to the run's connection."""
        ws = self._conns[run_id]
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(ws.send(json.dumps(msg)), self._loop).result(5)

    def release_acks(self) -> None:
        """Sends the held replies and stops holding them."""
        assert self._loop is not None

        async def send() -> None:
            self.hold_acks = False
            held, self._held = self._held, []
            for ws, reply in held:
                await ws.send(json.dumps(reply))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    def abort(self, run_id: str) -> None:
        ws = self._conns.get(run_id)
        if ws is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(ws.transport.abort)

    # ------------------------------------------------------------------ protocol
    async def _handler(self, ws: Any) -> None:
        try:
            hello = json.loads(await ws.recv())
        except Exception:  # noqa: BLE001
            return
        if hello.get("type") != "hello":
            await ws.send(json.dumps({"type": "error", "code": "no_hello", "message": "hello"}))
            return
        self.hellos.append(hello)
        if self.hello_errors:
            code = self.hello_errors.pop(0)
            await ws.send(json.dumps({"type": "error", "code": code,
                                      "message": "hello refused by the test"}))
            await ws.close()
            return
        rid = hello["run"]["id"]
        with self.lock:
            run = self.runs.setdefault(rid, FakeRun())
            if hello.get("rewindTo") is not None:
                rw = hello["rewindTo"]
                run.rewinds.append(rw)
                kept = []
                for m in run.stored:
                    if m["type"] == "steps":
                        m = dict(m, items=[i for i in m["items"] if i["step"] < rw])
                    kept.append(m)
                run.stored = kept
                run.last_step = rw - 1
        self._conns[rid] = ws
        welcome = {"type": "welcome", "protocol": 1, "runId": rid, "lastSeq": run.last_seq,
                   "lastStep": run.last_step, "limits": self.limits}
        if self.features:
            welcome["features"] = self.features
        await ws.send(json.dumps(welcome))
        try:
            async for raw in ws:
                msg = json.loads(raw)
                seq = msg.get("seq")
                with self.lock:
                    self.received.append(msg)
                    if seq <= run.last_seq:
                        reply = {"type": "ack", "seq": seq}
                    elif seq > run.last_seq + 1:
                        reply = {"type": "error", "code": "gap", "seq": seq,
                                 "expected": run.last_seq + 1, "message": "gap"}
                    elif self.answer.get(seq):
                        code = self.answer[seq].pop(0)
                        if doc_error_actions().get(code) == "rejected":
                            run.last_seq = seq
                        reply = {"type": "error", "code": code, "seq": seq, "expected": seq,
                                 "message": "answered by the test"}
                    elif msg["type"] not in SEQ_TYPES + self.features:
                        run.last_seq = seq
                        reply = {"type": "error", "code": "unknown_type", "seq": seq,
                                 "message": f"unknown message type {msg['type']}"}
                    elif seq in self.reject:
                        run.last_seq = seq
                        reply = {"type": "error", "code": "bad_message", "seq": seq,
                                 "message": "rejected by the test"}
                    else:
                        if msg["type"] == "hists":
                            assert 1 <= len(msg["items"]) <= self.limits["maxItemsPerMessage"]
                        if msg["type"] == "steps":
                            for it in msg["items"]:
                                assert it["step"] > run.last_step, (it["step"], run.last_step)
                                run.last_step = it["step"]
                        run.stored.append(msg)
                        run.last_seq = seq
                        reply = {"type": "ack", "seq": seq}
                        if self.drop_after is not None:
                            self.drop_after -= 1
                            if self.drop_after <= 0:
                                self.drop_after = None
                                ws.transport.abort()  # stored, never acked
                                return
                if self.hold_acks:
                    self._held.append((ws, reply))
                elif not self.withhold_acks:
                    await ws.send(json.dumps(reply))
        except Exception:  # noqa: BLE001 - connection gone
            return
        finally:
            if self._conns.get(rid) is ws:
                del self._conns[rid]

    # ------------------------------------------------------------------ inspection
    def items(self, run_id: str) -> list[dict[str, Any]]:
        run = self.runs[run_id]
        return [it for m in run.stored if m["type"] == "steps" for it in m["items"]]

    def stored(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The stored messages of a kind; for "hist", each item of a `hists` counts as one."""
        out = []
        for m in self.runs[run_id].stored:
            if kind == "hist" and m["type"] == "hists":
                out.extend(dict(it, type="hist", seq=m["seq"]) for it in m["items"])
            elif kind is None or m["type"] == kind:
                out.append(m)
        return out
