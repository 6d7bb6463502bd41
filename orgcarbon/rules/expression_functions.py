"""The functions an expression may call, in a scalar and a NumPy flavour with the same results."""

from __future__ import annotations

import math
from functools import reduce
from typing import Any

import numpy as np

__all__ = ["SCALAR_HELPERS", "SIGNATURES", "VECTOR_HELPERS"]

# name → (minimum, maximum or None for "any number") of positional arguments
SIGNATURES: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "abs": (1, 1),
    "round": (1, 2),
    "sum": (1, None),
    "if_null": (2, 2),
    "is_null": (1, 1),
    "clamp": (3, 3),
    "sqrt": (1, 1),
}

_NAN = float("nan")


def _isnan(value: Any) -> bool:
    return value is None or value != value


def _s_div(a: Any, b: Any) -> float:
    try:
        return float(a / b)
    except ZeroDivisionError:
        # Same answer as the NumPy path (±inf or nan) instead of an exception for one row.
        with np.errstate(all="ignore"):
            return float(np.divide(np.float64(a), np.float64(b)))


def _s_pow(a: Any, b: Any) -> float:
    try:
        result = a**b
    except (ZeroDivisionError, OverflowError):
        result = None
    if result is None or isinstance(result, complex):
        with np.errstate(all="ignore"):
            return float(np.power(np.float64(a), np.float64(b)))
    return float(result)


def _s_truth(value: Any) -> bool:
    return bool(value)


def _s_min(*args: Any) -> float:
    return _NAN if any(_isnan(a) for a in args) else float(min(args))


def _s_max(*args: Any) -> float:
    return _NAN if any(_isnan(a) for a in args) else float(max(args))


def _s_abs(value: Any) -> float:
    return float(abs(value))


def _s_round(value: Any, digits: Any = 0) -> float:
    # np.round (half to even, scaled) rather than Python's round so both paths agree exactly.
    return float(np.round(np.float64(value), int(digits)))


def _s_sum(*args: Any) -> float:
    total = args[0]
    for value in args[1:]:
        total = total + value
    return float(total)


def _s_if_null(value: Any, default: Any) -> Any:
    return default if _isnan(value) else value


def _s_is_null(value: Any) -> bool:
    return _isnan(value)


def _s_clamp(value: Any, low: Any, high: Any) -> float:
    return _s_min(_s_max(value, low), high)


def _s_sqrt(value: Any) -> float:
    return math.sqrt(value) if value >= 0 else _NAN


SCALAR_HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_s_div": _s_div,
    "_s_pow": _s_pow,
    "_s_truth": _s_truth,
    "_s_min": _s_min,
    "_s_max": _s_max,
    "_s_abs": _s_abs,
    "_s_round": _s_round,
    "_s_sum": _s_sum,
    "_s_if_null": _s_if_null,
    "_s_is_null": _s_is_null,
    "_s_clamp": _s_clamp,
    "_s_sqrt": _s_sqrt,
}


def _v_num(value: Any) -> Any:
    return np.asarray(value, dtype=np.float64)


def _v_min(*args: Any) -> Any:
    return reduce(np.minimum, args)


def _v_max(*args: Any) -> Any:
    return reduce(np.maximum, args)


def _v_round(value: Any, digits: Any = 0) -> Any:
    return np.round(np.asarray(value, dtype=np.float64), int(digits))


def _v_sum(*args: Any) -> Any:
    return reduce(np.add, args)


def _v_if_null(value: Any, default: Any) -> Any:
    return np.where(np.isnan(value), default, value)


def _v_clamp(value: Any, low: Any, high: Any) -> Any:
    return np.minimum(np.maximum(value, low), high)


VECTOR_HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_v_num": _v_num,
    "_v_float": np.float64,
    "_v_not": np.logical_not,
    "_v_and": np.logical_and,
    "_v_or": np.logical_or,
    "_v_where": np.where,
    "_v_min": _v_min,
    "_v_max": _v_max,
    "_v_abs": np.abs,
    "_v_round": _v_round,
    "_v_sum": _v_sum,
    "_v_if_null": _v_if_null,
    "_v_is_null": np.isnan,
    "_v_clamp": _v_clamp,
    "_v_sqrt": np.sqrt,
}
