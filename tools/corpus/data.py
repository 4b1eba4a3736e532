"""Synthetic tasks, small enough to train in seconds on one CPU thread: Gaussian blobs
(tabular), bar images (CNN), sequences whose class depends on their start (LSTM/GRU/RNN) and
token sequences (transformer). Every generator is seeded, so a recording is reproducible."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

Batch = Tuple[torch.Tensor, torch.Tensor]


class Blobs:
    """K Gaussian clusters in `dim` dimensions. `scales` stretches each feature (raw units);
    `standardize` undoes it with training-set statistics, as a correct pipeline would."""

    def __init__(self, g: torch.Generator, dim: int = 16, classes: int = 4, n: int = 1024,
                 label_noise: float = 0.0, scales: Optional[torch.Tensor] = None,
                 shift: float = 0.0, standardize: bool = False, spread: float = 1.6) -> None:
        self.g, self.dim, self.classes, self.label_noise = g, dim, classes, label_noise
        self.centers = torch.randn(classes, dim, generator=g) * spread / dim ** 0.5 * 2
        self.scales = scales if scales is not None else torch.ones(dim)
        self.shift = shift
        self.mu: Optional[torch.Tensor] = None
        self.sd: Optional[torch.Tensor] = None
        self.x, self.y = self.sample(n)
        self.val_x, self.val_y = self.sample(512, noisy=False)
        if standardize:
            self.mu, self.sd = self.x.mean(0), self.x.std(0)
            self.x, self.val_x = self.norm(self.x), self.norm(self.val_x)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mu) / self.sd if self.mu is not None else x

    def sample(self, n: int, noisy: bool = True) -> Batch:
        y = torch.randint(0, self.classes, (n,), generator=self.g)
        x = self.centers[y] + torch.randn(n, self.dim, generator=self.g)
        x = x * self.scales + self.shift
        if noisy and self.label_noise > 0:
            flip = torch.rand(n, generator=self.g) < self.label_noise
            y = torch.where(flip, torch.randint(0, self.classes, (n,), generator=self.g), y)
        return x, y

    def fresh(self, n: int) -> Batch:
        x, y = self.sample(n)
        return self.norm(x), y


def bars(g: torch.Generator, n: int, size: int = 12, classes: int = 4) -> Batch:
    """Images with one bar (horizontal, vertical, diagonal, anti-diagonal) plus noise."""
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, 1, size, size, generator=g) * 0.5
    pos = torch.randint(2, size - 2, (n,), generator=g)
    idx = torch.arange(size)
    for i in range(n):
        p, c = int(pos[i]), int(y[i])
        if c == 0:
            x[i, 0, p, :] += 2.0
        elif c == 1:
            x[i, 0, :, p] += 2.0
        elif c == 2:
            x[i, 0, idx, idx] += 2.0
        else:
            x[i, 0, idx, size - 1 - idx] += 2.0
    return x, y


def sequences(g: torch.Generator, n: int, length: int = 20, dim: int = 4, classes: int = 4) -> Batch:
    """The class is the channel with the largest sum over the whole sequence."""
    x = torch.randn(n, length, dim, generator=g)
    y = x[:, :, :classes].sum(1).argmax(1)
    return x, y


def tokens(g: torch.Generator, n: int, length: int = 12, vocab: int = 16, classes: int = 4) -> Batch:
    """The class is which of tokens 0..classes-1 occurs most often (ties: the smallest)."""
    x = torch.randint(0, vocab, (n, length), generator=g)
    counts = torch.stack([(x == c).sum(1) for c in range(classes)], 1).float()
    y = (counts - 0.01 * torch.arange(classes)).argmax(1)
    return x, y
