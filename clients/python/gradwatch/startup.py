"""`gradwatch.init()`: turns arguments and GRADWATCH_* / torch.distributed environment into
a `Run`, checking ids and names up front so mistakes fail before training starts."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .alerts import AlertCallback
from .errors import GradwatchError
from .run import Run

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def http_base(url: str) -> str:
    """http(s)://host:port for a url given as http(s) or ws(s), with or without a path."""
    u = url.strip().rstrip("/")
    if u.startswith("ws://"):
        u = "http://" + u[5:]
    elif u.startswith("wss://"):
        u = "https://" + u[6:]
    elif not u.startswith(("http://", "https://")):
        u = "http://" + u
    if u.endswith("/v1/ingest"):
        u = u[: -len("/v1/ingest")]
    return u


def _ingest_url(url: str) -> str:
    """Accepts http(s):// or ws(s):// with or without the /v1/ingest path."""
    return "ws" + http_base(url)[len("http"):] + "/v1/ingest"


def _new_run_id() -> str:
    return time.strftime("r-%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:10]


def _dist_rank_world() -> tuple[int | None, int | None]:
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized():
                return dist.get_rank(), dist.get_world_size()
    r, w = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    try:
        return (int(r) if r is not None else None), (int(w) if w is not None else None)
    except ValueError:
        return None, None


def init(
    url: str | None = None,
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    token: str | None = None,
    *,
    id: str | None = None,  # the protocol's name for the resume key
    resume: bool = False,
    rewind_to: int | None = None,
    tags: Sequence[str] | None = None,
    on_alert: AlertCallback | None = None,
    stop_on: Iterable[str] | str = (),
    print_alerts: bool = True,
    rank: int | None = None,
    world_size: int | None = None,
    all_ranks: bool = False,
    spool_dir: str | None = None,
    framework: str | None = None,
    linger: float = 0.05,
    queue_size: int = 10000,
    connect_timeout: float = 5.0,
    exit_timeout: float = 30.0,
) -> Run:
    """Starts (or resumes) a run and returns its `Run`.

    url, token and project default to GRADWATCH_URL, GRADWATCH_TOKEN and GRADWATCH_PROJECT
    (url falls back to http://127.0.0.1:8080). `id` is the resume key: with `resume=True` a
    new process continues the run with that id; `rewind_to=step` (the checkpoint's step)
    discards what the server stored at or after that step first. Under torch.distributed
    (or RANK/WORLD_SIZE set) only rank 0 sends unless `all_ranks=True`; `worldSize` goes in
    hello. Alerts that come back are printed once each, kept in `run.alerts` and passed to
    `on_alert`; an alert whose severity is in `stop_on` (e.g. ("critical",)) sets
    `run.should_stop`, as does the server's stop command.

    Raises GradwatchError when the server refuses the run for good (a bad token, a project
    the token may not write, an unsupported protocol); an unreachable server only warns.
    """
    url = url or os.environ.get("GRADWATCH_URL") or "http://127.0.0.1:8080"
    token = token or os.environ.get("GRADWATCH_TOKEN") or None
    project = project or os.environ.get("GRADWATCH_PROJECT") or "default"
    if not _PROJECT.match(project):
        raise ValueError(f"project {project!r} must match {_PROJECT.pattern}")
    if resume and not id:
        raise ValueError("resume=True needs the id of the run to resume")
    if rewind_to is not None and (not isinstance(rewind_to, int) or rewind_to < 0):
        raise ValueError("rewind_to must be a step (an integer >= 0)")
    run_id = id or _new_run_id()
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} must match {_RUN_ID.pattern}")
    name = (name or run_id)[:200]
    if isinstance(stop_on, str):
        stop_on = (stop_on,)
    r, w = _dist_rank_world()
    rank = rank if rank is not None else r
    world_size = world_size if world_size is not None else w
    enabled = all_ranks or not rank
    cfg = dict(config or {})
    if world_size is not None and "worldSize" not in cfg:
        cfg["worldSize"] = world_size
    run = Run(
        _ingest_url(url), project, name, run_id=run_id, config=cfg, tags=tags, token=token,
        rewind_to=rewind_to, seq_known=id is None, on_alert=on_alert, stop_on=stop_on,
        print_alerts=print_alerts, rank=rank, world_size=world_size, enabled=enabled,
        spool_dir=spool_dir, framework=framework, linger=linger, queue_size=queue_size,
        exit_timeout=exit_timeout, connect_timeout=connect_timeout)
    sender = run._sender
    if sender is not None:
        # A refused token or project fails here rather than after the training; an
        # unreachable server only warns (data is spooled). A resumed run waits for the
        # welcome so that `last_step` says where the stored run ends.
        sender.conn.first_outcome.wait(connect_timeout)
        if resume:
            sender.welcomed.wait(connect_timeout)
        if sender.fatal is not None:
            run._abandon()
            raise GradwatchError(sender.fatal.code, sender.fatal.message)
    return run
