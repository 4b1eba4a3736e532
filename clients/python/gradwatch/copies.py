"""Copies of the tensors training changes in place (weights before and after a step,
gradients, the input batch), taken for a report's statistics.

On the CPU a fresh megabyte-sized tensor costs more in page faults than its copy does (the
allocator hands big blocks back to the system when they are freed), so the copies are made
into buffers kept from one report to the next, up to `max_bytes`. CUDA tensors are cloned:
PyTorch's caching allocator already reuses their memory, and a buffer held here would be
memory it could not lend to the training step."""

from __future__ import annotations

import threading

import torch

Tensor = torch.Tensor

# CPU buffers kept between reports, at most (beyond: copies are allocated and dropped)
POOL_BYTES = 512 << 20

_Key = tuple[torch.Size, torch.dtype, torch.device]


class CopyPool:
    """Reusable buffers for copies; `copy` runs on the training thread and `give` on the
    sender thread, so the free lists are guarded by a lock."""

    def __init__(self, max_bytes: int = POOL_BYTES) -> None:
        self.max_bytes = max_bytes
        self._free: dict[_Key, list[Tensor]] = {}
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._held

    def copy(self, t: Tensor) -> Tensor:
        """A copy of t (detached), in a kept buffer when one of its shape is free."""
        t = t.detach()
        if t.layout != torch.strided:  # a sparse gradient (nn.Embedding(sparse=True))
            return t.clone()
        if not t.is_cuda:
            with self._lock:
                free = self._free.get((t.shape, t.dtype, t.device))
                buf = free.pop() if free else None
                if buf is not None:
                    self._held -= _nbytes(buf)
            if buf is not None:
                return buf.copy_(t)
        return t.clone(memory_format=torch.contiguous_format)

    def give(self, bufs: list[Tensor]) -> None:
        """Takes back copies made by `copy` once nothing reads them any more."""
        with self._lock:
            for b in bufs:
                n = _nbytes(b)
                if (b.layout != torch.strided or b.is_cuda or not b.is_contiguous()
                        or self._held + n > self.max_bytes):
                    continue
                self._free.setdefault((b.shape, b.dtype, b.device), []).append(b)
                self._held += n


    def close(self) -> None:
        """Drops the kept buffers; copies given back later are dropped too (the model is no
        longer watched)."""
        with self._lock:
            self.max_bytes = 0
            self._free.clear()
            self._held = 0


def _nbytes(t: Tensor) -> int:
    return t.numel() * t.element_size() if t.layout == torch.strided else 0
