"""TensorBoard tag names mapped to gradwatch names, where the meaning is clear.

Scalars: a tag naming the training loss, learning rate or accuracy becomes `loss`, `lr` or
`acc` (the names the rules read); a tag that names an evaluation split (val, valid,
validation, eval, dev, test) becomes an eval metric of split "val" or "test"; any other tag
keeps its name. Histograms: a tag that names a layer's weights, bias, gradients or activations
("fc1.weight", "fc1.weight.grad", "grad/fc1.weight", "dense/kernel", "fc1/activations")
becomes that layer's param/bias/grad/act; the rest are not mapped (see docs/integrations)."""

from __future__ import annotations

import re

_SEP = re.compile(r"[/_\-. :]+")
_SPLITS = {"val": "val", "valid": "val", "validation": "val", "eval": "val",
           "evaluation": "val", "dev": "val", "test": "test"}
_TRAIN = {"train", "training"}
_NOISE = {"epoch", "batch", "step", "iter", "iteration", "iterations", "per", "vs"}
_RESERVED = ("layer/", "inputs/", "eval/", "derived/")
MAX_NAME = 200


def canonical(tokens: list[str]) -> str | None:
    base = "_".join(tokens)
    if base == "loss":
        return "loss"
    if base in ("lr", "learning_rate", "learningrate"):
        return "lr"
    if base in ("acc", "accuracy"):
        return "acc"
    return None


def classify_scalar(tag: str, default_split: str | None = None
                    ) -> tuple[str | None, str]:
    """(split or None for training, name): `name` is canonical when the tag's meaning is clear,
    else the tag itself (for an eval metric: the tag without its split word)."""
    tokens = [t for t in _SEP.split(tag.lower()) if t]
    split = default_split
    for t in tokens:
        if t in _SPLITS:
            split = _SPLITS[t]
            break
    rest = [t for t in tokens if t not in _SPLITS and t not in _TRAIN and t not in _NOISE]
    name = canonical(rest)
    if name is None and len(rest) == 2 and rest[0] == "lr":
        name = "lr"  # "lr-Adam", "lr/pg1"
    if name == "lr" and split is not None and default_split is None:
        split = None  # a learning rate is never an eval metric
    if name is None:
        name = _strip_split(tag) if split is not None and default_split is None else tag
    return split, name


def _strip_split(tag: str) -> str:
    parts = list(re.split(r"([/_\-. :]+)", tag))
    words = parts[0::2]
    for i, w in enumerate(words):
        if w.lower() in _SPLITS:
            kept = [x for j, x in enumerate(words) if j != i and x]
            if kept:
                return "_".join(kept)
    return tag


_GRAD = {"grad", "grads", "gradient", "gradients"}
_WEIGHT = {"weight", "weights", "kernel", "kernels", "param", "params", "parameter",
           "parameters"}
_BIAS = {"bias", "biases"}
_ACT = {"act", "acts", "activation", "activations"}
_HNOISE = {"histogram", "histograms", "hist", "hists", "values", "distribution"}
_SUFFIX = re.compile(r"^(.*?)(?:_\d+)?$")


def classify_hist(tag: str) -> tuple[str, str] | None:
    """(layer, of) for a histogram tag that names a layer's tensor, else None."""
    words = [w for w in re.split(r"[/.]", tag) if w]
    roles: set[str] = set()
    layer = []
    for w in words:
        low = w.lower()
        for suffix, role in (("_grad", "grad"), ("-grad", "grad")):
            if low.endswith(suffix) and len(low) > len(suffix):
                roles.add(role)
                low, w = low[: -len(suffix)], w[: -len(suffix)]
        m = _SUFFIX.match(low)
        bare = m.group(1) if m else low  # keras 2: "kernel_0"
        if low in _GRAD:
            roles.add("grad")
        elif bare in _WEIGHT:
            roles.add("param")
        elif bare in _BIAS:
            roles.add("bias")
        elif low in _ACT:
            roles.add("act")
        elif low in _HNOISE:
            continue
        else:
            layer.append(w)
    if not layer:
        return None
    if roles == {"grad"} or roles == {"grad", "param"}:
        of = "grad"
    elif roles == {"param"}:
        of = "param"
    elif roles == {"bias"}:
        of = "bias"
    elif roles == {"act"}:
        of = "act"
    else:
        return None  # bias gradients, mixed or no role words: not a layer tensor we can name
    name = ".".join(layer)
    return (name, of) if len(name) <= MAX_NAME else None


def guess_kind(layer: str) -> str:
    """Only a layer's name is known; the kinds the rules treat specially are guessed from it
    so that e.g. a norm layer's weights (all 1 at init) are not taken for a failed init."""
    low = layer.lower()
    if "norm" in low or low.split(".")[-1].startswith(("bn", "ln")):
        return "Norm"
    if "embed" in low:
        return "Embedding"
    return "unknown"


class Names:
    """Gives each tag of a run its gradwatch name, first come first served: the first tag
    whose meaning is `loss` gets that name; a second one keeps its own tag."""

    def __init__(self, default_split: str | None = None) -> None:
        self.default_split = default_split
        self._by_tag: dict[str, tuple[str | None, str] | None] = {}
        self._taken: set[tuple[str | None, str]] = set()
        self.skipped: set[str] = set()

    def scalar(self, tag: str) -> tuple[str | None, str] | None:
        got = self._by_tag.get(tag, False)
        if got is not False:
            return got  # type: ignore[return-value]
        split, name = classify_scalar(tag, self.default_split)
        key = (split, name)
        if key in self._taken:
            key = (split, tag)
        if split is None and key[1].startswith(_RESERVED):
            key = (None, "tb/" + key[1])
        out: tuple[str | None, str] | None = key
        if not 0 < len(key[1]) <= MAX_NAME or key in self._taken:
            self.skipped.add(tag)
            out = None
        else:
            self._taken.add(key)
        self._by_tag[tag] = out
        return out
