"""Argument checks that run before any tensor is allocated.

Model configs arrive from strangers on the Hub, so every constructor argument is
checked for type and range first, with a message that names the argument.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any


def require_int(name: str, value: Any, low: int, high: int) -> int:
    # bool is an int subclass; `latent_dim=True` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def require_float(name: str, value: Any, low: float, high: float = math.inf, *, allow_low: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    above_low = value >= low if allow_low else value > low
    if not (above_low and value <= high):
        bound = "≥" if allow_low else ">"
        raise ValueError(f"{name} must be {bound} {low} and ≤ {high}, got {value}")
    return float(value)


def require_choice(name: str, value: Any, choices: Collection[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value
