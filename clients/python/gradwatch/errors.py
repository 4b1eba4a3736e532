"""The server's error codes and what the client does on each: the table of docs/protocol.md
("Server to client"), which shared/src/wire/errors.ts holds for the TypeScript side. A test
keeps this copy equal to the documented one.

  rejected   the message was refused for its content; its seq is consumed and nothing of it
             is stored. Reported once per code, counted, never re-sent.
  retry      nothing was stored and the seq is not consumed: re-send after a back-off.
  resend     the server expected another seq (`expected`): re-send from there.
  reconnect  the socket is (or will be) closed, nothing acked is lost: connect again, say
             hello, re-send what was not acked.
  fatal      retrying cannot help: stop sending and surface the error to the user.
A code this table does not know (a newer server) is fatal.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

ErrorAction = Literal["rejected", "retry", "resend", "reconnect", "fatal"]

ERROR_ACTIONS: Mapping[str, ErrorAction] = MappingProxyType({
    "bad_json": "rejected",
    "bad_message": "rejected",
    "unknown_type": "rejected",
    "step_order": "rejected",
    "limit": "rejected",
    "gap": "resend",
    "retry": "retry",
    "internal": "retry",
    "rate_limited": "retry",
    "no_hello": "reconnect",
    "frame_too_large": "reconnect",
    "shutdown": "reconnect",
    "slow_consumer": "reconnect",
    "hello_timeout": "reconnect",
    "busy": "reconnect",
    "abuse": "fatal",
    "bad_frame": "fatal",
    "protocol": "fatal",
    "unauthorized": "fatal",
    "forbidden": "fatal",
    "not_found": "fatal",
    "replaced": "fatal",
})


def error_action(code: str) -> ErrorAction:
    """What the client does on `code`; an unknown code is fatal."""
    return ERROR_ACTIONS.get(code, "fatal")


class GradwatchError(RuntimeError):
    """The server refused the run for good (a fatal code: bad token, deleted run, another
    job took the run over, ...). Raised by `init()` and `Run.finish()`; until then training
    goes on and what it logs is kept in the spool."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
