"""Histograms of a TensorBoard import travel many to a `hists` message when the real server
offers it, single `hist` messages when it does not, and every one comes back over REST."""

from __future__ import annotations

import io
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from gradwatch import connection, outbox
from gradwatch.importers.tb_runs import run_id
from gradwatch.importers.tensorboard import import_logdir

from conftest import Server

STEPS, LAYERS, EVERY = 120, 30, 4


def write_logs(folder: Path) -> None:
    """Weight histograms of LAYERS layers every EVERY steps, each with counts of its own."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
    from tensorboard.summary.writer import record_writer

    folder.mkdir(parents=True)
    with open(folder / "events.out.tfevents.1.test.0", "wb") as f:
        w = record_writer.RecordWriter(f)
        for s in range(STEPS):
            ev = Event(step=s, wall_time=1.8e9 + s)
            ev.summary.value.add(tag="loss", simple_value=1.0 / (1 + s))
            w.write(ev.SerializeToString())
            if s % EVERY:
                continue
            for i in range(LAYERS):
                counts = [0.0] + [float((s * 7 + i * 3 + b) % 11) for b in range(8)]
                limits = [-0.4 + 0.1 * b for b in range(9)]
                h = HistogramProto(min=-0.39, max=0.39, num=sum(counts), sum=0.0,
                                   sum_squares=sum(counts) * 0.01, bucket_limit=limits,
                                   bucket=counts)
                w.write(Event(step=s, wall_time=1.8e9 + s, summary=Summary(
                    value=[Summary.Value(tag=f"layer{i}.weight", histo=h)])).SerializeToString())


def stored(server: Server, rid: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(LAYERS):
        got = server.get(f"/runs/{urllib.parse.quote(rid, safe='')}/histograms",
                         layer=f"layer{i}", limit=1000)["histograms"]
        out.extend(got)
    return sorted(out, key=lambda h: (h["step"], h["layer"], h["of"]))


def run_import(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               offered: bool) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Imports a fresh log folder; returns the kinds sequenced, the histograms the importer
    handed to the sender (what single messages would carry) and what the server holds."""
    logdir = tmp_path / "logs"
    write_logs(logdir / "h")
    kinds: list[str] = []
    sent: list[dict[str, Any]] = []
    seq_orig = outbox.Outbox.sequence

    def sequence(self: outbox.Outbox, kind: str, body: str) -> None:
        kinds.append(kind)
        for item in (json.loads(body)["items"] if kind == "hists"
                     else [json.loads(body)] if kind == "hist" else []):
            sent.append({k: v for k, v in item.items() if k != "type"})
        seq_orig(self, kind, body)

    monkeypatch.setattr(outbox.Outbox, "sequence", sequence)
    if not offered:  # plays a server that predates `hists`
        welcome_orig = connection.Connection._on_welcome

        def on_welcome(self: connection.Connection, welcome: dict[str, Any]) -> None:
            welcome_orig(self, {k: v for k, v in welcome.items() if k != "features"})

        monkeypatch.setattr(connection.Connection, "_on_welcome", on_welcome)
    project = "hists" + ("on" if offered else "off")
    res = import_logdir(str(logdir), server.url, project, quiet=True, out=io.StringIO())
    assert [r.outcome for r in res] == ["imported"], res
    assert res[0].hists == STEPS // EVERY * LAYERS
    rid = run_id(project, os.path.join(str(logdir), "h"), "h")
    return kinds, sorted(sent, key=lambda h: (h["step"], h["layer"], h["of"])), stored(server, rid)


def test_import_sends_hists_and_every_histogram_comes_back(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds, sent, got = run_import(server, tmp_path, monkeypatch, offered=True)
    assert "hist" not in kinds
    n = STEPS // EVERY * LAYERS
    # many to a message: far fewer messages than histograms
    assert 0 < kinds.count("hists") <= n // LAYERS
    assert len(sent) == n
    assert got == sent
    # what the importer read from the file: layer i's counts at step s
    first = next(h for h in got if h["step"] == 8 and h["layer"] == "layer3")
    assert first["of"] == "param"
    assert first["counts"] == [(8 * 7 + 3 * 3 + b) % 11 for b in range(8)]
    assert first["edges"] == pytest.approx([-0.4 + 0.1 * b for b in range(9)], abs=1e-6)


def test_import_falls_back_to_single_hist_messages(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds, sent, got = run_import(server, tmp_path, monkeypatch, offered=False)
    assert "hists" not in kinds
    assert kinds.count("hist") == STEPS // EVERY * LAYERS
    assert got == sent
