"""The outbox: gives each message the run's next `seq`, keeps it (in memory or only in the
spool) until the server acks it, and wakes `run.flush()` callers once their messages are
acked. Resending after a reconnect starts over from `acked`, so nothing is lost or duplicated.
"""

from __future__ import annotations

import collections
import threading
from typing import Deque, List, Optional, Tuple

from .spool import Spool


class Entry:
    """One sequenced message of the outbox (sent or not, not yet acked)."""

    __slots__ = ("seq", "text", "seg", "offset", "length", "consumed", "kind")

    def __init__(self, seq: int, text: Optional[str], seg: int, offset: int, length: int,
                 kind: str) -> None:
        self.seq = seq
        self.text = text
        self.seg = seg
        self.offset = offset
        self.length = length
        self.consumed = False
        self.kind = kind


def with_seq(seq: int, body: str) -> str:
    # body is a JSON object without seq: '{"type":...}'
    return '{"seq":%d,%s' % (seq, body[1:])


def kind_of(text: str) -> str:
    i = text.find('"type":"')
    if i < 0:
        return "?"
    j = text.index('"', i + 8)
    return text[i + 8:j]


class Outbox:
    """Sequenced, not yet acknowledged messages, oldest first, and the ack bookkeeping.

    Texts are kept in memory up to `memory_limit` bytes; beyond that only their place in the
    spool is kept and they are read back when (re)sent."""

    def __init__(self, spool: Spool, memory_limit: int, restore: bool) -> None:
        self.spool = spool
        self.memory_limit = memory_limit
        # Seqs are assigned at once. Until the first welcome they are provisional: a run id
        # that the server already knows (reused without the spool) renumbers them after its
        # lastSeq, since none of them has been sent yet.
        self.seq_known = True
        self.welcomed_once = False
        self._prov_first: Optional[int] = None
        self.next_seq = 1
        self.unsequenced: List[Tuple[str, str]] = []
        self.entries: Deque[Entry] = collections.deque()
        self._mem_bytes = 0
        self.acked = 0
        self.sent_upto = 0
        self._flush_waiters: List[Tuple[int, threading.Event]] = []
        if restore:
            old = spool.load()
            for seq, text in old:
                self.add(seq, text, write=True)
            if old:
                self.next_seq = old[-1][0] + 1
        spool.discard_old()
        spool.flush()

    @property
    def pending(self) -> int:
        return sum(1 for e in self.entries if not e.consumed) + len(self.unsequenced)

    def settled(self) -> bool:
        """Nothing left to deliver: every message is acked or consumed by the server."""
        return not self.unsequenced and all(e.consumed for e in self.entries)

    def live_seqs(self) -> List[int]:
        return [e.seq for e in self.entries if not e.consumed]

    # ------------------------------------------------------------------ sequencing
    def sequence(self, kind: str, body: str) -> None:
        if not self.seq_known:
            self.unsequenced.append((kind, body))
            return
        seq = self.next_seq
        self.next_seq += 1
        if not self.welcomed_once and self._prov_first is None:
            self._prov_first = seq
        self.add(seq, with_seq(seq, body), write=True, kind=kind)

    def add(self, seq: int, text: str, write: bool, kind: Optional[str] = None) -> None:
        seg, off, ln = self.spool.append(seq, text) if write else (0, 0, len(text))
        keep = text if self._mem_bytes + len(text) <= self.memory_limit else None
        if keep is not None:
            self._mem_bytes += len(text)
        self.entries.append(Entry(seq, keep, seg, off, ln, kind or kind_of(text)))

    def entry(self, seq: int) -> Optional[Entry]:
        if not self.entries:
            return None
        i = seq - self.entries[0].seq
        if 0 <= i < len(self.entries):
            return self.entries[i]
        return None

    def text_of(self, e: Entry) -> str:
        return e.text if e.text is not None else self.spool.read(e.seg, e.offset, e.length)

    def welcome(self, last: int) -> None:
        """Takes the server's lastSeq: the first welcome fixes the provisional seqs."""
        if not self.welcomed_once:
            self.welcomed_once = True
            if self._prov_first is not None and last >= self._prov_first:
                self._renumber_from(last + 1, self._prov_first)
            self._prov_first = None
            if last >= self.next_seq:
                self.next_seq = last + 1
        self.ack(last)
        self.sent_upto = max(last, self.acked)

    def _renumber_from(self, first: int, from_seq: int) -> None:
        """Gives the entries numbered from `from_seq` on new seqs starting at `first`."""
        keep = [e for e in self.entries if e.seq < from_seq]
        move = [e for e in self.entries if e.seq >= from_seq and not e.consumed]
        self.entries.clear()
        self.entries.extend(keep)
        self._mem_bytes = sum(len(e.text) for e in keep if e.text is not None)
        seq = first
        for e in move:
            text = self.text_of(e)
            body = "{" + text[text.index(",") + 1:]
            self.add(seq, with_seq(seq, body), write=True, kind=e.kind)
            seq += 1
        self.next_seq = seq

    # ------------------------------------------------------------------ acks
    def ack(self, seq: int) -> None:
        if seq > self.acked:
            self.acked = seq
        ob = self.entries
        while ob and (ob[0].seq <= self.acked or ob[0].consumed):
            e = ob.popleft()
            if e.text is not None:
                self._mem_bytes -= len(e.text)
            if e.seq > self.acked:
                self.acked = e.seq
        if self.sent_upto < self.acked:
            self.sent_upto = self.acked
        self.spool.release(self.acked)
        self.notify_flush()

    def add_flush_waiter(self, ev: threading.Event) -> None:
        """`ev` is set once everything sequenced so far is acked."""
        target = self.next_seq - 1 if self.seq_known else -1
        self._flush_waiters.append((target, ev))

    def notify_flush(self) -> None:
        if not self._flush_waiters or not self.seq_known:
            return
        done_to = self.entries[0].seq - 1 if self.entries else self.next_seq - 1
        keep = []
        for target, ev in self._flush_waiters:
            if target < 0:
                target = self.next_seq - 1
            if target <= done_to:
                ev.set()
            else:
                keep.append((target, ev))
        self._flush_waiters = keep

    def release_waiters(self) -> None:
        """Wakes every flush waiter (the sender is stopping)."""
        for _, ev in self._flush_waiters:
            ev.set()
