"""The Run: the training loop's handle on one streamed run (create it with
`gradwatch.init()`, in startup.py). Logging never blocks training: values go into the sender's
bounded queue and everything else happens on the sender thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import _sys
from ._warn import warn
from .alerts import AlertCallback, AlertsMixin
from .diagnosis import DiagnosisMixin
from .end_report import report_end
from .errors import GradwatchError
from .hello import hello_run, spool_path
from .scalars import ScalarNames, eval_message, to_float
from .sender import Sender
from .shutdown import install_excepthook, live_runs
from .watching import WatchingMixin


class Run(DiagnosisMixin, AlertsMixin, WatchingMixin):
    """One run streamed to a gradwatch server. Create it with `gradwatch.init()`.

    Attributes:
      id, project, name: the run's identity (`id` is the resume key).
      alerts: alerts the server sent back (latest state per alert id, oldest first).
      diagnosis: the server's top verdict on what is wrong (a warning or critical diagnosis:
        `cause`, `title`, `confidence`, `evidence`, `advice`, ...), or None; `diagnoses` is the
        whole ranked list, info hints included. Printed to stderr when the top cause or its
        severity changes (with `print_alerts`).
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
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        token: str | None = None,
        rewind_to: int | None = None,
        seq_known: bool = True,
        on_alert: AlertCallback | None = None,
        stop_on: Iterable[str] = (),
        print_alerts: bool = True,
        rank: int | None = None,
        world_size: int | None = None,
        enabled: bool = True,
        spool_dir: str | None = None,
        framework: str | None = None,
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
        self.config: dict[str, Any] = dict(config or {})
        self.enabled = enabled
        self.finished = False
        self.status: str | None = None
        self.last_step: int | None = None
        self._init_alerts(on_alert, {s.lower() for s in stop_on}, print_alerts)
        self._init_diagnosis(print_alerts)
        self._last_step = -1
        self._names = ScalarNames()
        self._warned_order = False
        self._sys = _sys.StepSampler(sys_interval)
        self._sys_due = 0.0  # the wall time of the next sys/ sample (a check per log call)
        self._watchers: list[Any] = []
        self._step_offset = 0
        self._exit_timeout = exit_timeout
        self._sender: Sender | None = None
        self.spool_dir: str | None = None
        if not enabled:
            return
        info = hello_run(run_id, project, name, tags=tags, config=self.config,
                         framework=framework, rank=rank, world_size=world_size)
        self.spool_dir = spool_path(run_id, spool_dir)
        self._sender = Sender(
            url, info, token=token, rewind_to=rewind_to, spool_dir=self.spool_dir,
            seq_known=seq_known, queue_size=queue_size, linger=linger,
            connect_timeout=connect_timeout, on_message=self._on_server_message,
            on_welcome=self._on_welcome)
        self._sender.start()
        live_runs.add(self)
        install_excepthook()

    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        ls = welcome.get("lastStep")
        if isinstance(ls, int) and self.last_step is None:
            self.last_step = ls

    # ------------------------------------------------------------------ logging
    def _next_step(self, step: int | None) -> int | None:
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
                warn(f"step {step} comes after step {self._last_step}; steps must increase "
                      "within a run, so it is not sent (resume with rewind_to to go back)")
            return None
        return step

    def log(self, step: int | None = None, metrics: Mapping[str, Any] | None = None, *,
            epoch: float | None = None, examples: int | None = None,
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
        names_ok, check = self._names.ok, self._names.check
        vals: dict[str, float] = {}
        for k, v in scalars.items():
            if k in names_ok or check(k):
                vals[k] = v if type(v) is float else to_float(v)
        t = time.time()
        if self._watchers:
            it = self._watchers[0].current_iteration()
            if it is not None:
                self._step_offset = s - it
        elif t >= self._sys_due:
            sampled = self._sys.sample(s, t)
            if sampled is not None:
                vals.update(sampled)
            self._sys_due = t + self._sys.interval
        self._last_step = s
        sender.put(("log", s, vals, epoch, examples, None, None, t))

    def _update_config(self, changes: Mapping[str, Any]) -> None:
        """Adds `changes` to the run's config on the server: only a hello carries the
        config, so the sender reconnects to send it again."""
        new = {k: v for k, v in changes.items() if self.config.get(k) != v}
        if not new:
            return
        self.config.update(new)
        if self._sender is not None and not self.finished:
            self._sender.put(("config", new))
            self._sender.wake()

    def _send(self, msg: dict[str, Any]) -> None:
        if self._sender is not None and not self.finished:
            self._sender.put(("msg", msg))

    def log_eval(self, step: int | None = None, metrics: Mapping[str, Any] | None = None,
                 *, split: str = "val", epoch: float | None = None,
                 inputs: Mapping[str, float] | None = None, **kw: Any) -> None:
        """Logs evaluation metrics (loss=..., acc=...) at a step for split "val" or "test".
        With watch(), the input statistics of the eval-mode forward passes since the last
        call ride along."""
        if self._sender is None or self.finished:
            return
        step_i = int(step) if step is not None else max(self._last_step, 0)
        msg = eval_message(step_i, split, {**(metrics or {}), **kw}, epoch)
        if inputs is None:
            for w in self._watchers:
                inputs = w.take_eval_inputs()
                if inputs is not None:
                    break
        if inputs is not None:
            msg["inputs"] = dict(inputs)
        self._send(msg)

    # ------------------------------------------------------------------ lifecycle
    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything logged so far is acknowledged by the server; False when
        that did not happen within `timeout` s or the server refused the run (`run.error`)."""
        sender = self._sender
        if sender is None:
            return True
        ev = threading.Event()
        sender.put(("flush", ev))
        sender.wake()
        return (ev.wait(timeout) and sender.fatal is None
                and not sender.undelivered()[0])

    def finish(self, status: str | None = None, timeout: float = 30.0, *,
               raise_error: bool = True) -> int:
        """Ends the run: sends `end {status}`, waits up to `timeout` s for the server to
        acknowledge everything, and returns how many messages could not be delivered (they
        stay in the spool; `init(id=..., resume=True)` delivers them later).

        `status` defaults to "stopped" when gradwatch stopped the run (`should_stop`: the
        server's stop command or a `stop_on` alert), else "completed". Raises GradwatchError
        when the server refused the run for good (`run.error`), unless `raise_error=False`.
        """
        if self.finished:
            return 0
        if status is None:
            status = "stopped" if self.should_stop else "completed"
        if status not in ("completed", "failed", "stopped"):
            raise ValueError('status must be "completed", "failed" or "stopped"')
        self.finished = True
        self.status = status
        for w in self._watchers:
            with contextlib.suppress(Exception):
                w.remove()
        sender = self._sender
        live_runs.discard(self)
        if sender is None:
            return 0
        sender.put(("msg", {"type": "end", "status": status}))
        sender.stop(timeout)
        sender.join(timeout + 5.0)
        n = report_end(self.id, self.url, self.spool_dir, sender, timeout)
        err = sender.fatal
        if err is not None and raise_error:
            raise GradwatchError(err.code, err.message)
        return n

    def _abandon(self) -> None:
        """Stops the sender of a run that init() does not hand out (the server refused it)."""
        self.finished = True
        live_runs.discard(self)
        if self._sender is not None:
            self._sender.stop(0.0)
            self._sender.join(5.0)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, tp: Any, value: Any, tb: Any) -> None:
        if tp is None:
            self.finish()
        elif issubclass(tp, KeyboardInterrupt):
            self.finish("stopped", raise_error=False)  # the exception on its way out wins
        else:
            self.finish("failed", raise_error=False)

    # ------------------------------------------------------------------ info
    @property
    def connected(self) -> bool:
        return self._sender is not None and self._sender.connected

    @property
    def error(self) -> GradwatchError | None:
        """Why the server refused the run for good (a fatal error code), else None."""
        return None if self._sender is None else self._sender.fatal

    @property
    def rejected(self) -> dict[str, int]:
        """How many messages the server rejected for their content, per error code."""
        return {} if self._sender is None else self._sender.rejected

    @property
    def pending(self) -> int:
        """Messages sent or queued but not yet acknowledged."""
        return 0 if self._sender is None else self._sender.undelivered()[0]

    def __repr__(self) -> str:
        return f"<gradwatch.Run {self.id} project={self.project!r} name={self.name!r}>"

