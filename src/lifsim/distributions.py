"""Values drawn at random: per neuron (initial potentials) or per synapse (weights, delays).

A distribution takes the unit of the value it stands for (mV for ``u_init``, the
receptor's unit for a weight, ms for a delay). It is drawn from a stream of its own
(`lifsim.streams`), so the same seed gives the same values everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError


@dataclass(frozen=True)
class Normal:
    """Values drawn from N(mean, sd), in the unit of the value they stand for."""

    mean: float
    sd: float

    def __post_init__(self):
        _finite(self, self.mean, self.sd)
        if self.sd < 0:
            raise ParameterError(f"normal sd must be >= 0 (got {self.sd:g})")

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.normal(self.mean, self.sd, size=size)

    def low_high(self) -> tuple[float, float]:
        return (-math.inf, math.inf) if self.sd > 0 else (self.mean, self.mean)

    def as_table(self) -> dict:
        return {"normal": [self.mean, self.sd]}


@dataclass(frozen=True)
class Uniform:
    """Values drawn uniformly in [low, high), in the unit of the value they stand for."""

    low: float
    high: float

    def __post_init__(self):
        _finite(self, self.low, self.high)
        if self.high < self.low:
            raise ParameterError(f"uniform needs low <= high (got [{self.low:g}, {self.high:g}])")

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=size)

    def low_high(self) -> tuple[float, float]:
        return self.low, self.high

    def as_table(self) -> dict:
        return {"uniform": [self.low, self.high]}


DISTRIBUTIONS = {"normal": Normal, "uniform": Uniform}


def _finite(spec, *values):
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise ParameterError(f"{type(spec).__name__.lower()} needs two finite numbers (got {value!r})")


def from_table(name: str, table: dict):
    """``{normal = [mean, sd]}`` or ``{uniform = [low, high]}`` as a distribution."""
    if len(table) == 1:
        (law, pair), = table.items()
        if law in DISTRIBUTIONS:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ParameterError(f"{name}.{law} must be a list of two numbers (got {pair!r})")
            try:
                return DISTRIBUTIONS[law](*pair)
            except ParameterError as error:
                raise ParameterError(f"{name}: {error}") from None
    raise ParameterError(f"{name} must be {{normal = [mean, sd]}} or {{uniform = [low, high]}} (got {table!r})")


def is_distribution(value) -> bool:
    return isinstance(value, (Normal, Uniform))
