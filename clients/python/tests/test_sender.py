"""Delivery against an in-process fake server: batching, acks, reconnects and re-sends with
nothing lost and nothing duplicated, the spool, alerts and commands coming back."""

from __future__ import annotations

import math
import os
import time

import pytest

import gradwatch

from conftest import free_port, wait_for
from fakeserver import FakeServer


def steps_of(fake: FakeServer, run_id: str) -> list:
    return [it["step"] for it in fake.items(run_id)]


def assert_contiguous(fake: FakeServer, run_id: str) -> None:
    seqs = [m["seq"] for m in fake.runs[run_id].stored]
    assert seqs == list(range(1, len(seqs) + 1)) or seqs == sorted(set(seqs)), seqs


def test_log_batches_and_delivers(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", name="n", config={"lr": 0.1}, spool_dir=spool)
    for s in range(500):
        run.log(s, loss=1.0 / (s + 1), lr=0.1)
    assert run.finish(timeout=10) == 0
    assert steps_of(fake, run.id) == list(range(500))
    loss = [it["scalars"]["loss"] for it in fake.items(run.id)]
    assert loss == pytest.approx([1.0 / (s + 1) for s in range(500)])
    steps_msgs = fake.stored(run.id, "steps")
    assert len(steps_msgs) < 100, "steps were not batched"
    assert fake.stored(run.id)[-1] == {"type": "end", "seq": len(fake.runs[run.id].stored),
                                      "status": "completed"}
    hello = fake.hellos[0]
    assert hello["protocol"] == 1 and hello["run"]["config"] == {"lr": 0.1}
    assert hello["run"]["project"] == "p" and hello["run"]["name"] == "n"
    assert not os.path.exists(run.spool_dir), "the spool is removed once everything is acked"


def test_batches_respect_welcome_limits(spool: str) -> None:
    fake = FakeServer(limits={"maxItemsPerMessage": 7, "maxFrameBytes": 3000}).start()
    try:
        run = gradwatch.init(fake.url, project="p", id="lim-1", spool_dir=spool)
        assert run._sender.welcomed.wait(5)
        for s in range(100):
            run.log(s, **{f"m{i}": float(i) for i in range(10)})
        assert run.finish(timeout=10) == 0
        msgs = fake.stored("lim-1", "steps")
        assert all(len(m["items"]) <= 7 for m in msgs)
        assert steps_of(fake, "lim-1") == list(range(100))
    finally:
        fake.stop()


def test_same_step_is_merged_and_nan_kept(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", spool_dir=spool)
    run.log(0, loss=2.0)
    run.log(0, acc=0.5, epoch=1)
    run.log(1, loss=math.nan, gn=math.inf)
    run.log(2, {"loss": -math.inf})
    run.finish(timeout=10)
    items = fake.items(run.id)
    assert [i["step"] for i in items] == [0, 1, 2]
    assert items[0]["scalars"]["loss"] == 2.0 and items[0]["scalars"]["acc"] == 0.5
    assert items[0]["epoch"] == 1
    assert items[1]["scalars"] == {"loss": "NaN", "gn": "Infinity"}
    assert items[2]["scalars"]["loss"] == "-Infinity"


def test_bad_names_and_backward_steps_are_not_sent(fake: FakeServer, spool: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    run = gradwatch.init(fake.url, project="p", spool_dir=spool)
    run.log(5, loss=1.0, **{"layer/x": 1.0})
    run.log(3, loss=2.0)  # backwards: refused with a warning, the batch is not poisoned
    run.log(6, loss=3.0)
    run.finish(timeout=10)
    assert steps_of(fake, run.id) == [5, 6]
    assert "layer/x" not in fake.items(run.id)[0]["scalars"]
    err = capsys.readouterr().err
    assert "not allowed" in err and "steps must increase" in err


def test_reconnect_resends_nothing_lost_nothing_duplicated(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", id="rc-1", spool_dir=spool)
    n = 0
    for _ in range(4):
        fake.drop_after = 2  # store two messages, then drop the socket before acking
        for _ in range(300):
            run.log(n, loss=float(n))
            n += 1
            if n % 50 == 0:
                time.sleep(0.06)  # let a few batches go out
        wait_for(lambda: fake.drop_after is None, 5)
    assert run.finish(timeout=15) == 0
    assert steps_of(fake, "rc-1") == list(range(n))
    assert [it["scalars"]["loss"] for it in fake.items("rc-1")] == [float(i) for i in range(n)]
    seqs = [m["seq"] for m in fake.runs["rc-1"].stored]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(fake.hellos) >= 5, "the client reconnected after each drop"


def test_server_restart_on_same_port(spool: str) -> None:
    fake = FakeServer().start()
    port = fake.port
    run = gradwatch.init(fake.url, project="p", id="rs-1", spool_dir=spool)
    for s in range(100):
        run.log(s, loss=float(s))
    assert run.flush(10)
    runs = fake.runs
    fake.stop()
    for s in range(100, 200):  # server down: buffered, training not blocked
        t0 = time.perf_counter()
        run.log(s, loss=float(s))
        assert time.perf_counter() - t0 < 0.05
    fake2 = FakeServer()
    fake2.runs = runs  # same "database"
    fake2.start(port)
    try:
        assert run.finish(timeout=20) == 0
        assert steps_of(fake2, "rs-1") == list(range(200))
    finally:
        fake2.stop()


def test_unreachable_server_warns_once_and_keeps_spool(spool: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    port = free_port()
    run = gradwatch.init(f"http://127.0.0.1:{port}", project="p", id="un-1", spool_dir=spool)
    t0 = time.perf_counter()
    for s in range(2000):
        run.log(s, loss=float(s))
    assert time.perf_counter() - t0 < 2.0, "log() must not block on an unreachable server"
    time.sleep(0.5)
    t0 = time.perf_counter()
    left = run.finish(timeout=30)
    assert time.perf_counter() - t0 < 6, "finish() must not hang on a dead server"
    assert left > 0
    err = capsys.readouterr().err
    assert err.count("cannot reach the server") == 1
    assert "not delivered" in err and "resume=True" in err
    # a new process resumes the run once the server is up: the spool is delivered
    fake = FakeServer().start(port)
    try:
        run2 = gradwatch.init(f"http://127.0.0.1:{port}", project="p", id="un-1", resume=True,
                              spool_dir=spool)
        for s in range(2000, 2010):
            run2.log(s, loss=float(s))
        assert run2.finish(timeout=20) == 0
        assert steps_of(fake, "un-1") == list(range(2010))
        ends = fake.stored("un-1", "end")
        assert [e["status"] for e in ends] == ["completed", "completed"]
    finally:
        fake.stop()


def test_resume_with_rewind(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", id="rw-1", spool_dir=spool)
    for s in range(50):
        run.log(s, loss=float(s))
    run.finish(timeout=10)
    run2 = gradwatch.init(fake.url, project="p", id="rw-1", resume=True, rewind_to=30,
                          spool_dir=spool)
    assert run2.last_step == 29
    for s in range(30, 40):
        run2.log(s, loss=-float(s))
    run2.finish(timeout=10)
    assert fake.hellos[1]["rewindTo"] == 30
    assert steps_of(fake, "rw-1") == list(range(40))
    assert fake.items("rw-1")[35]["scalars"]["loss"] == -35.0
    seqs = [m["seq"] for m in fake.runs["rw-1"].stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_validation_error_consumes_seq(fake: FakeServer, spool: str,
                                       capsys: pytest.CaptureFixture) -> None:
    fake.reject = {2}
    run = gradwatch.init(fake.url, project="p", spool_dir=spool)
    run.log(0, loss=1.0)
    assert run.flush(5)
    run.log_eval(0, loss=1.0)  # seq 2: rejected
    run.log(1, loss=1.0)
    assert run.finish(timeout=10) == 0
    assert "rejected" in capsys.readouterr().err
    assert steps_of(fake, run.id) == [0, 1]


def test_alerts_and_stop_command(fake: FakeServer, spool: str,
                                 capsys: pytest.CaptureFixture) -> None:
    seen = []
    run = gradwatch.init(fake.url, project="p", id="al-1", spool_dir=spool,
                         on_alert=seen.append, stop_on=("critical",))
    run.log(0, loss=1.0)
    assert run.flush(5)
    alert = {"id": 7, "runId": "al-1", "project": "p", "rule": "lr.update_ratio_high",
             "section": "Learning rate", "severity": "warning", "status": "open",
             "acknowledged": False, "muted": False, "layer": "fc1", "firstStep": 3,
             "lastStep": 3, "evidence": {}, "advice": "Lower the learning rate.",
             "createdAt": "", "updatedAt": ""}
    fake.push("al-1", {"type": "alert", "alert": alert})
    fake.push("al-1", {"type": "alert", "alert": dict(alert, lastStep=9)})
    assert wait_for(lambda: len(seen) == 2, 5)
    assert not run.should_stop
    fake.push("al-1", {"type": "alert", "alert": dict(alert, id=8, rule="nan.detected",
                                                        severity="critical")})
    assert wait_for(lambda: run.should_stop, 5)
    assert [a["id"] for a in run.alerts] == [7, 8]
    assert run.alerts[0]["lastStep"] == 9
    err = capsys.readouterr().err
    assert err.count("lr.update_ratio_high") == 1, "printed once per alert id"
    assert "[WARNING] lr.update_ratio_high in layer fc1 at step 3: Lower the learning rate." in err
    run.finish()

    run2 = gradwatch.init(fake.url, project="p", id="al-2", spool_dir=spool)
    run2.log(0, loss=1.0)
    assert run2.flush(5)
    fake.push("al-2", {"type": "command", "action": "stop", "reason": "rule fired"})
    assert wait_for(lambda: run2.should_stop, 5)
    assert run2.stop_reason == "rule fired"
    run2.finish()


def test_context_manager_marks_failure(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", id="cm-1", spool_dir=spool)
    with pytest.raises(RuntimeError), run:
        run.log(0, loss=1.0)
        raise RuntimeError("boom")
    assert fake.stored("cm-1", "end")[0]["status"] == "failed"
    with gradwatch.init(fake.url, project="p", id="cm-2", spool_dir=spool) as run:
        run.log(0, loss=1.0)
    assert fake.stored("cm-2", "end")[0]["status"] == "completed"


def test_environment_variables(fake: FakeServer, spool: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADWATCH_URL", f"http://127.0.0.1:{fake.port}")
    monkeypatch.setenv("GRADWATCH_PROJECT", "envproj")
    monkeypatch.setenv("GRADWATCH_TOKEN", "tok-123")
    run = gradwatch.init(name="from-env", spool_dir=spool)
    run.log(0, loss=1.0)
    run.finish(timeout=10)
    h = fake.hellos[0]
    assert h["run"]["project"] == "envproj" and h["token"] == "tok-123"


def test_only_rank_zero_sends(fake: FakeServer, spool: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    r1 = gradwatch.init(fake.url, project="p", id="dist-1", spool_dir=spool)
    r1.log(0, loss=1.0)
    assert r1.finish() == 0 and not r1.enabled
    monkeypatch.setenv("RANK", "0")
    r0 = gradwatch.init(fake.url, project="p", id="dist-1", spool_dir=spool)
    r0.log(0, loss=1.0)
    r0.finish(timeout=10)
    assert len(fake.hellos) == 1
    assert fake.hellos[0]["run"]["worldSize"] == 4 and fake.hellos[0]["run"]["rank"] == 0


def test_log_cost_is_small(fake: FakeServer, spool: str) -> None:
    run = gradwatch.init(fake.url, project="p", spool_dir=spool)
    n = 20000
    t0 = time.perf_counter()
    for s in range(n):
        run.log(s, loss=0.5)
    per = (time.perf_counter() - t0) / n
    assert run.finish(timeout=30) == 0
    assert len(fake.items(run.id)) == n
    assert per < 200e-6  # generous: the benchmark reports the real figure
