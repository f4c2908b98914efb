"""Input validation: every refusal names the parameter and the allowed range.

Checks run before any simulation work. A refused value raises
`ParameterError`, whose message is one line meant for a person; the
command line prints it and exits with status 2.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


class ParameterError(ValueError):
    """A parameter outside its allowed range; the message names both."""


class NonFiniteError(ParameterError):
    """A run whose state turned NaN or infinite: the message names the neuron, the step and
    the variable. Its parameters or input exceed what the run's precision holds."""


class PoissonApproximationWarning(UserWarning):
    """rate·dt is large enough that a per-step draw is no longer Poisson-like."""


def _describe(value) -> str:
    array = np.asarray(value)
    if array.ndim == 0:
        return repr(array.item())
    return f"an array of shape {array.shape}"


def as_numbers(name: str, value) -> np.ndarray:
    """``value`` as a float64 array; refuses what is not a real number or an array of them
    (strings, booleans, complex numbers, None, ragged lists) with a `ParameterError`."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise ParameterError(f"{name} must be a number (got {value!r})")
    if isinstance(value, int):  # beyond int64 numpy would keep it as an object
        value = float(value) if abs(value) < 2**1023 else math.inf
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError
        return array.astype(float)
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 60 else f"a {type(value).__name__} that is not all numbers"
        raise ParameterError(f"{name} must be a number or an array of numbers (got {shown})") from None


def require_number(name: str, value) -> float:
    """Refuse anything but one finite real number; return it as a float."""
    array = as_numbers(name, value)
    if array.ndim or not math.isfinite(float(array)):
        raise ParameterError(f"{name} must be a finite number (got {_describe(value) if array.ndim else value!r})")
    return float(array)


def require_finite(name: str, value) -> None:
    """Refuse NaN and infinities anywhere in ``value``, and what is not a number."""
    array = as_numbers(name, value)
    if not np.all(np.isfinite(array)):
        where = "" if array.ndim == 0 else " with NaN or inf"
        raise ParameterError(f"{name} must be a finite number (got {_describe(value)}{where})")


def require_range(name: str, value, *, low=None, high=None, low_open=False, high_open=False,
                  unit: str = "") -> None:
    """Refuse values outside [low, high] (or open ends where asked); finite values only."""
    require_finite(name, value)
    array = as_numbers(name, value)
    too_low = low is not None and np.any(array <= low if low_open else array < low)
    too_high = high is not None and np.any(array >= high if high_open else array > high)
    if too_low or too_high:
        raise ParameterError(f"{name} must be {_range_text(low, high, low_open, high_open, unit)} "
                             f"(got {_offending(array, low, high, low_open, high_open)})")


def _range_text(low, high, low_open, high_open, unit) -> str:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f"in {left}{_num(low)}, {_num(high)}{right}{suffix}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}{suffix}"
    return f"{'<' if high_open else '<='} {_num(high)}{suffix}"


def _offending(array, low, high, low_open, high_open) -> str:
    bad = np.zeros(array.shape, dtype=bool)
    if low is not None:
        bad |= array <= low if low_open else array < low
    if high is not None:
        bad |= array >= high if high_open else array > high
    value = array[bad].flat[0]
    return _num(value) if array.ndim == 0 else f"{_num(value)} at index {int(np.flatnonzero(bad.ravel())[0])}"


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def require_bool(name: str, value) -> bool:
    """Refuse anything but True and False."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be true or false (got {value!r})")
    return bool(value)


def require_int(name: str, value, *, low: int = 0, high: int | None = None) -> int:
    """Refuse non-integers and integers outside [low, high]; return the int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()):
            raise ParameterError(f"{name} must be a whole number >= {low} (got {value!r})")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ParameterError(f"{name} must be a whole number {allowed} (got {value})")
    return value


def require_choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(str, choices))} (got {value!r})")
    return value


def check_poisson_probability(name: str, probability: float) -> None:
    """Refuse a per-step spike probability >= 1; warn above 0.1."""
    if probability >= 1.0:
        raise ParameterError(
            f"{name}: rate·dt·1e-3 must be < 1 (got {probability:g}); lower the rate or dt")
    if probability > 0.1:
        warnings.warn(
            f"{name}: rate·dt·1e-3 = {probability:g} > 0.1: the per-step draw no longer "
            "approximates a Poisson process (at most one spike per step); lower dt",
            PoissonApproximationWarning, stacklevel=3)
