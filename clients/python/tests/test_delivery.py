"""What the sender does under load, against the fake server: a full queue spills to the
overflow file and loses nothing, in order; batching adapts (at once when idle, batched while
the server is still acking)."""

from __future__ import annotations

import threading

import gradwatch
from gradwatch.overflow import CHUNK, Overflow

from conftest import wait_for
from fakeserver import FakeServer


def test_overflow_gives_back_every_item_in_order(tmp_path) -> None:
    ov = Overflow(str(tmp_path / "spool" / "overflow.bin"))
    events = [threading.Event() for _ in range(3)]
    want = []
    for i in range(CHUNK * 2 + 7):
        item = ("log", i, {"loss": float("nan") if i == 5 else i * 0.25}, None, None, None,
                None, 1.5 + i)
        if i % 1000 == 999:
            item = ("flush", events[i // 1000 % 3])
        with ov.lock:
            ov.put(item)
        want.append(item)
    assert ov.pending == len(want) and ov.used == len(want)
    assert not ov.try_close(lambda: True), "not everything is taken back yet"
    got = []
    while True:
        chunk = ov.take()
        if not chunk:
            break
        got.extend(chunk)
    assert len(got) == len(want)
    assert got[5][2]["loss"] != got[5][2]["loss"], "NaN kept"
    got[5] = want[5]
    assert got == want, "same items, same order, the flush events themselves"
    assert ov.try_close(lambda: True) and not ov.active and ov.pending == 0
    ov.close()


def test_overflow_makes_what_marshal_cannot_write_plain_data(tmp_path) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    ov = Overflow(str(tmp_path / "spool" / "overflow.bin"))
    odd = ("config", {"seen": {3, 1}, "obj": Opaque(), "inf": float("inf")})
    items = [("log", i, {"loss": i * 0.5}, None, None, None, None, 1.0 + i) for i in range(CHUNK)]
    items[7] = odd
    with ov.lock:
        for item in items:
            ov.put(item)
    got = ov.take()
    assert len(got) == CHUNK and not ov.take()
    assert got[7] == ("config", {"seen": [1, 3], "obj": "opaque", "inf": float("inf")})
    assert got[8] == ("log", 8, {"loss": 4.0}, None, None, None, None, 9.0)
    ov.close()


def test_ctrl_c_while_a_chunk_is_written_waits_for_the_whole_record(tmp_path, monkeypatch) -> None:
    import builtins
    import os
    import signal

    import pytest

    import gradwatch.overflow as overflow

    class CtrlCOnFlush:
        """The overflow file, with a Ctrl-C arriving once the record is written, before the
        counters say so: cut there, the next chunk would write the same items again."""

        def __init__(self, fh) -> None:
            self.fh = fh
            self.armed = True

        def write(self, data: bytes) -> int:
            return self.fh.write(data)

        def flush(self) -> None:
            self.fh.flush()
            if self.armed:
                self.armed = False
                os.kill(os.getpid(), signal.SIGINT)

        def __getattr__(self, name: str):
            return getattr(self.fh, name)

    def opener(path: str, mode: str = "r"):
        fh = builtins.open(path, mode)  # noqa: SIM115 - the overflow keeps it open
        return CtrlCOnFlush(fh) if "w" in mode else fh

    monkeypatch.setattr(overflow, "open", opener, raising=False)
    # Python's own handler, even under a launcher that started the process with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    ov = Overflow(str(tmp_path / "spool" / "overflow.bin"))
    items = [("log", i, {"loss": i * 0.5}, None, None, None, None, 1.0 + i)
             for i in range(CHUNK * 2)]
    with pytest.raises(KeyboardInterrupt):
        for item in items:
            with ov.lock:
                ov.put(item)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with ov.lock:
        for item in items[CHUNK:]:
            ov.put(item)
    got = []
    while chunk := ov.take():
        got.extend(chunk)
    assert got == items, "every item once, in order"
    ov.close()
    signal.signal(signal.SIGINT, previous)


def test_a_full_queue_spills_and_loses_nothing(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", id="spill-1", spool_dir=spool, queue_size=50)
    n = 30000
    for s in range(n):
        run.log(s, loss=float(s))
        if s == n // 2:
            run.log_eval(s, loss=-1.0)
    assert run.finish(timeout=30) == 0
    assert run._sender.overflow.used > 0, "the burst went through the overflow"
    items = fake.items("spill-1")
    assert [it["step"] for it in items] == list(range(n))
    assert [it["scalars"]["loss"] for it in items] == [float(s) for s in range(n)]
    assert [m["step"] for m in fake.stored("spill-1", "eval")] == [n // 2]
    assert run._sender.dropped == 0


def test_a_stopped_sender_counts_what_it_cannot_take(fake: FakeServer, spool: str,
                                                    capsys) -> None:
    run = gradwatch.init(fake.url, project="p", id="ended-1", spool_dir=spool, queue_size=3)
    run.log(0, loss=0.0)
    assert run.finish(timeout=30) == 0
    sender = run._sender
    sender.join(10)
    assert not sender.is_alive()
    for s in range(1, 6):
        sender.put(("log", s, {"loss": 1.0}, None, None, None, None, 1.0))
    # the queue takes three (nothing reads it any more); the rest is counted, said once, and
    # never written to an overflow file nobody reads
    assert sender.dropped == 2
    assert not sender.overflow.active
    assert capsys.readouterr().err.count("the sender thread has stopped") == 1


def test_batching_sends_at_once_when_idle_and_batches_while_busy(fake: FakeServer,
                                                                  spool: str) -> None:
    # linger of a minute: whatever goes out before that went out because the link was idle
    run = gradwatch.init(fake.url, project="p", id="adapt-1", spool_dir=spool, linger=60.0)
    fake.hold_acks = True
    run.log(0, loss=0.0)
    run.log(1, loss=1.0)  # closes step 0
    assert wait_for(lambda: len(fake.received) == 1, 10), "idle: the closed step goes at once"
    for s in range(2, 51):
        run.log(s, loss=float(s))  # steps 1..49 close while message 1 waits for its ack
    assert wait_for(lambda: len(run._sender.steps.closed) == 49, 10)
    assert len(fake.received) == 1, "busy: closed steps wait for the ack"
    fake.release_acks()
    assert wait_for(lambda: len(fake.received) == 2, 10), "the ack frees the batch at once"
    assert [len(m["items"]) for m in fake.received] == [1, 49]
    assert run.finish(timeout=10) == 0
    assert [it["step"] for it in fake.items("adapt-1")] == list(range(51))


def _unsequenced(msgs: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "seq"} for m in msgs]


def _log_with_hists(fake: FakeServer, spool: str, run_id: str) -> list[dict]:
    run = gradwatch.init(fake.url, project="p", id=run_id, spool_dir=spool)
    assert run._sender.welcomed.wait(5)
    sent = []
    for s in range(40):
        run.log(s, loss=float(s))
        for layer in ("a", "b"):
            h = {"type": "hist", "step": s, "layer": layer, "of": "param",
                 "edges": [-1.0, 0.0, s + 1.0], "counts": [s, 2 * s]}
            run._send(h)
            sent.append(h)
    assert run.finish(timeout=10) == 0
    return sent


def test_histograms_go_many_to_a_message_sized_to_the_limits(spool: str) -> None:
    # (3000 - 256) / 5 bytes of JSON a message: five or six of these histograms.
    fake = FakeServer(limits={"maxItemsPerMessage": 7, "maxFrameBytes": 3000}).start()
    try:
        sent = _log_with_hists(fake, spool, "hists-1")
        batches = fake.stored("hists-1", "hists")
        assert 80 / 7 <= len(batches) < 40
        assert all(1 <= len(m["items"]) <= 7 for m in batches)
        assert _unsequenced(fake.stored("hists-1", "hist")) == sent
        # No steps message is stored before the histograms of the steps before its own.
        seen_hist_steps: set[int] = set()
        for m in fake.runs["hists-1"].stored:
            if m["type"] == "hists":
                seen_hist_steps.update(it["step"] for it in m["items"])
            elif m["type"] == "steps":
                assert all(s in seen_hist_steps for s in range(m["items"][-1]["step"])), m["seq"]
    finally:
        fake.stop()


def test_histograms_go_one_to_a_message_when_the_server_does_not_offer_hists(spool: str) -> None:
    fake = FakeServer(features=()).start()
    try:
        sent = _log_with_hists(fake, spool, "hists-2")
        assert fake.stored("hists-2", "hists") == []
        assert _unsequenced(fake.stored("hists-2", "hist")) == sent
    finally:
        fake.stop()
