"""The run's description in `hello` and where its spool lives."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def hello_run(run_id: str, project: str, name: str, *, tags: Sequence[str] | None,
              config: Mapping[str, Any], framework: str | None, rank: int | None,
              world_size: int | None) -> dict[str, Any]:
    """The `run` object of hello (docs/protocol.md, "Handshake")."""
    info: dict[str, Any] = {"id": run_id, "project": project, "name": name}
    if tags:
        info["tags"] = [str(t) for t in tags]
    if config:
        info["config"] = dict(config)
    info["framework"] = framework or ("pytorch" if "torch" in sys.modules else "python")
    info["host"] = socket.gethostname()[:200]
    if rank is not None:
        info["rank"] = rank
    if world_size is not None:
        info["worldSize"] = world_size
    return info


def spool_path(run_id: str, spool_dir: str | None) -> str:
    """`spool_dir`, else GRADWATCH_SPOOL_DIR, else ~/.cache/gradwatch/spool; one folder a run."""
    root = spool_dir or os.environ.get("GRADWATCH_SPOOL_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "gradwatch", "spool")
    return os.path.join(root, run_id.replace(":", "_"))
