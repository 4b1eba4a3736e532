"""Which folders of a TensorBoard log directory make which gradwatch run.

Every folder holding event files is a run, as TensorBoard counts runs, with two layouts read
the way their writers meant them:
  * Keras: `<run>/train` and `<run>/validation` (or val, eval, test) are one run; the
    validation folder's scalars are that run's eval metrics of split "val" (or "test").
  * torch's `add_hparams` writes the hyper-parameters into a small child folder of the run
    (named after the time): they become the parent run's config, with the metric values
    under config["hparamMetrics"].
Run ids are stable: derived from the project and the real path of the run's folder, so
importing the same folder again continues the same run."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, NamedTuple

from .tb_reader import EventReader, event_files

_EVAL_DIRS = {"validation": "val", "val": "val", "valid": "val", "eval": "val",
              "evaluation": "val", "test": "test"}
_HPARAMS_CHILD_MAX = 256 * 1024  # torch's hparams folders hold a few hundred bytes


class RunSource(NamedTuple):
    folder: str                                 # identifies the run (its id)
    name: str                                   # shown on the dashboard
    streams: list[tuple[str, str | None]]    # (folder, split: None for training data)
    hparams: dict[str, Any]                     # from hparams child folders
    hparam_metrics: dict[str, float]

    @property
    def files(self) -> list[str]:
        return [f for d, _ in self.streams for f in event_files(d)]

    @property
    def size(self) -> int:
        return sum(os.path.getsize(f) for f in self.files)


def run_id(project: str, folder: str, name: str) -> str:
    h = hashlib.sha1(f"{project}\n{os.path.realpath(folder)}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:90] or "run"
    return f"tb-{slug}-{h}"


def _read_hparams_child(folder: str) -> tuple[dict[str, Any], dict[str, float]] | None:
    hp: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    found = False
    for path in event_files(folder):
        for _, _, kind, tag, payload in EventReader(path):
            if kind == "hparams":
                hp.update(payload)
                found = True
            elif kind == "scalar":
                metrics[tag] = payload
    return (hp, metrics) if found else None


def discover(logdir: str) -> list[RunSource]:
    logdir = os.path.abspath(logdir)
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"{logdir} is not a folder")
    dirs = []
    for root, subdirs, _ in os.walk(logdir):
        subdirs.sort()
        if event_files(root):
            dirs.append(root)
    has_events = set(dirs)

    def rel(d: str) -> str:
        r = os.path.relpath(d, logdir)
        return os.path.basename(logdir) if r == "." else r

    taken = set()
    extra: dict[str, tuple[dict[str, Any], dict[str, float]]] = {}
    for d in dirs:
        parent = os.path.dirname(d)
        if parent in has_events and sum(os.path.getsize(f) for f in event_files(d)) \
                <= _HPARAMS_CHILD_MAX:
            got = _read_hparams_child(d)
            if got is not None:
                hp, m = extra.setdefault(parent, ({}, {}))
                hp.update(got[0])
                m.update(got[1])
                taken.add(d)

    groups: dict[str, list[tuple[str, str | None]]] = {}
    for d in dirs:
        if d in taken or d == logdir or os.path.basename(d) != "train":
            continue
        parent = os.path.dirname(d)
        evals: list[tuple[str, str | None]] = [
            (os.path.join(parent, n), split) for n, split in sorted(_EVAL_DIRS.items())
            if os.path.join(parent, n) in has_events and os.path.join(parent, n) not in taken]
        if evals:
            taken.update(e for e, _ in evals)
            groups[d] = evals

    runs: list[RunSource] = []
    for d in dirs:
        if d in taken:
            continue
        hp, m = extra.get(d, ({}, {}))
        if d in groups:
            runs.append(RunSource(d, rel(os.path.dirname(d)), [(d, None)] + groups[d], hp, m))
        else:
            runs.append(RunSource(d, rel(d), [(d, None)], hp, m))
    return runs
