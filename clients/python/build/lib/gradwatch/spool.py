"""The on-disk spool: every sequenced message stays in a segment file until the server acks
it, so a crashed or disconnected training process loses nothing."""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict, List, Optional, Tuple


def seq_of(text: str) -> int:
    """The seq of a sequenced message text; texts always start with '{"seq":N,'."""
    return int(text[7:text.index(",", 7)])


class Spool:
    """Append-only segment files holding every sequenced message until it is acked.

    The files are flushed to the OS after every write batch, so they survive a crash of the
    training process (not a power loss); a new process resuming the run re-sends them."""

    SEGMENT_BYTES = 8 << 20

    def __init__(self, directory: str) -> None:
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.seg = 0
        self.fh: Optional[Any] = None
        self.size = 0
        self.seg_max_seq: Dict[int, int] = {}
        existing = self._segments()
        self.seg = (existing[-1] + 1) if existing else 1
        self._dirty = False

    def _segments(self) -> List[int]:
        out = []
        for name in os.listdir(self.dir):
            if name.startswith("seg-") and name.endswith(".jsonl"):
                try:
                    out.append(int(name[4:-6]))
                except ValueError:
                    pass
        return sorted(out)

    def _path(self, seg: int) -> str:
        return os.path.join(self.dir, "seg-%06d.jsonl" % seg)

    def load(self) -> List[Tuple[int, str]]:
        """Messages left by an earlier process (seq, text), in seq order, deduplicated."""
        found: Dict[int, str] = {}
        for seg in self._segments():
            try:
                with open(self._path(seg), "r", encoding="utf-8") as fh:
                    for line in fh:
                        if not line.endswith("\n"):
                            break  # torn last line of a crashed writer
                        text = line[:-1]
                        try:
                            found[seq_of(text)] = text
                        except ValueError:
                            continue
            except OSError:
                continue
        return sorted(found.items())

    def discard_old(self) -> None:
        for seg in self._segments():
            if seg < self.seg:
                try:
                    os.remove(self._path(seg))
                except OSError:
                    pass

    def append(self, seq: int, text: str) -> Tuple[int, int, int]:
        if self.fh is None or self.size >= self.SEGMENT_BYTES:
            if self.fh is not None:
                self.fh.flush()
                self.fh.close()
                self.seg += 1
            self.fh = open(self._path(self.seg), "ab")
            self.size = self.fh.tell()
        data = text.encode("utf-8") + b"\n"
        offset = self.size
        self.fh.write(data)
        self.size += len(data)
        self.seg_max_seq[self.seg] = seq
        self._dirty = True
        return self.seg, offset, len(data) - 1

    def flush(self) -> None:
        if self._dirty and self.fh is not None:
            self.fh.flush()
            self._dirty = False

    def read(self, seg: int, offset: int, length: int) -> str:
        self.flush()
        with open(self._path(seg), "rb") as fh:
            fh.seek(offset)
            return fh.read(length).decode("utf-8")

    def release(self, acked: int) -> None:
        """Deletes closed segments whose messages are all acked."""
        for seg, mx in list(self.seg_max_seq.items()):
            if seg != self.seg and mx <= acked:
                try:
                    os.remove(self._path(seg))
                except OSError:
                    pass
                del self.seg_max_seq[seg]

    def close(self, remove: bool) -> None:
        if self.fh is not None:
            self.fh.flush()
            self.fh.close()
            self.fh = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)
