"""The corpus: real PyTorch trainings, healthy and with one injected fault each. `cause` is the
root cause (docs/diagnosis.md's vocabulary) the diagnosis must name first; `onset` the step
the fault starts (0 for faults present from the start). HELD_OUT runs were kept out of
tuning: the diagnosis layer's weights and thresholds were chosen on the others."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from data import Blobs, bars, sequences, tokens
from models import CNN, MLP, Recurrent, TinyTransformer
from train import Setup


@dataclass
class Scenario:
    name: str
    arch: str
    description: str
    build: Callable[[torch.Generator], Setup]
    cause: Optional[str] = None
    onset: int = 0
    held_out: bool = False


def _cfg(lr: float, bs: int, opt: str, **extra: object) -> Dict[str, object]:
    return {"lr": lr, "batchSize": bs, "optimizer": opt, **extra}


def blob_setup(g: torch.Generator, *, dims=(16, 64, 64, 4), act="relu", opt="adam", lr=1e-3, bs=32,
               steps=400, n=1024, noise=0.0, wd=0.0, momentum=0.9, blobs_kw=None, init=None,
               out_act=None, dropout=0.0, eval_every=50, fresh=False, sched=None,
               only_last=False, eval_raw=False, every=10, loss=None, extra_cfg=None, corrupt_at=None) -> Setup:
    b = Blobs(g, dim=dims[0], classes=dims[-1], n=n, label_noise=noise, **(blobs_kw or {}))
    model = MLP(list(dims), act, dropout, out_act)
    if init is not None:
        init(model)
    params = list(model.pairs[-1][0].parameters()) if only_last else model.parameters()
    if opt == "adam":
        o: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    elif opt == "adamw":
        o = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    elif opt == "sgd":
        o = torch.optim.SGD(params, lr=lr)
    else:
        o = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd, nesterov=opt == "nesterov")
    perm = torch.randperm(n, generator=g)

    def batch(k: int):
        if fresh:
            return b.fresh(bs)
        per_epoch = n // bs
        e, i = divmod(k, per_epoch)
        if i == 0 and e > 0:
            perm.copy_(torch.randperm(n, generator=g))
        idx = perm[i * bs:(i + 1) * bs]
        x = b.x[idx]
        if k == corrupt_at:  # one record whose feature was divided by zero upstream
            x = x.clone()
            x[0, 3] = math.inf
        return x, b.y[idx]

    raw_val = (b.val_x * 20 + 50) if eval_raw else None
    cfg = _cfg(lr, bs, {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}.get(opt, "SGD"), **(extra_cfg or {}))
    if dropout:
        cfg["dropout"] = dropout
    if wd:
        cfg["weightDecay"] = wd
    return Setup(model, model.specs(), o, batch, steps, bs, cfg, (b.val_x, b.val_y), raw_val,
                 0 if fresh else n, loss or nn.CrossEntropyLoss(), "CrossEntropyLoss" if loss is None else "tempered_log_softmax", sched,
                 every=every, eval_every=eval_every)


def cosine(peak: float, warm: int, total: int) -> Callable[[int], float]:
    return lambda t: peak * (t + 1) / warm if t < warm else 0.5 * peak * (1 + math.cos(math.pi * (t - warm) / (total - warm)))


def zero_init(m: MLP) -> None:
    for lin, _, _ in m.pairs:
        nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)


def normal_init(std: float) -> Callable[[MLP], None]:
    def f(m: MLP) -> None:
        for lin, _, _ in m.pairs:
            nn.init.normal_(lin.weight, std=std)
    return f


def dead_bias(m: MLP) -> None:
    for lin, _, _ in m.pairs[:-1]:
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        nn.init.constant_(lin.bias, -4.0)


def he_init(m: MLP) -> None:
    for lin, _, _ in m.pairs:
        nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")


def cnn_setup(g: torch.Generator, *, bn=False, opt="adam", lr=1e-3, steps=300, bs=32, raise_at=None,
              raise_to=None, every=10) -> Setup:
    model = CNN(batchnorm=bn)
    o = torch.optim.Adam(model.parameters(), lr=lr) if opt == "adam" else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x, y = bars(g, 1024)
    val = bars(g, 256)

    def batch(k: int):
        i = (k * bs) % 1024
        return x[i:i + bs], y[i:i + bs]

    hook = None
    if raise_at is not None:
        def hook(k: int, opt_: torch.optim.Optimizer) -> None:
            if k == raise_at:
                for grp in opt_.param_groups:
                    grp["lr"] = raise_to
    cfg = _cfg(lr, bs, "Adam" if opt == "adam" else "SGD")
    return Setup(model, model.specs(), o, batch, steps, bs, cfg, val, None, 1024, every=every, eval_every=50, hook=hook)


def rnn_setup(g: torch.Generator, cell: str, *, lr=3e-3, opt="adam", steps=300, bs=32, clip=None,
              length=20, nonlinearity="tanh", hh_scale=None, ortho=None, every=10, scale=1.0, shift=0.0) -> Setup:
    model = Recurrent(cell, nonlinearity=nonlinearity)
    if hh_scale is not None:
        with torch.no_grad():
            h = model.rnn.weight_hh_l0
            h.copy_(torch.eye(h.shape[1]).repeat(h.shape[0] // h.shape[1], 1) * hh_scale)
    if ortho is not None:
        with torch.no_grad():
            nn.init.orthogonal_(model.rnn.weight_hh_l0)
            model.rnn.weight_hh_l0.mul_(ortho)
    o = torch.optim.Adam(model.parameters(), lr=lr) if opt == "adam" else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    vx, vy = sequences(g, 256, length)
    val = (vx * scale + shift, vy)

    def batch(k: int):
        x, y = sequences(g, bs, length)
        return x * scale + shift, y
    cfg = _cfg(lr, bs, "Adam" if opt == "adam" else "SGD", sequenceLength=length)
    if clip:
        cfg["gradClip"] = clip
    return Setup(model, model.specs(), o, batch, steps, bs, cfg, val, None, 0, clip=clip, every=every, eval_every=50)


def tf_setup(g: torch.Generator, *, lr=1e-3, warm=30, steps=300, bs=32, bert=True, every=10) -> Setup:
    model = TinyTransformer(bert_init=bert)
    o = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    val = tokens(g, 256)
    # warm-up, then linear decay to a tenth (the usual BERT recipe); none without warm-up
    sched = (lambda t: lr * min((t + 1) / warm, 1.0 - 0.9 * max(0, t - warm) / max(1, steps - warm))) if warm else None
    cfg = _cfg(lr, bs, "AdamW", weightDecay=0.01, init="normal(0.02)")
    return Setup(model, model.specs(), o, lambda k: tokens(g, bs), steps, bs, cfg, val, None, 0,
                 lr=sched, every=every, eval_every=50)


def tempered_ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The bug: log of a softmax computed separately (log_softmax intended), with a temperature."""
    return -torch.log(torch.softmax(out * 60, 1)).gather(1, y[:, None]).mean()


def mixed_scales(dim: int = 16) -> torch.Tensor:
    return torch.logspace(-3, 3, dim)


S = Scenario
SCENARIOS: List[Scenario] = [
    # ---------------------------------------------------------------- faults
    S("mlp-sgd-lr8", "mlp", "Plain SGD with lr 8: the loss blows up within a few steps.",
      lambda g: blob_setup(g, opt="sgd", lr=8.0, steps=200, every=5), "lr_too_high"),
    S("mlp-adam-lr05", "mlp", "Adam with lr 0.5: the first step already moves every weight far from its init.",
      lambda g: blob_setup(g, lr=0.5, steps=300), "lr_too_high"),
    S("cnn-lr-raised", "cnn", "CNN trains well with Adam 1e-3; at step 150 the lr is raised to 0.5.",
      lambda g: cnn_setup(g, steps=400, raise_at=150, raise_to=0.5), "lr_too_high", onset=150, held_out=True),
    S("gru-lr-high", "gru", "GRU with Adam lr 0.1.",
      lambda g: rnn_setup(g, "gru", lr=0.1, steps=300), "lr_too_high", held_out=True),
    S("mlp-lr-raised", "mlp", "MLP with SGD momentum lr 0.01; at step 250 the lr is raised to 2.",
      lambda g: blob_setup(g, opt="momentum", lr=0.01, steps=450,
                           sched=lambda t: 0.01 if t < 250 else 2.0), "lr_too_high", onset=250),
    S("transformer-lr-high", "transformer", "Tiny transformer, AdamW lr 0.05 without warm-up.",
      lambda g: tf_setup(g, lr=0.05, warm=0, steps=300), "lr_too_high", held_out=True),
    S("lstm-unnormalized", "lstm", "LSTM fed raw sensor-like values (x30 + 100), Adam 3e-3.",
      lambda g: rnn_setup(g, "lstm", scale=30.0, shift=100.0, steps=300), "inputs_unnormalized", held_out=True),
    S("mlp-lr-tiny", "mlp", "SGD momentum 0.9 with lr 1e-6: updates are tiny, the loss does not move.",
      lambda g: blob_setup(g, opt="momentum", lr=1e-6, steps=600), "lr_too_low"),
    S("mlp-unnormalized", "mlp", "Raw features: scaled x50 and shifted by +20, fed without normalisation.",
      lambda g: blob_setup(g, opt="momentum", lr=1e-3, steps=300, blobs_kw={"scales": torch.full((16,), 50.0), "shift": 20.0}),
      "inputs_unnormalized"),
    S("mlp-zero-init", "mlp", "Every weight and bias initialised to zero (ReLU MLP).",
      lambda g: blob_setup(g, init=zero_init, steps=200, every=5), "bad_init"),
    S("mlp-tanh-big-init", "mlp", "tanh MLP with weights N(0, 2): units saturate.",
      lambda g: blob_setup(g, act="tanh", init=normal_init(2.0), opt="momentum", lr=0.01, steps=300), "bad_init", held_out=True),
    S("mlp-dead-relu", "mlp", "ReLU layers whose biases start at -4: almost every unit is off for every input.",
      lambda g: blob_setup(g, init=dead_bias, steps=300), "dead_relu"),
    S("mlp-deep-sigmoid", "mlp", "Eight sigmoid layers, SGD lr 0.1: gradients fade before the first layers.",
      lambda g: blob_setup(g, dims=(16, 32, 32, 32, 32, 32, 32, 32, 4), act="sigmoid", opt="sgd", lr=0.1, steps=300),
      "saturating_activations"),
    S("rnn-exploding", "rnn", "ReLU RNN, orthogonal recurrent weights x1.05, 40 steps, Adam 1e-3, no clipping: the gradient norm grows 100x mid-run.",
      lambda g: rnn_setup(g, "rnn", nonlinearity="relu", ortho=1.05, lr=1e-3, length=40, steps=300),
      "exploding_gradients"),
    S("mlp-overfit", "mlp", "128 noisy training examples, a 256-wide MLP, Adam 3e-3 for 100 epochs.",
      lambda g: blob_setup(g, dims=(16, 256, 256, 4), n=128, noise=0.3, lr=3e-3, steps=400, eval_every=20),
      "overfitting"),
    S("mlp-l2-strong", "mlp", "SGD momentum with coupled weight decay 0.5: the weights are pinned near zero.",
      lambda g: blob_setup(g, opt="momentum", lr=0.05, wd=0.5, steps=300), "regularization_too_strong", held_out=True),
    S("mlp-adam-l2", "mlp", "Adam with (coupled) weight_decay 0.3: an L2 penalty that swamps the data.",
      lambda g: blob_setup(g, lr=1e-2, wd=0.3, steps=300), "regularization_too_strong"),
    S("mlp-double-softmax", "mlp", "A Softmax module before CrossEntropyLoss (softmax applied twice).",
      lambda g: blob_setup(g, out_act="softmax", steps=300), "output_loss_mismatch"),
    S("mlp-batch1", "mlp", "Batch size 1, SGD lr 0.05, 20% label noise: a wildly noisy loss.",
      lambda g: blob_setup(g, dims=(16, 32, 4), opt="sgd", lr=0.05, bs=1, noise=0.2, steps=400, eval_every=100), "minibatch_too_small"),
    S("mlp-log0-nan", "mlp", "A hand-written loss, log(softmax(60 z)): once a wrong class's probability underflows to 0, log(0) = -inf.",
      lambda g: blob_setup(g, steps=300, lr=1e-2, loss=tempered_ce), "numerical_nan", held_out=True),
    S("mlp-inf-record", "mlp", "At step 150 one record of the batch holds +inf (a division by zero upstream).",
      lambda g: blob_setup(g, steps=250, corrupt_at=150), "bad_input_data", onset=150),
    S("mlp-frozen-bug", "mlp", "Only the head's parameters were passed to the optimizer: the hidden layers never change.",
      lambda g: blob_setup(g, only_last=True, steps=200, every=5), "weights_not_updating"),
    S("mlp-eval-mismatch", "mlp", "Training inputs standardised, eval inputs left raw (x20 + 50).",
      lambda g: blob_setup(g, steps=300, eval_every=25, eval_raw=True), "train_eval_mismatch", held_out=True),
    # ---------------------------------------------------------------- healthy controls
    S("mlp-fresh-data", "mlp", "Fresh samples every step (never a second pass), eval every 25 steps: cannot overfit.",
      lambda g: blob_setup(g, fresh=True, noise=0.2, steps=400, eval_every=25)),
    S("mlp-warmup-cosine", "mlp", "AdamW, 40-step warm-up to 3e-3 then cosine decay to zero.",
      lambda g: blob_setup(g, opt="adamw", lr=3e-3, wd=0.01, steps=500, sched=cosine(3e-3, 40, 500),
                           extra_cfg={"schedule": {"type": "cosine", "unit": "step", "warmup": 40}})),
    S("mlp-adamw-wd", "mlp", "AdamW with decoupled weight decay 0.05, several epochs.",
      lambda g: blob_setup(g, opt="adamw", lr=1e-3, wd=0.05, steps=400)),
    S("transformer-bert-init", "transformer", "Tiny transformer, BERT-style init (std 0.02, LayerNorm), AdamW 5e-4 with warm-up and linear decay.",
      lambda g: tf_setup(g, lr=5e-4, warm=30, steps=300)),
    S("mlp-dropout", "mlp", "Dropout 0.3 between the hidden layers, Adam 1e-3.",
      lambda g: blob_setup(g, dropout=0.3, steps=400), held_out=True),
    S("cnn-batchnorm", "cnn", "CNN with BatchNorm, SGD momentum 0.9 lr 0.05.",
      lambda g: cnn_setup(g, bn=True, opt="momentum", lr=0.05, steps=300)),
    S("mlp-noisy-batch4", "mlp", "Batch 4, SGD momentum lr 0.01, 20% label noise: a noisy but healthy loss.",
      lambda g: blob_setup(g, opt="momentum", lr=0.01, bs=4, noise=0.2, steps=400)),
    S("mlp-mixed-scale-normalized", "mlp", "Raw features spanning 1e-3..1e3, standardised with training statistics.",
      lambda g: blob_setup(g, steps=400, blobs_kw={"scales": mixed_scales(), "standardize": True}), held_out=True),
    S("mlp-sweep-lr0.01", "mlp", "lr sweep, good member: SGD momentum 0.9, lr 0.01.",
      lambda g: blob_setup(g, opt="momentum", lr=0.01, steps=400)),
    S("mlp-sweep-lr0.03", "mlp", "lr sweep, good member: SGD momentum 0.9, lr 0.03.",
      lambda g: blob_setup(g, opt="momentum", lr=0.03, steps=400), held_out=True),
    S("mlp-sweep-lr0.1", "mlp", "lr sweep, good member: SGD momentum 0.9, lr 0.1.",
      lambda g: blob_setup(g, opt="momentum", lr=0.1, steps=400)),
    S("mlp-nesterov", "mlp", "SGD with Nesterov momentum 0.9, lr 0.02, batch 64.",
      lambda g: blob_setup(g, opt="nesterov", lr=0.02, bs=64, steps=300), held_out=True),
    S("lstm-clip", "lstm", "LSTM, Adam 3e-3, gradients clipped at norm 1 (grad_norm sent).",
      lambda g: rnn_setup(g, "lstm", clip=1.0, steps=300)),
    S("gru-adam", "gru", "GRU, Adam 3e-3.",
      lambda g: rnn_setup(g, "gru", steps=300), held_out=True),
    S("cnn-default", "cnn", "CNN with PyTorch's default init, Adam 1e-3.",
      lambda g: cnn_setup(g, steps=300)),
]
