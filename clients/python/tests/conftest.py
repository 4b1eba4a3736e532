from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

# Tiny models on a shared, often busy 2-core machine: intra-op threads only add contention
# (a 200-step loop takes 20x longer with 2 spinning threads under load).
torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO = HERE.parents[2]
SERVER_ENTRY = REPO / "server" / "src" / "server.ts"

from fakeserver import FakeServer  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def fake() -> Iterator[FakeServer]:
    srv = FakeServer().start()
    yield srv
    srv.stop()


@pytest.fixture()
def spool(tmp_path: Path) -> str:
    return str(tmp_path / "spool")


class Server:
    """The real gradwatch server, started from the repository with `npx tsx`."""

    def __init__(self, data_dir: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(data_dir, "server.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> None:
        env = dict(os.environ, GRADWATCH_PORT=str(self.port), GRADWATCH_HOST="127.0.0.1",
                   GRADWATCH_DATA_DIR=self.data_dir)
        env.pop("GRADWATCH_ADMIN_TOKEN", None)
        env.update(self.env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process keeps writing it
        npx = shutil.which("npx") or "npx"
        self.proc = subprocess.Popen([npx, "tsx", "server/src/server.ts"], cwd=str(REPO),
                                     env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def start(self, timeout: float = 90.0) -> None:
        self._spawn()
        deadline = time.monotonic() + timeout
        exits = 0
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                # e.g. the port of a just-killed server is not free yet: try again
                exits += 1
                if exits > 5:
                    raise RuntimeError("the server exited at start:\n" + self.tail())
                time.sleep(0.5)
                self._spawn()
                continue
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become healthy:\n" + self.tail())

    def kill(self) -> None:
        """SIGKILL, no chance to flush anything: what was acked must be on disk already."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the whole process group let go of the port
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def tail(self, n: int = 4000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-n:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ REST
    def get(self, path: str, **query: Any) -> Any:
        url = self.url + "/api/v1" + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read().decode())

    def put(self, path: str, body: Any) -> Any:
        req = urllib.request.Request(self.url + "/api/v1" + path, method="PUT",
                                     data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def export(self, run_id: str, name: str) -> list:
        return self.get(f"/runs/{urllib.parse.quote(run_id)}/series/export", name=name,
                        format="json")["points"]


def _server_or_skip(tmp_path_factory: pytest.TempPathFactory,
                    env: dict[str, str] | None = None) -> Server:
    if not SERVER_ENTRY.exists():
        pytest.skip("server/src/server.ts does not exist yet")
    if shutil.which("npx") is None:
        pytest.fail("npx is not on PATH: run `npm ci` at the repository root")
    srv = Server(str(tmp_path_factory.mktemp("gwdata")), env)
    srv.start()
    return srv


@pytest.fixture(scope="session")
def _session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _server_or_skip(tmp_path_factory)
    yield srv
    srv.stop()


@pytest.fixture()
def server(_session_server: Server) -> Server:
    """The shared server, restarted on its data dir should something have stopped it."""
    if _session_server.proc is None or _session_server.proc.poll() is not None:
        _session_server.start()
    return _session_server


@pytest.fixture()
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the test's own, which the test may kill and restart."""
    srv = _server_or_skip(tmp_path_factory)
    yield srv
    srv.stop()


ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture()
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the test's own that requires a token (GRADWATCH_ADMIN_TOKEN set)."""
    srv = _server_or_skip(tmp_path_factory, {"GRADWATCH_ADMIN_TOKEN": ADMIN_TOKEN})
    yield srv
    srv.stop()


def wait_for(pred: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("GRADWATCH_URL", "GRADWATCH_TOKEN", "GRADWATCH_PROJECT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)


def digits() -> dict[str, Any]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return {"x": d.data.astype("float32"), "y": d.target.astype("int64")}
