"""The import command and a run's whole stored state, for the TensorBoard import tests."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from gradwatch.cli import main

from conftest import Server

PROJECT = "tbimport"


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def cli(server: Server, logdir: str, capsys: pytest.CaptureFixture, project: str = PROJECT,
        *extra: str) -> tuple[int, str, str]:
    rc = main(["import", "tensorboard", logdir, "--url", server.url, "--project", project,
               *extra])
    got = capsys.readouterr()
    return rc, got.out, got.err


def snapshot(server: Server, rid: str) -> dict[str, Any]:
    d = server.get(f"/runs/{q(rid)}")
    series = server.get(f"/runs/{q(rid)}/series")["series"]
    return {"detail": d, "series": series,
            "points": {s["name"]: server.export(rid, s["name"]) for s in series},
            "hists": server.get(f"/runs/{q(rid)}/histograms", limit=1000)["histograms"],
            "alerts": server.get(f"/runs/{q(rid)}/alerts")["alerts"]}

