"""The few REST calls the importer needs: where a run stands before importing into it, and
its alerts afterwards."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

from ..startup import http_base


class ServerError(RuntimeError):
    pass


class Stored(NamedTuple):
    """What the server holds of a run: its status, its last `steps` step, and the last step
    of anything stored (train steps, eval metrics, histograms)."""
    status: str
    last_step: int | None
    last_any: int | None

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed", "stopped")


class Rest:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base = http_base(url)
        self.token = token
        self.timeout = timeout

    def get(self, path: str, **query: Any) -> Any:
        url = self.base + "/api/v1" + path
        q = {k: v for k, v in query.items() if v is not None}
        if q:
            url += "?" + urllib.parse.urlencode(q)
        req = urllib.request.Request(url)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            body = e.read().decode(errors="replace")[:300]
            raise ServerError(f"GET {url} answered {e.code}: {body}") from None
        except (urllib.error.URLError, OSError) as e:
            raise ServerError(f"cannot reach the gradwatch server at {self.base}: {e}") from None

    def _q(self, run_id: str) -> str:
        return urllib.parse.quote(run_id, safe="")

    def stored(self, run_id: str) -> Stored | None:
        detail = self.get(f"/runs/{self._q(run_id)}")
        if detail is None:
            return None
        last = detail.get("lastStep")
        steps = [last] if last is not None else []
        series = self.get(f"/runs/{self._q(run_id)}/series") or {}
        steps += [s["lastStep"] for s in series.get("series", []) if s.get("lastStep") is not None]
        hists = self.get(f"/runs/{self._q(run_id)}/histograms", limit=1) or {}
        steps += [h["step"] for h in hists.get("histograms", [])]
        return Stored(str(detail.get("status")), last, max(steps) if steps else None)

    def alerts(self, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.get(f"/runs/{self._q(run_id)}/alerts", cursor=cursor, limit=100)
            if not page:
                return out
            out.extend(page.get("alerts", []))
            cursor = page.get("nextCursor")
            if not cursor:
                return out
