"""The corpus's architectures: an MLP, a small CNN, recurrent nets (LSTM, GRU, RNN) and a
one-block transformer encoder, each with the layer specs the recorder reports (what the
Python client's watch() would find: modules with weights, in forward order, paired with the
activation that follows them)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import nn

from recorder import LayerSpec, linear_spec, recurrent_specs

ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    def __init__(self, dims: List[int], act: str = "relu", dropout: float = 0.0,
                 out_act: Optional[str] = None) -> None:
        super().__init__()
        mods: List[nn.Module] = []
        self.pairs: List[Tuple[nn.Linear, Optional[nn.Module], Optional[str]]] = []
        for i in range(len(dims) - 1):
            lin = nn.Linear(dims[i], dims[i + 1])
            mods.append(lin)
            last = i == len(dims) - 2
            a_name = out_act if last else act
            a = None
            if a_name == "softmax":
                a = nn.Softmax(dim=1)
            elif a_name:
                a = ACT[a_name]()
            if a is not None:
                mods.append(a)
            if not last and dropout > 0:
                mods.append(nn.Dropout(dropout))
            self.pairs.append((lin, a, a_name))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def specs(self) -> List[LayerSpec]:
        names = {id(m): n for n, m in self.named_modules()}
        return [linear_spec(names[id(lin)], lin, a_name, a) for lin, a, a_name in self.pairs]


class CNN(nn.Module):
    def __init__(self, classes: int = 4, batchnorm: bool = False) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8) if batchnorm else nn.Identity()
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.b2 = nn.BatchNorm2d(16) if batchnorm else nn.Identity()
        self.r2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 3 * 3, classes)
        self.batchnorm = batchnorm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.r1(self.b1(self.c1(x))))
        x = self.pool(self.r2(self.b2(self.c2(x))))
        return self.fc(x.flatten(1))

    def specs(self) -> List[LayerSpec]:
        out = [linear_spec("c1", self.c1, "relu", None if self.batchnorm else self.r1, unit_dim=1)]
        if self.batchnorm:
            out.append(linear_spec("b1", self.b1, "relu", self.r1, unit_dim=1))
        out.append(linear_spec("c2", self.c2, "relu", None if self.batchnorm else self.r2, unit_dim=1))
        if self.batchnorm:
            out.append(linear_spec("b2", self.b2, "relu", self.r2, unit_dim=1))
        out.append(linear_spec("fc", self.fc, "identity"))
        # As watch() pairs them: a conv followed by BatchNorm reports its own output (the
        # activation named is the ReLU after the norm); the norm reports the ReLU's output.
        return out


class Recurrent(nn.Module):
    def __init__(self, cell: str, dim: int = 4, hidden: int = 32, classes: int = 4,
                 nonlinearity: str = "tanh") -> None:
        super().__init__()
        if cell == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(dim, hidden, batch_first=True)
        elif cell == "gru":
            self.rnn = nn.GRU(dim, hidden, batch_first=True)
        else:
            self.rnn = nn.RNN(dim, hidden, batch_first=True, nonlinearity=nonlinearity)
        self.act_name = "tanh" if cell != "rnn" else nonlinearity
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])

    def specs(self) -> List[LayerSpec]:
        return recurrent_specs("rnn", self.rnn, self.act_name) + [linear_spec("head", self.head, "identity")]


class TinyTransformer(nn.Module):
    """Token + position embeddings, one pre-norm encoder block (attention, GELU MLP),
    mean pooling, a linear head. `bert_init`: every weight N(0, 0.02), LayerNorm at one."""

    def __init__(self, vocab: int = 16, length: int = 12, d: int = 32, heads: int = 2,
                 classes: int = 4, bert_init: bool = True) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, length, d))
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.gelu = nn.GELU()
        self.fc2 = nn.Linear(2 * d, d)
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)
        if bert_init:
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)
                    if getattr(m, "bias", None) is not None:
                        nn.init.zeros_(m.bias)
            nn.init.normal_(self.attn.in_proj_weight, std=0.02)
            nn.init.zeros_(self.attn.in_proj_bias)
            nn.init.normal_(self.pos, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb(x) + self.pos
        a = self.ln1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        h = h + self.fc2(self.gelu(self.fc1(self.ln2(h))))
        return self.head(self.lnf(h).mean(1))

    def specs(self) -> List[LayerSpec]:
        attn = LayerSpec("attn", self.attn, self.attn.in_proj_weight, "MultiheadAttention",
                         self.attn.in_proj_bias, None, self.attn, -1, self.attn.embed_dim,
                         3 * self.attn.embed_dim)
        return [
            linear_spec("emb", self.emb), linear_spec("ln1", self.ln1), attn,
            linear_spec("attn.out_proj", self.attn.out_proj, None, self.attn),
            linear_spec("ln2", self.ln2), linear_spec("fc1", self.fc1, "gelu", self.gelu),
            linear_spec("fc2", self.fc2), linear_spec("lnf", self.lnf), linear_spec("head", self.head, "identity"),
        ]
