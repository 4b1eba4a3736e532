"""The overflow: where the training thread puts what it logs while the sender's in-memory
queue is full (a burst faster than the sender can batch), so a burst costs disk space, never
data. Items gather in a small buffer; every CHUNK of them is written as one record of a file in
the spool directory, so memory stays bounded however long the burst lasts. The sender takes
them back, in order, once the queue is empty, and ends the overflow when it has caught up.

A chunk is a length-prefixed `marshal` record: the file is this process's own, written and
read back within its lifetime, and marshal writes and reads the items' plain data (tuples,
dicts, floats with NaN kept) ten times faster than JSON, which cost a burst a fifth of the
client's CPU. A chunk holding something marshal cannot write (a numpy value in a config) is
made plain data through the JSON encoder first.

Order is kept: once an item went to the overflow, every later one does too until the sender
has taken everything back, and the sender reads the overflow only when the queue holds
nothing older.
"""

from __future__ import annotations

import json
import marshal
import os
import struct
import threading
from typing import IO, Any, Callable

from ._encode import dumps_local
from .interrupts import HeldInterrupt, raise_if_requested

Item = tuple[Any, ...]

CHUNK = 2000  # items per record of the file
_LEN = struct.Struct("<I")  # a record's length, before it


def _record(chunk: list[Any]) -> bytes:
    try:
        data = marshal.dumps(chunk)
    except ValueError:  # an object marshal does not know: as the JSON encoder makes it
        data = marshal.dumps(json.loads(dumps_local(chunk)))
    return _LEN.pack(len(data)) + data


class Overflow:
    """Queue items past the queue's size. `lock` guards everything but the read position;
    `put` runs on the producer threads, `take`/`try_close` on the sender."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.active = False
        self._buf: list[Item] = []
        self._w: IO[bytes] | None = None
        self._r: IO[bytes] | None = None
        self._rpos = 0
        self._wpos = 0
        self._on_disk = 0  # items in the file not read back yet
        self._events: dict[int, threading.Event] = {}
        self._next_event = 0
        self.used = 0  # items that ever went through the overflow

    @property
    def pending(self) -> int:
        """Items put and not taken back yet."""
        return self._on_disk + len(self._buf)

    def put(self, item: Item) -> None:
        """Adds one item (the caller holds `lock`)."""
        self.active = True
        self.used += 1
        self._buf.append(item)
        if len(self._buf) >= CHUNK:
            self._write_chunk()

    def _write_chunk(self) -> None:
        # Cut by a Ctrl-C, the file would keep half a record, or a record the counters do not
        # cover (written again, or read as the start of the next): hold it back until done.
        with HeldInterrupt() as held:
            self._write_buffered()
        raise_if_requested(held)

    def _write_buffered(self) -> None:
        if self._w is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._w = open(self.path, "wb")  # noqa: SIM115 - open for the client's lifetime
        chunk: list[Any] = []
        for item in self._buf:
            if item[0] == "flush":  # an Event cannot be written: it waits here by number
                self._next_event += 1
                self._events[self._next_event] = item[1]
                item = ("flush", self._next_event)
            chunk.append(item)
        rec = _record(chunk)
        self._w.write(rec)
        self._w.flush()
        self._wpos += len(rec)
        self._on_disk += len(self._buf)
        self._buf = []

    def take(self) -> list[Item]:
        """The oldest items not taken yet: one chunk from the file while it has any, else
        everything buffered."""
        with self.lock:
            end = self._wpos
            if self._rpos >= end:
                items, self._buf = self._buf, []
                return items
        if self._r is None:
            self._r = open(self.path, "rb")  # noqa: SIM115 - open for the client's lifetime
        self._r.seek(self._rpos)
        (n,) = _LEN.unpack(self._r.read(_LEN.size))
        data = self._r.read(n)
        self._rpos += _LEN.size + n
        out: list[Item] = []
        for raw in marshal.loads(data):
            if raw[0] == "flush":
                raw = ["flush", self._events.pop(raw[1])]
            out.append(tuple(raw))
        with self.lock:
            self._on_disk -= len(out)
        return out

    def try_close(self, queue_empty: Callable[[], bool]) -> bool:
        """Ends the overflow once everything is taken back and `queue_empty()`; the file is
        emptied for the next burst. True when the producers use the queue again."""
        with self.lock:
            if not self.active:
                return True
            if self._buf or self._rpos < self._wpos or not queue_empty():
                return False
            if self._w is not None:
                self._w.seek(0)
                self._w.truncate()
            self._rpos = self._wpos = 0
            self.active = False
            return True

    def close(self) -> None:
        for fh in (self._w, self._r):
            if fh is not None:
                fh.close()
        self._w = self._r = None
