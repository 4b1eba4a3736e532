"""PyTorch Lightning callback.

    from gradwatch.integrations.lightning import GradwatchCallback
    trainer = Trainer(callbacks=[GradwatchCallback(url=..., project="mnist")])

It starts a run when fit starts (or uses the `run` you pass), watches the LightningModule with
the trainer's optimizer, logs the training loss, learning rate and the metrics you `self.log`
at every optimizer step (step = trainer.global_step), sends validation metrics with the
"val" split, stops the trainer when `run.should_stop` is set (an alert of a `stop_on`
severity or the server's stop command), and finishes the run when fit ends or fails.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - the older package name
    from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef,assignment]

import gradwatch

from ._util import numeric, plain_config, strip_split

_EVAL_PREFIXES = ("val", "valid", "validation", "test")


class GradwatchCallback(Callback):
    def __init__(self, run: Optional["gradwatch.Run"] = None, *, every: int = 10,
                 hist_every: Optional[int] = None, watch: bool = True,
                 finish: bool = True, **init_kwargs: Any) -> None:
        super().__init__()
        self.run = run
        self.every = every
        self.hist_every = hist_every
        self.watch = watch
        self._owns_run = run is None and finish
        self._init_kwargs = init_kwargs

    # ------------------------------------------------------------------ fit
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.run is None:
            cfg: Dict[str, Any] = {}
            try:
                cfg.update(plain_config(dict(pl_module.hparams)))
            except Exception:  # noqa: BLE001
                pass
            cfg.update(plain_config(self._init_kwargs.pop("config", None) or {}))
            opt = trainer.optimizers[0] if trainer.optimizers else None
            if opt is not None:
                g = opt.param_groups[0]
                cfg.setdefault("optimizer", type(opt).__name__.lower())
                cfg.setdefault("lr", g.get("lr"))
                if "momentum" in g:
                    cfg.setdefault("momentum", g["momentum"])
                if g.get("weight_decay"):
                    cfg.setdefault("weightDecay", g["weight_decay"])
            if trainer.world_size:
                cfg.setdefault("worldSize", trainer.world_size)
            self._init_kwargs.setdefault("framework", "pytorch-lightning")
            self._init_kwargs.setdefault("rank", trainer.global_rank)
            self._init_kwargs.setdefault("world_size", trainer.world_size)
            self.run = gradwatch.init(config=cfg, **self._init_kwargs)
        if self.watch:
            opt = trainer.optimizers[0] if trainer.optimizers else None
            crit = getattr(pl_module, "criterion", None) or getattr(pl_module, "loss_fn", None)
            self.run.watch(pl_module, opt, criterion=crit, every=self.every,
                           hist_every=self.hist_every)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        run = self.run
        if run is None:
            return
        scalars: Dict[str, float] = {}
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        v = numeric(loss)
        if v is not None:
            scalars["loss"] = v
        if trainer.optimizers:
            scalars["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        for k, val in trainer.logged_metrics.items():
            if k == "epoch" or strip_split(k, _EVAL_PREFIXES) is not None:
                continue
            f = numeric(val)
            if f is not None:
                scalars[k if k != "train_loss" else "loss"] = f
        run.log(trainer.global_step, scalars, epoch=trainer.current_epoch)
        if run.should_stop:
            trainer.should_stop = True

    def _log_eval(self, trainer: Any, split: str) -> None:
        run = self.run
        if run is None:
            return
        if trainer.sanity_checking:
            for w in run._watchers:  # sanity batches are not an evaluation
                w.take_eval_inputs()
            return
        metrics: Dict[str, float] = {}
        prefixes = ("test",) if split == "test" else ("val", "valid", "validation")
        for k, val in trainer.callback_metrics.items():
            name = strip_split(k, prefixes)
            f = numeric(val)
            if name and f is not None:
                metrics[name] = f
        if metrics:
            run.log_eval(trainer.global_step, metrics, split=split, epoch=trainer.current_epoch)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._log_eval(trainer, "val")

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        self._log_eval(trainer, "test")

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.run is not None and self._owns_run:
            self.run.finish("stopped" if self.run.should_stop else "completed")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.run is not None and self._owns_run:
            self.run.finish("stopped" if isinstance(exception, KeyboardInterrupt) else "failed")
