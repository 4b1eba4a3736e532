"""`gradwatch import tensorboard LOGDIR`: streams a TensorBoard log directory into gradwatch,
one run per run folder, so the rules judge runs that were logged before gradwatch was there.

Re-importing is idempotent: each run's id comes from its folder (tb_runs.run_id) and, before
sending anything, the importer asks the server what it already holds of the run:
  * nothing: everything is sent;
  * an ended run (a previous import finished): only records after the last stored step are
    sent; when there are none, nothing is sent at all (no connection, so the run's status
    and events stay as they are);
  * a run without its `end` (a previous import was interrupted): the server holds a prefix of
    the stream, complete up to its last `steps` step L except perhaps the histograms and
    evals of L itself, so the import resumes with rewindTo=L and sends from L on."""

from __future__ import annotations

import heapq
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any, NamedTuple, TextIO

from .. import startup
from .._warn import warn
from ..alerts import format_alert
from .emit import Emitter, SendFailed
from .progress import Progress
from .rest import Rest, Stored
from .steps import Pending, StepWindow
from .tb_reader import EventReader, event_files, warn_incomplete
from .tb_runs import RunSource, discover, run_id
from .tb_tags import guess_kind

# hyper-parameter names people use for the config keys the rules read
_ALIASES = {"learning_rate": "lr", "learningrate": "lr", "batch_size": "batchSize",
            "batchsize": "batchSize", "bsize": "batchSize", "bs": "batchSize",
            "weight_decay": "weightDecay", "wd": "weightDecay", "grad_accum_steps":
            "gradAccumSteps", "gradient_accumulation_steps": "gradAccumSteps"}


_STALL_S = 120.0


class RunResult(NamedTuple):
    name: str
    run_id: str
    outcome: str          # "imported", "up to date", "empty", "failed"
    steps: int
    hists: int
    evals: int
    first_step: int | None
    last_step: int | None
    alerts: list[dict[str, Any]]
    detail: str


def config_of(hparams: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for k, v in hparams.items():
        if 0 < len(str(k)) <= 200:
            cfg[str(k)] = v
    for k, v in list(cfg.items()):
        alias = _ALIASES.get(k.lower())
        if alias and alias not in cfg:
            cfg[alias] = v
    if metrics:
        cfg["hparamMetrics"] = {k[:200]: v for k, v in metrics.items()}
    return cfg


class _RunImport:
    def __init__(self, src: RunSource, rest: Rest, url: str, project: str,
                 token: str | None, spool_dir: str, hist_every: int,
                 progress: Progress) -> None:
        self.src = src
        self.rest = rest
        self.url = url
        self.project = project
        self.token = token
        self.spool_dir = spool_dir
        self.hist_every = max(1, hist_every)
        self.progress = progress
        self.id = run_id(project, src.folder, src.name)
        self.readers: list[EventReader] = []
        self.em: Emitter | None = None
        self.sent_layers: list[str] = []
        self.hist_steps = 0
        self.first: int | None = None
        self.last: int | None = None

    def _stream(self, folder: str, split: str | None) -> Iterator[tuple[Any, str | None]]:
        for path in event_files(folder):
            r = EventReader(path)
            self.readers.append(r)
            for rec in r:
                yield rec, split
            warn_incomplete(r.report())

    def _open(self, stored: Stored | None, rewind: int | None, win: StepWindow) -> None:
        hp = dict(self.src.hparams)
        hp.update(win.hparams)
        run = startup.init(
            self.url, self.project, name=self.src.name,
            config=config_of(hp, self.src.hparam_metrics),
            token=self.token, id=self.id, resume=stored is not None, rewind_to=rewind,
            tags=["tensorboard"], framework="tensorboard", print_alerts=False,
            spool_dir=self.spool_dir, queue_size=1 << 30, connect_timeout=10.0)
        self.em = Emitter(run)

    def _send(self, step: int, p: Pending, win: StepWindow) -> None:
        em = self.em
        assert em is not None
        if p.layers and any(name not in self.sent_layers for name in p.layers):
            self.sent_layers = list(win.layers)
            em.message({"type": "model", "layers": [
                {"name": info.name, "kind": guess_kind(info.name),
                 "params": info.params.get("param", info.params.get("grad", 0))
                 + info.params.get("bias", 0)} for info in win.layers.values()]})
        if p.scalars or p.layers:
            em.step(step, p.t, p.scalars, p.layers)
        if p.hists:
            if self.hist_steps % self.hist_every == 0:
                for layer, of, edges, counts in p.hists:
                    em.message({"type": "hist", "step": step, "layer": layer, "of": of,
                                "edges": edges, "counts": counts})
            self.hist_steps += 1
        for split, metrics in p.evals.items():
            em.message({"type": "eval", "step": step, "split": split, "metrics": metrics})
        if self.first is None:
            self.first = step
        self.last = step

    def run(self) -> RunResult:
        src = self.src
        stored = self.rest.stored(self.id)
        keep_from, rewind = 0, None
        if stored is not None and stored.ended:
            keep_from = stored.last_any + 1 if stored.last_any is not None else 0
        elif stored is not None:
            keep_from = rewind = stored.last_step if stored.last_step is not None else 0
        win = StepWindow(keep_from=keep_from)
        streams = [self._stream(d, split) for d, split in src.streams]
        merged = streams[0] if len(streams) == 1 else heapq.merge(
            *streams, key=lambda x: x[0][0])
        label = src.name
        try:
            for n, (rec, split) in enumerate(merged, start=1):
                win.add(rec, split)
                if n & 1023 == 0:
                    if self.em is not None and self.em.fatal:
                        raise SendFailed(self.em.fatal)
                    self.progress.update(sum(r.read for r in self.readers), label)
                ready = win.ready()
                if ready:
                    if self.em is None:
                        self._open(stored, rewind, win)
                    for step, p in ready:
                        self._send(step, p, win)
            rest = win.rest()
            if rest and self.em is None:
                self._open(stored, rewind, win)
            for step, p in rest:
                self._send(step, p, win)
        except SendFailed as e:
            return self._close(win, stored, f"sending failed: {e}")
        except KeyboardInterrupt:
            # Deliver what is queued and end the run: the server then holds every step up
            # to the last one sent, and the next import continues after it.
            if self.em is not None:
                self.progress.end_line()
                self.em.run.finish("stopped", timeout=30.0)
            raise
        self.progress.update(sum(r.read for r in self.readers), label, force=True)
        if self.em is not None:
            self._report_skips(win)
        return self._close(win, stored, None)

    def _report_skips(self, win: StepWindow) -> None:
        name = self.src.name
        if win.late:
            tags = ", ".join(sorted(win.late_tags)[:5])
            warn(f"{name}: {win.late} values came after later steps had been sent (steps must "
                 f"increase within a run) and were skipped; tags: {tags}")
        if win.hparams_late:
            warn(f"{name}: hyper-parameters were written after the first steps; they are not "
                 "in the run's config")
        if win.unmapped:
            tags = ", ".join(sorted(win.unmapped)[:5])
            more = f" and {len(win.unmapped) - 5} more" if len(win.unmapped) > 5 else ""
            warn(f"{name}: histograms not imported (gradwatch keeps a layer's weight, bias, "
                 f"weight-gradient and activation tensors; these tags name none of them, or "
                 f"a bias gradient): {tags}{more}")
        if win.skipped_plugins:
            what = ", ".join(f"{n} {k}" for k, n in sorted(win.skipped_plugins.items()))
            warn(f"{name}: summaries that carry no numbers gradwatch uses were skipped: {what}")
        for names in win.names.values():
            if names.skipped:
                warn(f"{name}: scalar tags with no usable name were skipped: "
                     + ", ".join(sorted(names.skipped)[:5]))

    def _close(self, win: StepWindow, stored: Stored | None, error: str | None) -> RunResult:
        em = self.em
        src = self.src
        if em is None:
            if error is None and stored is not None:
                return RunResult(src.name, self.id, "up to date", 0, 0, 0, None, None,
                                 self.rest.alerts(self.id),
                                 f"already imported through step {stored.last_any}")
            if error is None:
                return RunResult(src.name, self.id, "empty", 0, 0, 0, None, None, [],
                                 "no scalars or histograms to import")
            return RunResult(src.name, self.id, "failed", 0, 0, 0, None, None, [], error)
        run = em.run
        if error is None:
            # a big import may wait minutes for the server; give up only when it stops acking
            acked, since = em.acked, time.monotonic()
            while not run.flush(timeout=5.0) and time.monotonic() - since < _STALL_S:
                if em.acked != acked:
                    acked, since = em.acked, time.monotonic()
                if em.fatal:
                    error = em.fatal
                    break
                self.progress.update(sum(r.read for r in self.readers),
                                     f"{src.name} (waiting for the server)", force=True)
        left = run.finish("completed" if error is None else "failed", timeout=30.0)
        if left and error is None:
            error = (f"{left} messages were not acknowledged by the server; importing again "
                     "sends them")
        alerts = self.rest.alerts(self.id) if error is None else []
        return RunResult(src.name, self.id, "failed" if error else "imported", em.steps,
                         em.hists, em.evals, self.first, self.last, alerts, error or "")


def import_logdir(logdir: str, url: str, project: str, token: str | None = None, *,
                  quiet: bool = False, hist_every: int = 1, out: TextIO | None = None,
                  progress_stream: TextIO | None = None) -> list[RunResult]:
    """Imports every run of a TensorBoard log directory; prints each run's outcome and its
    alerts to `out` (stdout) and returns the results."""
    out = out or sys.stdout
    if not startup._PROJECT.match(project):
        raise ValueError(f"project {project!r} must match {startup._PROJECT.pattern}")
    runs = discover(logdir)
    rest = Rest(url, token)
    rest.get("/runs", limit=1)  # fails fast, with the reason, when the server is unreachable
    progress = Progress(sum(r.size for r in runs), quiet=quiet, stream=progress_stream)
    spool = tempfile.mkdtemp(prefix="gradwatch-import-")
    results = []
    try:
        for src in runs:
            res = _RunImport(src, rest, url, project, token, spool, hist_every,
                             progress).run()
            progress.done_before += src.size
            progress.end_line()
            results.append(res)
            print_result(res, out)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return results


def print_result(res: RunResult, out: TextIO) -> None:
    head = f"{res.name} ({res.run_id}): "
    if res.outcome == "imported":
        span = f", steps {res.first_step}..{res.last_step}" if res.first_step is not None else ""
        head += (f"imported {res.steps} steps, {res.hists} histograms, {res.evals} evals{span}")
    else:
        head += f"{res.outcome}" + (f": {res.detail}" if res.detail else "")
    print(head, file=out)
    if res.outcome in ("imported", "up to date"):
        if not res.alerts:
            print("  no alerts", file=out)
        for a in res.alerts:
            print("  " + format_alert(a).replace("gradwatch ", "", 1), file=out)
    out.flush()
