"""Times on the step grid: ratios that are whole numbers up to float rounding count as whole."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

#: Relative tolerance within which a ratio of times counts as a whole number.
TOLERANCE = 1e-9


def in_steps(t_ms, dt_ms: float):
    """``t / dt`` (both in ms), snapped to the nearest whole number when within rounding of
    it (10 ms at dt = 0.1 ms is 100 steps, though 10/0.1 is not exactly 100 in floats).
    Infinite times map to ±2**62 steps. A scalar for a scalar, an array for an array."""
    t = np.asarray(t_ms, dtype=float)
    with np.errstate(over="ignore"):
        ratio = np.clip(np.where(np.isinf(t), np.copysign(2.0**62, t), t / dt_ms), -2.0**62, 2.0**62)
    nearest = np.rint(ratio)
    snapped = np.where(np.abs(ratio - nearest) <= TOLERANCE * np.maximum(1.0, np.abs(ratio)), nearest, ratio)
    return float(snapped) if snapped.ndim == 0 else snapped


#: Most values a grid may hold (a grid of currents or parameters gives one neuron each).
MAX_GRID = 10**8


def grid(start: float, stop: float, step: float, name: str = "grid") -> np.ndarray:
    """``start, start + step, ...`` below ``stop``, a stop on the grid up to rounding excluded;
    refuses one of more than MAX_GRID values before making it."""
    with np.errstate(over="ignore"):
        count = np.ceil((stop - start) / step - TOLERANCE)
    if not count <= MAX_GRID:
        raise ParameterError(f"{name}: (stop - start)/step must give at most {MAX_GRID} values (got {count:g})")
    return start + step * np.arange(int(count))


#: Values rounded at a time by `whole_steps`: its temporaries then stay in cache (on 10⁷
#: per-synapse delays, more than ten times faster than one pass over the whole array).
ROUNDING_CHUNK = 1 << 18


def whole_steps(t_ms, dt_ms):
    """``t / dt`` rounded to whole steps, halves up, as int64: a ratio within rounding of a
    whole or half number counts as that number (0.35 ms at dt = 0.1 ms is 3.5 steps, so 4,
    though 0.35/0.1 is 3.4999999999999996 in floats)."""
    t = np.asarray(t_ms, dtype=float)
    if t.size <= ROUNDING_CHUNK:
        return _whole_steps(t, dt_ms)
    flat = t.reshape(-1)
    out = np.empty(flat.size, np.int64)
    for lo in range(0, flat.size, ROUNDING_CHUNK):
        out[lo:lo + ROUNDING_CHUNK] = _whole_steps(flat[lo:lo + ROUNDING_CHUNK], dt_ms)
    return out.reshape(t.shape)


def _whole_steps(t_ms: np.ndarray, dt_ms: float):
    twice = np.asarray(in_steps(t_ms, 0.5 * dt_ms), dtype=float)
    return np.floor(twice / 2.0 + 0.5).astype(np.int64)
