"""The Run's side of watch(): attaching PyTorch models, and the entry points their reports
(and the Keras and TensorBoard integrations' layer statistics) come in by."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from .sender import Deferred, Sender


class WatchingMixin:
    """Needs the Run's sender, step bookkeeping and config update."""

    enabled: bool
    finished: bool
    _sender: Sender | None
    _last_step: int
    _watchers: list[Any]

    def _update_config(self, changes: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def watch(self, model: Any, optimizer: Any = None, criterion: Any = None, every: int = 10,
              hist_every: int | None = None, log_inputs: bool = True,
              hist_bins: int = 32, grad_clip: float | None = None,
              scaler: Any = None) -> Any:
        """Streams per-layer statistics of a PyTorch model every `every` optimizer steps:
        param/grad/update/activation stats, the total gradient norm (scalar `grad_norm`,
        unless you log it yourself), input-batch stats, histograms every `hist_every` steps
        (default 10 x every), and the model's structure after the first forward pass.
        `grad_clip`: the max_norm you clip gradients to, if you do (it goes into the run's
        config as `gradClip`, so gradient spikes the clipping absorbs are only hints).
        `scaler`: the torch.amp.GradScaler of a mixed-precision loop, so that `grad_norm` is
        the unscaled norm (without it, it is measured on the scaled gradients).
        Returns the watcher (call `.remove()` or `run.unwatch()` to detach)."""
        from .watch import Watcher  # torch is imported only here

        if grad_clip is not None:
            self._update_config({"gradClip": float(grad_clip)})

        w = Watcher(self, model, optimizer=optimizer, criterion=criterion, every=every,
                    hist_every=hist_every, log_inputs=log_inputs, hist_bins=hist_bins,
                    scaler=scaler)
        if self.enabled:
            self._watchers.append(w)
        return w

    def unwatch(self) -> None:
        for w in self._watchers:
            w.remove()
        self._watchers = []

    def _log_report(self, step: int, scalars: dict[str, float],
                    layers: dict[str, Any] | None, inputs: dict[str, float] | None,
                    examples: int | None, hists: Sequence[dict[str, Any]]) -> None:
        """Entry point for the Keras and TensorBoard integrations: a step's layer statistics,
        already on the host."""
        sender = self._sender
        if sender is None or self.finished:
            return
        if step < self._last_step:
            step = self._last_step
        self._last_step = step
        # "report": its scalars (grad_norm, sys/...) never replace what the user logs
        sender.put(("report", step, scalars, None, examples, layers, inputs, time.time()))
        for h in hists:
            h = dict(h)
            h["step"] = step
            sender.put(("msg", h))

    def _log_report_job(self, step: int,
                        make: Callable[[int, float, bool], Deferred]) -> None:
        """Entry point for watch(): `make(step, time, deferred)` takes a reporting step's
        tensors. The sender computes a deferred job's statistics on its own thread when it
        reaches the job, so they keep their place among the steps; without room for one
        more (sender.reserve_deferred), the job is computed here and now."""
        sender = self._sender
        if sender is None or self.finished:
            return
        step = max(step, self._last_step)
        self._last_step = step
        deferred = sender.reserve_deferred()
        try:
            job = make(step, time.time(), deferred)
            items = [("deferred", job)] if deferred else job.items()
        except Exception as exc:  # noqa: BLE001 - monitoring must not stop training
            if deferred:
                sender.release_deferred()
            sender.stats_failed(step, exc)
            return
        for item in items:
            sender.put(item)
