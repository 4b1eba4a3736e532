"""Every error code is handled as docs/protocol.md's table says: the client's table equals the
document's, and against the fake server each action does what the document promises
(rejected: consumed, counted, never re-sent; retry/resend/reconnect: stored exactly once in
the end; fatal and unknown codes: no more retrying, the error reaches the user)."""

from __future__ import annotations

import os
import time

import pytest

import gradwatch
from gradwatch.errors import ERROR_ACTIONS, GradwatchError, error_action

from conftest import wait_for
from fakeserver import FakeServer
from protocol_doc import codes_with, doc_error_actions

FATAL = [*codes_with("fatal"), "a_code_from_a_newer_server"]


def received_seqs(fake: FakeServer, seq: int) -> int:
    return sum(1 for m in fake.received if m.get("seq") == seq)


def test_client_table_equals_the_protocol_document() -> None:
    doc = doc_error_actions()
    assert len(doc) >= 20, "the table of docs/protocol.md was not found"
    assert dict(ERROR_ACTIONS) == doc
    assert error_action("a_code_from_a_newer_server") == "fatal"


@pytest.mark.parametrize("code", codes_with("retry", "resend", "reconnect"))
def test_not_consumed_codes_are_sent_again_and_stored_once(fake: FakeServer, spool: str,
                                                           code: str) -> None:
    fake.answer = {2: [code]}
    run = gradwatch.init(fake.url, project="p", id=f"again-{code}", spool_dir=spool)
    run.log(0, loss=0.0)
    assert run.flush(5)
    run.log_eval(0, loss=1.0)  # seq 2: answered with `code`, nothing stored
    for s in range(1, 50):
        run.log(s, loss=float(s))
    assert run.finish(timeout=15) == 0
    rid = run.id
    assert received_seqs(fake, 2) >= 2, "the message was sent again"
    assert [m["metrics"] for m in fake.stored(rid, "eval")] == [{"loss": 1.0}]
    assert [it["step"] for it in fake.items(rid)] == list(range(50))
    seqs = [m["seq"] for m in fake.runs[rid].stored]
    assert seqs == list(range(1, len(seqs) + 1)), "stored exactly once, in order"
    assert run.rejected == {} and run.error is None
    assert len(fake.hellos) == (2 if error_action(code) == "reconnect" else 1)


@pytest.mark.parametrize("code", codes_with("rejected"))
def test_rejected_codes_are_consumed_counted_and_reported_once(
        fake: FakeServer, spool: str, code: str, capsys: pytest.CaptureFixture) -> None:
    fake.answer = {2: [code], 3: [code]}
    run = gradwatch.init(fake.url, project="p", id=f"rej-{code}", spool_dir=spool)
    run.log(0, loss=0.0)
    assert run.flush(5)
    run.log_eval(0, loss=1.0)  # seq 2
    run.log_eval(1, loss=2.0)  # seq 3
    run.log(1, loss=1.0)
    assert run.finish(timeout=10) == 0
    assert received_seqs(fake, 2) == 1 and received_seqs(fake, 3) == 1, "never re-sent"
    assert run.rejected == {code: 2}
    assert fake.stored(run.id, "eval") == []
    assert [it["step"] for it in fake.items(run.id)] == [0, 1], "later messages are stored"
    err = capsys.readouterr().err
    assert err.count(f"rejected a eval message (seq 2): {code}") == 1
    assert "(seq 3)" not in err, "reported once per code"
    assert f"rejected 2 messages of run {run.id} ({code}: 2)" in err


@pytest.mark.parametrize("code", FATAL + codes_with("rejected")[:1])
def test_a_refused_hello_fails_init(fake: FakeServer, spool: str, code: str) -> None:
    fake.hello_errors = [code]
    with pytest.raises(GradwatchError) as ei:
        gradwatch.init(fake.url, project="p", id="refused-1", spool_dir=spool)
    assert ei.value.code == code
    assert "hello refused by the test" in str(ei.value)
    time.sleep(0.5)  # a retry would say hello again after a back-off of about 0.25 s
    assert len(fake.hellos) == 1, "no retry after a fatal code"


@pytest.mark.parametrize("code", codes_with("retry", "reconnect"))
def test_a_hello_answered_with_a_transient_code_is_retried(fake: FakeServer, spool: str,
                                                           code: str) -> None:
    fake.hello_errors = [code]
    run = gradwatch.init(fake.url, project="p", id=f"hello-again-{code}", spool_dir=spool)
    run.log(0, loss=1.0)
    assert run.finish(timeout=15) == 0
    assert len(fake.hellos) == 2
    assert [it["step"] for it in fake.items(run.id)] == [0]


@pytest.mark.parametrize("code", FATAL)
def test_a_fatal_code_mid_run_stops_sending_and_surfaces(
        fake: FakeServer, spool: str, code: str, capsys: pytest.CaptureFixture) -> None:
    run = gradwatch.init(fake.url, project="p", id="fatal-1", spool_dir=spool)
    run.log(0, loss=1.0)
    assert run.flush(5)
    fake.push("fatal-1", {"type": "error", "code": code, "message": "pushed by the test"})
    assert wait_for(lambda: run.error is not None, 5)
    assert run.error is not None and run.error.code == code
    n_received = len(fake.received)
    for s in range(1, 20):
        run.log(s, loss=float(s))  # training goes on; nothing is sent
    t0 = time.monotonic()
    assert run.flush(10) is False
    assert time.monotonic() - t0 < 5, "flush() does not wait out its timeout after a fatal code"
    with pytest.raises(GradwatchError) as ei:
        run.finish(timeout=10)
    assert ei.value.code == code and "pushed by the test" in str(ei.value)
    assert len(fake.received) == n_received and len(fake.hellos) == 1
    assert os.listdir(run.spool_dir), "what was not sent stays in the spool"
    assert "were not delivered" in capsys.readouterr().err


def test_fatal_code_in_a_context_manager_leaves_the_training_exception_alone(
        fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", id="fatal-cm", spool_dir=spool)
    with pytest.raises(KeyError), run:
        run.log(0, loss=1.0)
        assert run.flush(5)
        fake.push("fatal-cm", {"type": "error", "code": "replaced", "message": "x"})
        assert wait_for(lambda: run.error is not None, 5)
        raise KeyError("the training's own error")
    run = gradwatch.init(fake.url, project="p", id="fatal-cm2", spool_dir=spool)
    with pytest.raises(GradwatchError), run:
        run.log(0, loss=1.0)
        assert run.flush(5)
        fake.push("fatal-cm2", {"type": "error", "code": "replaced", "message": "x"})
        assert wait_for(lambda: run.error is not None, 5)


def test_a_gap_does_not_count_uncommitted_messages_as_acked(fake: FakeServer,
                                                            spool: str) -> None:
    """`expected` counts what the server accepted, not what it committed: messages before it
    stay in the outbox (and the spool) until their own ack, so a failed commit loses nothing."""
    seen: list = []
    run = gradwatch.init(fake.url, project="p", id="gap-1", spool_dir=spool,
                         on_alert=seen.append)
    run.log(0, loss=0.0)
    assert run.flush(5)
    fake.hold_acks = True
    for s in range(3):
        run.log_eval(s, loss=float(s))  # seqs 2..4, not acked yet
    assert wait_for(lambda: {m["seq"] for m in fake.received} >= {2, 3, 4}, 5)
    fake.push("gap-1", {"type": "error", "code": "gap", "seq": 9, "expected": 5,
                        "message": "pushed by the test"})
    fake.push("gap-1", {"type": "alert", "alert": {"id": 1, "rule": "r", "severity": "info"}})
    assert wait_for(lambda: seen, 5), "the gap was handled before this alert"
    ob = run._sender.outbox
    assert ob.acked == 1 and [e.seq for e in ob.entries] == [2, 3, 4]
    fake.release_acks()
    assert run.finish(timeout=10) == 0
    assert [m["step"] for m in fake.stored("gap-1", "eval")] == [0, 1, 2]
