"""What the server sends back to a run: alerts (kept, printed once, passed to `on_alert`,
and able to stop the run by severity) and the `stop` command."""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Set

from ._warn import warn

Alert = Dict[str, Any]
AlertCallback = Callable[[Alert], None]


def format_alert(alert: Alert) -> str:
    """One line for the console: severity, rule, where and when, and the advice."""
    sev = str(alert.get("severity", "?")).upper()
    where = f" in layer {alert['layer']}" if alert.get("layer") else ""
    step = alert.get("firstStep")
    at = f" at step {step}" if step is not None else ""
    status = " (resolved)" if alert.get("status") == "resolved" else ""
    advice = str(alert.get("advice", "")).strip()
    return f"gradwatch [{sev}] {alert.get('rule')}{where}{at}{status}: {advice}"


class AlertsMixin:
    """The Run's side of alerts and commands. Runs on the sender thread, so the alert table
    is guarded by a lock; `should_stop` only ever goes from False to True."""

    should_stop: bool
    stop_reason: Optional[str]
    _alerts: Dict[Any, Alert]
    _alert_lock: threading.Lock
    _on_alert: Optional[AlertCallback]
    _stop_on: Set[str]
    _print_alerts: bool

    def _init_alerts(self, on_alert: Optional[AlertCallback], stop_on: Set[str],
                     print_alerts: bool) -> None:
        self.should_stop = False
        self.stop_reason = None
        self._alerts = {}
        self._alert_lock = threading.Lock()
        self._on_alert = on_alert
        self._stop_on = stop_on
        self._print_alerts = print_alerts

    @property
    def alerts(self) -> List[Alert]:
        """Alerts received for this run: the latest state of each, oldest first."""
        with self._alert_lock:
            return list(self._alerts.values())

    def _on_server_message(self, msg: Dict[str, Any]) -> None:
        if msg.get("type") == "command":
            if msg.get("action") == "stop" and not self.should_stop:
                self.should_stop = True
                self.stop_reason = str(msg.get("reason", "the server asked the run to stop"))
                warn(f"the server asks this run to stop: {self.stop_reason}")
            return
        alert = msg.get("alert")
        if not isinstance(alert, dict):
            return
        key = alert.get("id")
        with self._alert_lock:
            first = key not in self._alerts
            # keep first-seen order, latest state
            self._alerts[key] = alert
        if first and self._print_alerts:
            print(self.format_alert(alert), file=sys.stderr, flush=True)
        sev = str(alert.get("severity", "")).lower()
        if (alert.get("status", "open") == "open" and sev in self._stop_on
                and not self.should_stop):
            self.should_stop = True
            self.stop_reason = f"{sev} alert {alert.get('rule')}"
        if self._on_alert is not None:
            self._on_alert(alert)

    format_alert = staticmethod(format_alert)
