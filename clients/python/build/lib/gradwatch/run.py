"""The Run: the training loop's handle on one streamed run (create it with
`gradwatch.init()`, in startup.py). Logging never blocks training: values go into the sender's
bounded queue and everything else happens on the sender thread."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

from . import _sys
from ._warn import warn
from .alerts import AlertCallback, AlertsMixin
from .scalars import ScalarNames, to_float
from .sender import Sender
from .shutdown import install_excepthook, live_runs


class Run(AlertsMixin):
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
        self.last_step: Optional[int] = None
        self._init_alerts(on_alert, {s.lower() for s in stop_on}, print_alerts)
        self._last_step = -1
        self._auto_step = 0
        self._names = ScalarNames()
        self._warned_order = False
        self._sys = _sys.StepSampler(sys_interval)
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
        live_runs.add(self)
        install_excepthook()

    def _on_welcome(self, welcome: Dict[str, Any]) -> None:
        ls = welcome.get("lastStep")
        if isinstance(ls, int) and self.last_step is None:
            self.last_step = ls

    # ------------------------------------------------------------------ logging
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
                warn(f"step {step} comes after step {self._last_step}; steps must increase "
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
        names_ok, check = self._names.ok, self._names.check
        vals: Dict[str, float] = {}
        for k, v in scalars.items():
            if k in names_ok or check(k):
                vals[k] = v if type(v) is float else to_float(v)
        t = time.time()
        if self._watchers:
            it = self._watchers[0].current_iteration()
            if it is not None:
                self._step_offset = s - it
        else:
            sampled = self._sys.sample(s, t)
            if sampled is not None:
                vals.update(sampled)
        self._last_step = s
        sender.put(("log", s, vals, epoch, examples, None, None, t))

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
        vals = {k: to_float(v) for k, v in m.items() if isinstance(k, str) and 0 < len(k) <= 200}
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
        live_runs.discard(self)
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
            warn(f"{n} messages of run {self.id}{span} were not delivered: {why}. They are kept "
                  f"in {self.spool_dir}; gradwatch.init(id={self.id!r}, resume=True) "
                  "delivers them.")
        if sender.dropped:
            warn(f"{sender.dropped} log calls were dropped because the send queue was full")
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

