"""Hugging Face Trainer callback.

    from gradwatch.integrations.transformers import GradwatchCallback
    trainer = Trainer(model, args, ..., callbacks=[GradwatchCallback(url=..., project="nlp")])

It starts a run when training begins (config from the TrainingArguments), watches the model
with the Trainer's optimizer, logs the learning rate every optimizer step and whatever the
Trainer logs (loss, grad_norm, ...) at `state.global_step`, sends `eval_*` metrics with the
"val" split, asks the Trainer to stop when `run.should_stop` is set, and finishes the run at
the end of training.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from transformers import TrainerCallback

import gradwatch

from ._util import numeric, plain_config

_SKIP = {"epoch", "total_flos", "train_runtime", "train_samples_per_second",
         "train_steps_per_second", "train_loss", "step"}


def _unwrap(optimizer: Any) -> Any:
    inner = getattr(optimizer, "optimizer", None)  # accelerate's AcceleratedOptimizer
    return inner if inner is not None and hasattr(inner, "param_groups") else optimizer


class GradwatchCallback(TrainerCallback):
    def __init__(self, run: Optional["gradwatch.Run"] = None, *, every: int = 10,
                 hist_every: Optional[int] = None, watch: bool = True, finish: bool = True,
                 **init_kwargs: Any) -> None:
        self.run = run
        self.every = every
        self.hist_every = hist_every
        self.watch = watch
        self._owns_run = run is None and finish
        self._init_kwargs = init_kwargs
        self._opt: Any = None
        self._sched: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       optimizer: Any = None, lr_scheduler: Any = None, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._opt = _unwrap(optimizer) if optimizer is not None else None
        self._sched = lr_scheduler
        if self.run is None:
            cfg: Dict[str, Any] = {
                "lr": args.learning_rate,
                "batchSize": args.per_device_train_batch_size * max(1, args.world_size),
                "epochs": args.num_train_epochs,
                "weightDecay": args.weight_decay,
                "optimizer": str(getattr(args.optim, "value", args.optim)),
                "schedule": str(getattr(args.lr_scheduler_type, "value",
                                        args.lr_scheduler_type)),
                "warmupSteps": args.warmup_steps,
                "gradClip": args.max_grad_norm,
                "worldSize": args.world_size,
            }
            cfg.update(self._init_kwargs.pop("config", None) or {})
            self._init_kwargs.setdefault("framework", "transformers")
            self._init_kwargs.setdefault("name", args.run_name or None)
            self._init_kwargs.setdefault("rank", args.process_index)
            self._init_kwargs.setdefault("world_size", args.world_size)
            self.run = gradwatch.init(config=plain_config(cfg), **self._init_kwargs)
        if self.watch and model is not None:
            self.run.watch(model, self._opt, every=self.every, hist_every=self.hist_every)

    def _lr(self) -> Optional[float]:
        if self._sched is not None:
            try:
                return float(self._sched.get_last_lr()[0])
            except Exception:  # noqa: BLE001
                pass
        if self._opt is not None:
            return float(self._opt.param_groups[0]["lr"])
        return None

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        run = self.run
        if run is None or not state.is_world_process_zero:
            return
        lr = self._lr()
        run.log(state.global_step, {"lr": lr} if lr is not None else None, epoch=state.epoch)
        if run.should_stop:
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Dict[str, Any]] = None,
               **kw: Any) -> None:
        run = self.run
        if run is None or not logs or not state.is_world_process_zero:
            return
        if "train_runtime" in logs:
            return  # the end-of-training summary
        evals: Dict[str, float] = {}
        for k, v in logs.items():
            f = numeric(v)
            if k.startswith("eval_") and f is not None and k[5:] not in (
                    "runtime", "samples_per_second", "steps_per_second"):
                evals[k[5:]] = f
        if evals:
            run.log_eval(state.global_step, evals, split="val", epoch=state.epoch)
            return
        scalars: Dict[str, float] = {}
        for k, v in logs.items():
            f = numeric(v)
            if k in _SKIP or f is None:
                continue
            scalars["lr" if k == "learning_rate" else k] = f
        if scalars:
            run.log(state.global_step, scalars, epoch=state.epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.run is not None and self._owns_run:
            self.run.finish("stopped" if self.run.should_stop else "completed")
