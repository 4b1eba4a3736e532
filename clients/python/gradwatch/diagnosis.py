"""The server's verdict on a run (docs/diagnosis.md): the ranked diagnoses it sends whenever
they change. Only warning and critical diagnoses are the verdict; info ones are hints a
healthy run may carry. The verdict is printed when its top cause or severity changes, not on
every update (confidence and steps move with nearly every alert)."""

from __future__ import annotations

import sys
import threading
from typing import Any

Diagnosis = dict[str, Any]

VERDICT = ("warning", "critical")


def top_verdict(diagnoses: list[Diagnosis]) -> Diagnosis | None:
    """The best-ranked warning or critical diagnosis, else None."""
    verdict = [d for d in diagnoses if str(d.get("severity", "")).lower() in VERDICT]
    if not verdict:
        return None
    # the server ranks them (severity, confidence, first step); the list order breaks ties
    return min(verdict, key=lambda d: d["rank"] if isinstance(d.get("rank"), int) else 10 ** 9)


def format_diagnosis(d: Diagnosis) -> str:
    """One block for the console: severity, title, confidence, since when, evidence, advice."""
    sev = str(d.get("severity", "?")).upper()
    title = d.get("title") or d.get("cause")
    conf = d.get("confidence")
    sure = f" ({round(conf * 100)}% sure)" if isinstance(conf, (int, float)) else ""
    step = d.get("firstStep")
    since = f" since step {step}" if isinstance(step, int) else ""
    explains = [str(c) for c in d.get("explains") or []]
    also = f"; it explains {', '.join(explains)}" if explains else ""
    lines = [f"gradwatch diagnosis [{sev}] {title}{sure}{since}{also}"]
    evidence = str(d.get("evidence", "")).strip()
    if evidence:
        lines.append(f"  evidence: {evidence}")
    advice = str(d.get("advice", "")).strip()
    if advice:
        lines.append(f"  advice: {advice}")
    return "\n".join(lines)


class DiagnosisMixin:
    """The Run's side of diagnosis messages; they arrive on the sender thread."""

    _diagnoses: list[Diagnosis]
    _diag_lock: threading.Lock
    _diag_printed: tuple[Any, Any] | None
    _print_diagnosis: bool

    def _init_diagnosis(self, print_diagnosis: bool) -> None:
        self._diagnoses = []
        self._diag_lock = threading.Lock()
        self._diag_printed = None
        self._print_diagnosis = print_diagnosis

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """Every diagnosis of the run's latest verdict, ranked (info hints included)."""
        with self._diag_lock:
            return list(self._diagnoses)

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The top warning/critical diagnosis (its `cause`, `title`, `advice`, ...), or None
        while the server sees nothing wrong."""
        with self._diag_lock:
            return top_verdict(self._diagnoses)

    def _on_diagnosis(self, msg: dict[str, Any]) -> None:
        raw = msg.get("diagnoses")
        if not isinstance(raw, list):
            return
        ds = [d for d in raw if isinstance(d, dict)]
        top = top_verdict(ds)
        key = None if top is None else (top.get("cause"), top.get("severity"))
        with self._diag_lock:
            self._diagnoses = ds
            changed = key != self._diag_printed
            self._diag_printed = key
        if changed and top is not None and self._print_diagnosis:
            print(format_diagnosis(top), file=sys.stderr, flush=True)
