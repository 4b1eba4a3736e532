"""`gradwatch import tensorboard` again and again: a folder that grew, an import interrupted
(killed, or stopped with Ctrl-C) and resumed, and event files cut short or corrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tb_import_cli import cli, q
from tb_logs import f32, write_run

from gradwatch.importers.tb_runs import run_id

from conftest import Server

# Its own project: the tests of test_import_tensorboard.py list theirs on the same server.
PROJECT = "tbresume"


def test_a_grown_folder_adds_only_the_new_steps(server: Server, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "logs" / "grow"
    first = write_run(str(folder), lr=0.1, steps=30, hparams=False)
    rc, out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0, err
    rid = run_id(PROJECT, str(folder), "grow")
    assert len(server.export(rid, "loss")) == 30
    # training went on in the same folder (a new writer, a second event file)
    more = write_run(str(folder), lr=0.1, steps=30, start=30, hparams=False)
    rc, out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0 and "imported 30 steps" in out, out + err
    pts = server.export(rid, "loss")
    want = {**first.scalars["Loss/train"], **more.scalars["Loss/train"]}
    assert [p[0] for p in pts] == list(range(60))
    assert [p[1] for p in pts] == pytest.approx([f32(want[s]) for s in range(60)], rel=1e-7)
    hists = server.get(f"/runs/{q(rid)}/histograms", limit=1000)["histograms"]
    assert len(hists) == 4 * 6
    assert len(server.export(rid, "eval/val/loss")) == 3


def test_an_interrupted_import_resumes_from_the_last_step(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "logs" / "resume"
    logged = write_run(str(folder), lr=0.1, steps=60, hparams=False)
    rid = run_id(PROJECT, str(folder), "resume")
    losses = logged.scalars["Loss/train"]
    # A previous import that died: it stored steps 0..29 (the last of them wrong, as if cut
    # mid-step) and a histogram ahead of them, and never sent `end`.
    script = textwrap.dedent(f"""
        import os, gradwatch
        run = gradwatch.init({server.url!r}, {PROJECT!r}, name="resume", id={rid!r},
                             spool_dir={str(tmp_path / 'spool')!r}, print_alerts=False)
        for s in range(29):
            run.log(s, loss={losses!r}[s])
        run.log(29, loss=123.0)
        run._send({{"type": "hist", "step": 40, "layer": "0", "of": "param",
                    "edges": [0.0, 1.0], "counts": [5]}})
        assert run.flush(30)
        os._exit(0)
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert server.get(f"/runs/{q(rid)}")["status"] in ("live", "stale")
    rc, _out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0, err
    pts = server.export(rid, "loss")
    assert [p[0] for p in pts] == list(range(60))
    assert [p[1] for p in pts] == pytest.approx([f32(losses[s]) for s in range(60)], rel=1e-7)
    d = server.get(f"/runs/{q(rid)}")
    assert d["status"] == "completed"
    assert [e["step"] for e in d["events"] if e["kind"] == "rewind"] == [29]
    hists = server.get(f"/runs/{q(rid)}/histograms", layer="0", of="param",
                       limit=100)["histograms"]
    # what the server held before step 29 is kept (this fake import sent no histograms
    # there); from 29 on everything is the folder's, the stray histogram at 40 replaced
    assert sorted(h["step"] for h in hists) == [30, 40, 50]
    assert all(h["counts"] != [5] for h in hists)


def _event_file(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if "tfevents" in p.name)


def test_a_truncated_file_imports_up_to_its_last_good_record(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "logs" / "cut"
    logged = write_run(str(folder), lr=0.1, steps=60, hparams=False)
    ev = _event_file(folder)
    data = ev.read_bytes()
    ev.write_bytes(data[: len(data) * 2 // 3 + 7])  # mid-record
    rc, _out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0
    assert str(ev) in err and "truncated or corrupt" in err
    rid = run_id(PROJECT, str(folder), "cut")
    pts = server.export(rid, "loss")
    want = [f32(v) for _, v in sorted(logged.scalars["Loss/train"].items())]
    assert 10 < len(pts) < 60
    assert [p[1] for p in pts] == pytest.approx(want[: len(pts)], rel=1e-7)


def test_a_corrupt_record_stops_the_file_with_a_warning(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "logs" / "flip"
    logged = write_run(str(folder), lr=0.1, steps=60, hparams=False)
    ev = _event_file(folder)
    data = bytearray(ev.read_bytes())
    data[len(data) // 2] ^= 0xFF  # fails that record's checksum
    ev.write_bytes(bytes(data))
    rc, _out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0
    assert str(ev) in err
    pts = server.export(run_id(PROJECT, str(folder), "flip"), "loss")
    want = [f32(v) for _, v in sorted(logged.scalars["Loss/train"].items())]
    assert 5 < len(pts) < 60
    assert [p[1] for p in pts] == pytest.approx(want[: len(pts)], rel=1e-7)


def test_ctrl_c_then_import_again_gives_the_whole_run(server: Server, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    import urllib.error

    from torch.utils.tensorboard import SummaryWriter

    folder = tmp_path / "logs" / "long"
    n = 120_000  # long enough that the import is still sending when the interrupt lands
    with SummaryWriter(str(folder)) as w:
        for s in range(n):
            w.add_scalar("loss", 1.0 + s * 1e-4, s)
    rid = run_id(PROJECT, str(folder), "long")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    p = subprocess.Popen([sys.executable, "-m", "gradwatch", "import", "tensorboard",
                          str(tmp_path / "logs"), "--url", server.url, "--project", PROJECT],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None:
        try:
            if (server.get(f"/runs/{q(rid)}")["lastStep"] or 0) > 0:
                break
        except urllib.error.HTTPError:  # not created yet
            pass
        time.sleep(0.05)
    interrupted = p.poll() is None
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert interrupted, "the import finished before it could be interrupted"
    assert p.returncode == 130 and "importing the same folder again continues" in err, err
    partial = server.get(f"/runs/{q(rid)}")
    # what was queued was delivered and the run ended: a prefix of the stream
    assert partial["status"] == "stopped" and partial["lastStep"] < n - 1, (partial, err)
    assert [s for s, _ in server.export(rid, "loss")] == list(range(partial["lastStep"] + 1))
    rc, _out, err = cli(server, str(tmp_path / "logs"), capsys, PROJECT)
    assert rc == 0, err
    pts = server.export(rid, "loss")
    assert [s for s, _ in pts] == list(range(n))
    assert server.get(f"/runs/{q(rid)}")["status"] == "completed"

