"""Finding the tensor that matters in a forward's arguments and outputs: models take inputs
positionally, in containers or as keyword arguments (`input_ids`, `pixel_values`, ...)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch


def first_tensor(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[torch.Tensor]:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            return a[0]
        if isinstance(a, dict):
            for v in a.values():
                if isinstance(v, torch.Tensor):
                    return v
    for key in ("input", "inputs", "x", "pixel_values", "inputs_embeds", "input_values"):
        v = kwargs.get(key)
        if isinstance(v, torch.Tensor):
            return v
    for v in kwargs.values():
        if isinstance(v, torch.Tensor):
            return v
    return None


def out_tensor(out: Any) -> Optional[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None

