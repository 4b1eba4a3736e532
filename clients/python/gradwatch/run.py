"""`gradwatch.init()` and the Run: the training loop's handle on one streamed run."""

from __future__ import annotations

import atexit
import math
import os
import re
import socket
import sys
import threading
import time
import uuid
import weakref
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from . import _sys
from .sender import Sender, _warn

Alert = Dict[str, Any]
AlertCallback = Callable[[Alert], None]

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_RESERVED = ("layer/", "inputs/", "eval/", "derived/")
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _ingest_url(url: str) -> str:
    """Accepts http(s):// or ws(s):// with or without the /v1/ingest path."""
    u = url.strip().rstrip("/")
    if u.startswith("http://"):
        u = "ws://" + u[7:]
    elif u.startswith("https://"):
        u = "wss://" + u[8:]
    elif not (u.startswith("ws://") or u.startswith("wss://")):
        u = "ws://" + u
    if not u.endswith("/v1/ingest"):
        u += "/v1/ingest"
    return u


def _new_run_id() -> str:
    return time.strftime("r-%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:10]


def _to_float(v: Any) -> float:
    if type(v) is float:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        item = getattr(v, "item", None)
        if callable(item):
            return float(item())
        raise


def _dist_rank_world() -> Tuple[Optional[int], Optional[int]]:
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized():
                return dist.get_rank(), dist.get_world_size()
        except Exception:  # noqa: BLE001
            pass
    r, w = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    try:
        return (int(r) if r is not None else None), (int(w) if w is not None else None)
    except ValueError:
        return None, None


_uncaught: List[BaseException] = []
_hook_installed = False


def _install_excepthook() -> None:
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    prev = sys.excepthook

    def hook(tp: Any, value: Any, tb: Any) -> None:
        _uncaught.append(value)
        prev(tp, value, tb)

    sys.excepthook = hook


_live_runs: "weakref.WeakSet[Run]" = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    for run in list(_live_runs):
        try:
            if not run.finished:
                status = "failed" if _uncaught else "completed"
                run.finish(status, timeout=run._exit_timeout)
        except Exception:  # noqa: BLE001
            pass


class Run:
    """One run streamed to a gradwatch server. Create it with `gradwatch.init()`.

    Attributes:
      id, project, name: the run's identity (`id` is the resume key).
      alerts: alerts the server sent back (latest state per alert id, oldest first).
      should_stop: True once an alert of a `stop_on` severity opened or the server sent a
        `stop` command; `stop_reason` says why. Check it in the loop to stop cleanly.
      last_step: the run's last stored step when the server welcomed us (useful on resume).
    """

    def __init__(
        self,
        url: str,
        project: str,
        name: str,
        *,
        run_id: str,
        config: Optional[Mapping[str, Any]] = None,
        tags: Optional[Sequence[str]] = None,
        token: Optional[str] = None,
        rewind_to: Optional[int] = None,
        seq_known: bool = True,
        on_alert: Optional[AlertCallback] = None,
        stop_on: Iterable[str] = (),
        print_alerts: bool = True,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        enabled: bool = True,
        spool_dir: Optional[str] = None,
        framework: Optional[str] = None,
        linger: float = 0.05,
        queue_size: int = 10000,
        sys_interval: float = 1.0,
        exit_timeout: float = 30.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.id = run_id
        self.project = project
        self.name = name
        self.url = url
        self.config: Dict[str, Any] = dict(config or {})
        self.enabled = enabled
        self.finished = False
        self.status: Optional[str] = None
        self.should_stop = False
        self.stop_reason: Optional[str] = None
        self.last_step: Optional[int] = None
        self._alerts: Dict[Any, Alert] = {}
        self._alert_lock = threading.Lock()
        self._on_alert = on_alert
        self._stop_on = {s.lower() for s in stop_on}
        self._print_alerts = print_alerts
        self._last_step = -1
        self._auto_step = 0
        self._names_ok: set = set()
        self._warned_names: set = set()
        self._warned_order = False
        self._sys_interval = sys_interval
        self._sys_wall = 0.0
        self._sys_t = time.monotonic()
        self._sys_step = -1
        self._watchers: List[Any] = []
        self._step_offset = 0
        self._exit_timeout = exit_timeout
        self._eval_inputs_provider: Optional[Callable[[], Optional[Dict[str, float]]]] = None
        self._sender: Optional[Sender] = None
        self.spool_dir: Optional[str] = None
        if not enabled:
            return
        info: Dict[str, Any] = {"id": run_id, "project": project, "name": name}
        if tags:
            info["tags"] = [str(t) for t in tags]
        if self.config:
            info["config"] = self.config
        info["framework"] = framework or ("pytorch" if "torch" in sys.modules else "python")
        info["host"] = socket.gethostname()[:200]
        if rank is not None:
            info["rank"] = rank
        if world_size is not None:
            info["worldSize"] = world_size
        root = spool_dir or os.environ.get("GRADWATCH_SPOOL_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "gradwatch", "spool")
        self.spool_dir = os.path.join(root, run_id.replace(":", "_"))
        self._sender = Sender(
            url, info, token=token, rewind_to=rewind_to, spool_dir=self.spool_dir,
            seq_known=seq_known, queue_size=queue_size, linger=linger,
            connect_timeout=connect_timeout, on_message=self._on_server_message,
            on_welcome=self._on_welcome)
        self._sender.start()
        _live_runs.add(self)
        _install_excepthook()

    # ------------------------------------------------------------------ alerts
    @property
    def alerts(self) -> List[Alert]:
        """Alerts received for this run: the latest state of each, oldest first."""
        with self._alert_lock:
            return list(self._alerts.values())

    def _on_welcome(self, welcome: Dict[str, Any]) -> None:
        ls = welcome.get("lastStep")
        if isinstance(ls, int) and self.last_step is None:
            self.last_step = ls

    def _on_server_message(self, msg: Dict[str, Any]) -> None:
        if msg.get("type") == "command":
            if msg.get("action") == "stop" and not self.should_stop:
                self.should_stop = True
                self.stop_reason = str(msg.get("reason", "the server asked the run to stop"))
                _warn(f"the server asks this run to stop: {self.stop_reason}")
            return
        alert = msg.get("alert")
        if not isinstance(alert, dict):
            return
        key = alert.get("id")
        with self._alert_lock:
            first = key not in self._alerts
            if first:
                self._alerts[key] = alert
            else:  # keep first-seen order, latest state
                self._alerts[key] = alert
        if first and self._print_alerts:
            print(self.format_alert(alert), file=sys.stderr, flush=True)
        sev = str(alert.get("severity", "")).lower()
        if (alert.get("status", "open") == "open" and sev in self._stop_on
                and not self.should_stop):
            self.should_stop = True
            self.stop_reason = f"{sev} alert {alert.get('rule')}"
        if self._on_alert is not None:
            self._on_alert(alert)

    @staticmethod
    def format_alert(alert: Alert) -> str:
        sev = str(alert.get("severity", "?")).upper()
        where = f" in layer {alert['layer']}" if alert.get("layer") else ""
        step = alert.get("firstStep")
        at = f" at step {step}" if step is not None else ""
        status = " (resolved)" if alert.get("status") == "resolved" else ""
        advice = str(alert.get("advice", "")).strip()
        return f"gradwatch [{sev}] {alert.get('rule')}{where}{at}{status}: {advice}"

    # ------------------------------------------------------------------ logging
    def _check_name(self, k: str) -> bool:
        if k in self._names_ok:
            return True
        ok = (isinstance(k, str) and 0 < len(k) <= 200
              and not any(k.startswith(p) for p in _RESERVED))
        if ok:
            self._names_ok.add(k)
        elif k not in self._warned_names:
            self._warned_names.add(k)
            _warn(f"scalar name {k!r} is not allowed (empty, over 200 characters, or starting "
                  f"with one of {', '.join(_RESERVED)}); it is not sent")
        return ok

    def _next_step(self, step: Optional[int]) -> Optional[int]:
        if step is None:
            step = self._last_step + 1 if self._last_step >= 0 else 0
        else:
            try:
                step = int(step)
            except (TypeError, ValueError):
                raise TypeError(f"step must be an integer, got {step!r}") from None
            if step < 0:
                raise ValueError(f"step must be >= 0, got {step}")
        if step < self._last_step:
            if not self._warned_order:
                self._warned_order = True
                _warn(f"step {step} comes after step {self._last_step}; steps must increase "
                      "within a run, so it is not sent (resume with rewind_to to go back)")
            return None
        return step

    def log(self, step: Optional[int] = None, metrics: Optional[Mapping[str, Any]] = None, *,
            epoch: Optional[float] = None, examples: Optional[int] = None,
            **scalars: Any) -> None:
        """Logs scalars (loss=..., lr=...) for a training step; never blocks training beyond a
        bounded queue put. Several calls for the same step are merged. `step` defaults to the
        last step + 1. Values may be floats, ints, numpy or 0-d torch values; NaN/Inf are kept.
        """
        sender = self._sender
        if sender is None or self.finished:
            return
        if metrics:
            merged = dict(metrics)
            merged.update(scalars)
            scalars = merged
        s = self._next_step(step)
        if s is None:
            return
        names_ok = self._names_ok
        vals: Dict[str, float] = {}
        for k, v in scalars.items():
            if k in names_ok or self._check_name(k):
                vals[k] = v if type(v) is float else _to_float(v)
        t = time.time()
        if self._watchers:
            it = self._watchers[0].current_iteration()
            if it is not None:
                self._step_offset = s - it
        elif t - self._sys_wall >= self._sys_interval:
            self._sys_wall = t
            vals.update(self._sys_scalars(s))
        self._last_step = s
        sender.put(("log", s, vals, epoch, examples, None, None, t))

    def _sys_scalars(self, step: int) -> Dict[str, float]:
        out = _sys.sys_scalars()
        now = time.monotonic()
        if self._sys_step >= 0 and step > self._sys_step and now > self._sys_t:
            out["sys/steps_per_s"] = (step - self._sys_step) / (now - self._sys_t)
        self._sys_t, self._sys_step = now, step
        return out

    def _log_report(self, step: int, scalars: Dict[str, float],
                    layers: Optional[Dict[str, Any]], inputs: Optional[Dict[str, float]],
                    examples: Optional[int], hists: Sequence[Dict[str, Any]]) -> None:
        """Entry point for watch(): a reporting step's stats (already on the host)."""
        sender = self._sender
        if sender is None or self.finished:
            return
        if step < self._last_step:
            step = self._last_step
        self._last_step = step
        sender.put(("log", step, scalars, None, examples, layers, inputs, time.time()))
        for h in hists:
            h = dict(h)
            h["step"] = step
            sender.put(("msg", h))

    def _send(self, msg: Dict[str, Any]) -> None:
        if self._sender is not None and not self.finished:
            self._sender.put(("msg", msg))

    def log_eval(self, step: Optional[int] = None, metrics: Optional[Mapping[str, Any]] = None,
                 *, split: str = "val", epoch: Optional[float] = None,
                 inputs: Optional[Mapping[str, float]] = None, **kw: Any) -> None:
        """Logs evaluation metrics (loss=..., acc=...) at a step for split "val" or "test".
        With watch(), the input statistics of the eval-mode forward passes since the last
        call ride along."""
        if self._sender is None or self.finished:
            return
        if split not in ("val", "test"):
            raise ValueError('split must be "val" or "test"')
        m = dict(metrics or {})
        m.update(kw)
        step_i = int(step) if step is not None else max(self._last_step, 0)
        vals = {k: _to_float(v) for k, v in m.items() if isinstance(k, str) and 0 < len(k) <= 200}
        msg: Dict[str, Any] = {"type": "eval", "step": step_i, "split": split, "metrics": vals}
        if epoch is not None:
            msg["epoch"] = epoch
        if inputs is None:
            for w in self._watchers:
                inputs = w.take_eval_inputs()
                if inputs is not None:
                    break
        if inputs is not None:
            msg["inputs"] = dict(inputs)
        self._send(msg)

    # ------------------------------------------------------------------ torch
    def watch(self, model: Any, optimizer: Any = None, criterion: Any = None, every: int = 10,
              hist_every: Optional[int] = None, log_inputs: bool = True,
              hist_bins: int = 32) -> Any:
        """Streams per-layer statistics of a PyTorch model every `every` optimizer steps:
        param/grad/update/activation stats, input-batch stats, histograms every `hist_every`
        steps (default 10 x every), and the model's structure after the first forward pass.
        Returns the watcher (call `.remove()` or `run.unwatch()` to detach)."""
        from .watch import Watcher  # torch is imported only here

        w = Watcher(self, model, optimizer=optimizer, criterion=criterion, every=every,
                    hist_every=hist_every, log_inputs=log_inputs, hist_bins=hist_bins)
        if self.enabled:
            self._watchers.append(w)
        return w

    def unwatch(self) -> None:
        for w in self._watchers:
            w.remove()
        self._watchers = []

    # ------------------------------------------------------------------ lifecycle
    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything logged so far is acknowledged by the server."""
        sender = self._sender
        if sender is None:
            return True
        ev = threading.Event()
        if not sender.put(("flush", ev), block_timeout=timeout):
            return False
        sender.wake()
        return ev.wait(timeout) and sender.acked >= 0 and not sender.undelivered()[0]

    def finish(self, status: str = "completed", timeout: float = 30.0) -> int:
        """Ends the run: sends `end {status}`, waits up to `timeout` s for the server to
        acknowledge everything, and returns how many messages could not be delivered (they
        stay in the spool; `init(id=..., resume=True)` delivers them later)."""
        if self.finished:
            return 0
        self.finished = True
        self.status = status
        for w in self._watchers:
            try:
                w.remove()
            except Exception:  # noqa: BLE001
                pass
        sender = self._sender
        _live_runs.discard(self)
        if sender is None:
            return 0
        if status not in ("completed", "failed", "stopped"):
            raise ValueError('status must be "completed", "failed" or "stopped"')
        sender.put(("msg", {"type": "end", "status": status}), block_timeout=1.0)
        sender.stop(timeout)
        sender.join(timeout + 5.0)
        n, first, last = sender.undelivered()
        if n:
            span = f" (seq {first}..{last})" if first is not None else ""
            why = sender.fatal or (f"the server at {self.url} did not acknowledge them within "
                                   f"{timeout:g} s")
            _warn(f"{n} messages of run {self.id}{span} were not delivered: {why}. They are kept "
                  f"in {self.spool_dir}; gradwatch.init(id={self.id!r}, resume=True) "
                  "delivers them.")
        if sender.dropped:
            _warn(f"{sender.dropped} log calls were dropped because the send queue was full")
        return n

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, tp: Any, value: Any, tb: Any) -> None:
        if tp is None:
            self.finish("stopped" if self.should_stop else "completed")
        elif issubclass(tp, KeyboardInterrupt):
            self.finish("stopped")
        else:
            self.finish("failed")

    # ------------------------------------------------------------------ info
    @property
    def connected(self) -> bool:
        return self._sender is not None and self._sender.connected

    @property
    def pending(self) -> int:
        """Messages sent or queued but not yet acknowledged."""
        return 0 if self._sender is None else self._sender.undelivered()[0]

    def __repr__(self) -> str:
        return f"<gradwatch.Run {self.id} project={self.project!r} name={self.name!r}>"


def init(
    url: Optional[str] = None,
    project: Optional[str] = None,
    name: Optional[str] = None,
    config: Optional[Mapping[str, Any]] = None,
    token: Optional[str] = None,
    *,
    id: Optional[str] = None,  # noqa: A002 - the protocol's name
    resume: bool = False,
    rewind_to: Optional[int] = None,
    tags: Optional[Sequence[str]] = None,
    on_alert: Optional[AlertCallback] = None,
    stop_on: Union[Iterable[str], str] = (),
    print_alerts: bool = True,
    rank: Optional[int] = None,
    world_size: Optional[int] = None,
    all_ranks: bool = False,
    spool_dir: Optional[str] = None,
    framework: Optional[str] = None,
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
    if resume and run._sender is not None:
        # learn where the stored run ends (welcome.lastStep) before training continues
        run._sender.welcomed.wait(connect_timeout)
    return run


def _finite(v: float) -> bool:
    return math.isfinite(v)
