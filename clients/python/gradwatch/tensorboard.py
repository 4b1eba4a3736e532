"""A drop-in for `torch.utils.tensorboard.SummaryWriter` that streams to gradwatch.

    from gradwatch.tensorboard import SummaryWriter   # was: from torch.utils.tensorboard ...

The calls that carry numbers are streamed: `add_scalar`, `add_scalars`, `add_histogram`,
`add_histogram_raw` and `add_hparams`; `flush`, `close` and use as a context manager work as
before. Tags are mapped as the importer maps them (importers/tb_tags.py): the loss, learning
rate and accuracy get the names the rules read, tags naming an eval split become eval
metrics, and a histogram whose tag names a layer's weights or gradients also gives that
layer's exact stats. Calls that carry no numbers gradwatch uses (images, audio, text, graphs,
embeddings, meshes, PR curves) are accepted and skipped with one warning.

`tee=True` also writes the usual event files through torch's own writer. The server, project
and run come from GRADWATCH_URL / GRADWATCH_PROJECT or the keyword arguments, which go to
`gradwatch.init` (url=, project=, name=, config=, id=, resume=, stop_on=, ...); pass `run=`
to stream into a run you started yourself.
"""

from __future__ import annotations

import atexit
import os
import socket
import weakref
from datetime import datetime
from typing import Any

from . import startup
from ._tb_stream import StepStream, tensor_stats
from ._warn import warn
from .importers.tb_tags import Names, classify_hist
from .run import Run

_UNSUPPORTED = (
    "add_image", "add_images", "add_image_with_boxes", "add_figure", "add_video", "add_audio",
    "add_text", "add_graph", "add_onnx_graph", "add_embedding", "add_pr_curve",
    "add_pr_curve_raw", "add_custom_scalars", "add_custom_scalars_multilinechart",
    "add_custom_scalars_marginchart", "add_mesh",
)

def _close_at_exit(ref: weakref.ref[SummaryWriter]) -> None:
    w = ref()
    if w is not None:
        w.close()


def _default_logdir(comment: str) -> str:
    # the directory torch's writer would pick, so get_logdir() answers the same
    now = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", now + "_" + socket.gethostname() + comment)


class SummaryWriter:
    """Accepts torch's SummaryWriter arguments and calls; see the module docstring."""

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "", *, run: Run | None = None, tee: bool = False,
                 **init_kwargs: Any) -> None:
        self._tee: Any = None
        if tee:
            from torch.utils.tensorboard import SummaryWriter as TorchWriter

            self._tee = TorchWriter(log_dir, comment, purge_step, max_queue, flush_secs,
                                    filename_suffix)
            log_dir = self._tee.get_logdir()
        elif log_dir is None:
            log_dir = _default_logdir(comment)
        self.log_dir = str(log_dir)
        if not tee:
            os.makedirs(self.log_dir, exist_ok=True)  # scripts save next to their logs
        self._run = run
        self._owns_run = run is None
        self._init_kwargs = dict(init_kwargs)
        self._init_kwargs.setdefault("name", os.path.basename(os.path.normpath(self.log_dir)))
        self._init_kwargs.setdefault("framework", "pytorch")
        self._config: dict[str, Any] = dict(self._init_kwargs.pop("config", None) or {})
        self._late_config = False
        self._names = Names()
        self._stream = StepStream(lambda: self.run)
        self._warned: set[str] = set()
        self.closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    # ------------------------------------------------------------------ the run
    @property
    def run(self) -> Run:
        """The gradwatch run (started on the first call that carries data)."""
        if self._run is None:
            self._run = startup.init(config=self._config, **self._init_kwargs)
        return self._run

    def get_logdir(self) -> str:
        return self.log_dir

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warn(msg)

    # ------------------------------------------------------------------ numbers
    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        if self._tee is not None:
            self._tee.add_scalar(tag, scalar_value, global_step, walltime, new_style,
                                 double_precision)
        self._scalar(tag, scalar_value, global_step)

    def _scalar(self, tag: str, value: Any, global_step: int | None) -> None:
        key = self._names.scalar(tag)
        if key is None:
            self._warn_once("name:" + tag, f"scalar tag {tag!r} cannot be a gradwatch name "
                                           "(empty or over 200 characters); not sent")
            return
        split, name = key
        if self._stream.at(global_step) is None:
            return
        if split is None:
            self._stream.scalar(name, value)
        else:
            self._stream.eval(split, name, value)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        if self._tee is not None:
            self._tee.add_scalars(main_tag, tag_scalar_dict, global_step, walltime)
        for tag, value in tag_scalar_dict.items():
            self._scalar(f"{main_tag}/{tag}", value, global_step)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        if self._tee is not None:
            try:
                self._tee.add_histogram(tag, values, global_step, bins, walltime, max_bins)
            except ValueError as e:  # numpy cannot bin NaN/Inf: TensorBoard gets nothing
                self._warn_once("tee-hist", f"TensorBoard could not store histogram {tag!r} "
                                            f"({e}); gradwatch still counts its non-finite "
                                            "values")
        where = classify_hist(tag)
        if where is None:
            self._unmapped(tag)
            return
        got = tensor_stats(values, bins)
        if got is not None and self._stream.at(global_step) is not None:
            self._stream.layer(where[0], where[1], got["stats"], got["edges"], got["counts"],
                               got["n"])

    def add_histogram_raw(self, tag: str, min: float, max: float, num: int, sum: float,
                          sum_squares: float, bucket_limits: Any, bucket_counts: Any,
                          global_step: int | None = None,
                          walltime: float | None = None) -> None:
        if self._tee is not None:
            self._tee.add_histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,
                                        bucket_counts, global_step, walltime)
        from .importers.hist_stats import from_histo

        where = classify_hist(tag)
        if where is None:
            self._unmapped(tag)
            return

        class _Proto:  # the fields of a HistogramProto, which is what these arguments are
            pass

        h = _Proto()
        h.min, h.max, h.num, h.sum, h.sum_squares = min, max, num, sum, sum_squares  # type: ignore[attr-defined]
        h.bucket_limit, h.bucket = list(bucket_limits), list(bucket_counts)  # type: ignore[attr-defined]
        hist, stats = from_histo(h)
        if stats is not None and self._stream.at(global_step) is not None:
            self._stream.layer(where[0], where[1], stats, hist[0] if hist else None,
                               hist[1] if hist else None, int(num))

    def _unmapped(self, tag: str) -> None:
        self._warn_once("hist", f"histogram {tag!r} is not sent, nor others like it: gradwatch "
                                "keeps a layer's weight, bias, weight-gradient and activation "
                                "histograms, named like 'fc1.weight', 'fc1.weight.grad'")

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list[Any]] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        if self._tee is not None:
            self._tee.add_hparams(hparam_dict, metric_dict, hparam_domain_discrete, run_name,
                                  global_step)
        from .importers.tensorboard import config_of

        cfg = config_of(hparam_dict, {k: float(v) for k, v in metric_dict.items()})
        self._config.update(cfg)
        if self._run is None:
            return  # the run starts with them as its config
        self._late_config = True

    # ------------------------------------------------------------------ the rest
    def _skip(self, what: str) -> None:
        self._warn_once("unsupported", f"{what} and other summaries without numbers "
                                       "(images, audio, text, graphs, embeddings) are not "
                                       "sent to gradwatch" + (" (they still go to TensorBoard)"
                                                              if self._tee is not None else ""))

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED or name.startswith("add_"):
            def skipped(*args: Any, **kwargs: Any) -> Any:
                self._skip(name)
                if self._tee is not None:
                    return getattr(self._tee, name)(*args, **kwargs)
                return None
            return skipped
        raise AttributeError(name)

    def flush(self) -> None:
        if self._tee is not None:
            self._tee.flush()
        if self._run is None or not self._run.finished:
            self._stream.send()
        if self._run is not None and not self._run.finished:
            self._run.flush()

    def close(self, status: str = "completed") -> None:
        if self.closed:
            return
        self.closed = True
        if self._tee is not None:
            self._tee.close()
        self._stream.send()  # starts the run if only this step had data
        run = self._run
        if run is None or run.finished:
            return
        if not self._owns_run:
            run.flush()
            return
        run.finish(status)
        if self._late_config:
            # Hyper-parameters that came after the data: a second hello carries them (its
            # config replaces the stored one), then the run is ended again.
            kw = {k: v for k, v in self._init_kwargs.items() if k not in ("id", "resume")}
            kw["print_alerts"] = False
            again = startup.init(id=run.id, resume=True, config=self._config, **kw)
            again.finish(status)

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, tp: Any, value: Any, tb: Any) -> None:
        self.close("completed" if tp is None else
                   "stopped" if issubclass(tp, KeyboardInterrupt) else "failed")
