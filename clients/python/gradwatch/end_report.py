"""What `Run.finish()` tells the user once the sender has stopped: messages that were not
delivered (and where they wait), messages the server rejected, calls that were not sent."""

from __future__ import annotations

from ._warn import warn
from .sender import Sender


def report_end(run_id: str, url: str, spool_dir: str | None, sender: Sender,
               timeout: float) -> int:
    """Warns about everything that did not reach the server; returns the undelivered count."""
    n, first, last = sender.undelivered()
    if n:
        span = f" (seq {first}..{last})" if first is not None else ""
        why = sender.fatal or f"the server at {url} did not acknowledge them within {timeout:g} s"
        warn(f"{n} messages of run {run_id}{span} were not delivered: {why}. They are kept in "
             f"{spool_dir}; gradwatch.init(id={run_id!r}, resume=True) delivers them.")
    rejected = sender.rejected
    if rejected:
        codes = ", ".join(f"{c}: {k}" for c, k in sorted(rejected.items()))
        warn(f"the server rejected {sum(rejected.values())} messages of run {run_id} "
             f"({codes}); nothing of them is stored")
    if sender.dropped:
        warn(f"{sender.dropped} log calls were not sent: the sender thread had stopped")
    return n
