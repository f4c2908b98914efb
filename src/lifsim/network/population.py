"""Populations and the layout of a run's neurons.

A run's neurons are its populations laid end to end: population ``p`` holds the global
indices ``offsets[p] .. offsets[p+1] - 1``. Receptors are named per population; each
distinct name is one receptor slot of the run, in order of first appearance, so a
projection or stimulus that names a receptor reaches the same slot in every population
that has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..distributions import is_distribution
from ..errors import ParameterError, as_numbers, require_finite, require_int
from ..neuron.params import LIFParams, concatenate
from ..synapses.receptor import Receptor, check_name

#: Most neurons of a population (spikes name their neuron with an int32).
MAX_SIZE = 2**31 - 1
#: Most receptors of a population (each is a row of state for every neuron).
MAX_RECEPTORS = 64


@dataclass(frozen=True)
class Population:
    """A group of neurons sharing a model (whose values may still differ per neuron).

    Attributes:
        name: how projections, stimuli and outputs name it.
        size: number of neurons, >= 1.
        model: `LIFParams`; per-neuron values have one value per neuron of the population.
        receptors: its synapse types (`Receptor`), at least one; the first is the
            default target of projections and stimuli that name none.
        u_init: initial membrane potential, mV: a number, one value per neuron, or a
            distribution (`lifsim.Normal`, `lifsim.Uniform`); None starts at ``u_rest``.
    """

    name: str
    size: int
    model: LIFParams = field(default_factory=LIFParams)
    receptors: tuple = (Receptor(),)
    u_init: object = None

    def __post_init__(self):
        check_name("population name", self.name)
        object.__setattr__(self, "size", require_int(f"population {self.name}.size", self.size, low=1,
                                                     high=MAX_SIZE))
        if not isinstance(self.receptors, (list, tuple)) or len(self.receptors) > MAX_RECEPTORS:
            raise ParameterError(f"population {self.name}.receptors must be a list of 1 to {MAX_RECEPTORS} "
                                 f"Receptor (got {self.receptors!r:.80})")
        object.__setattr__(self, "receptors", tuple(self.receptors))
        if not isinstance(self.model, LIFParams):
            raise ParameterError(f"population {self.name}.model must be LIFParams (got {self.model!r})")
        self.model.check_size(self.size, f"population {self.name}.model")
        if not self.receptors or not all(isinstance(r, Receptor) for r in self.receptors):
            raise ParameterError(f"population {self.name}.receptors must be one or more Receptor")
        names = [r.name for r in self.receptors]
        if len(set(names)) != len(names):
            raise ParameterError(f"population {self.name}.receptors must have distinct names (got {names})")
        if self.u_init is not None and not is_distribution(self.u_init):
            value = as_numbers(f"population {self.name}.u_init", self.u_init)
            if value.ndim > 1 or (value.ndim == 1 and value.shape != (self.size,)):
                raise ParameterError(f"population {self.name}.u_init must be a number, one value per neuron "
                                     f"({self.size}) or a distribution (got {self.u_init!r})")
            require_finite(f"population {self.name}.u_init", value)

    def receptor(self, name: str | None) -> Receptor:
        """The receptor called ``name`` (None: the first); refuses an unknown name."""
        if name is None:
            return self.receptors[0]
        for receptor in self.receptors:
            if receptor.name == name:
                return receptor
        raise ParameterError(f"population {self.name} has no receptor {name!r} "
                             f"(it has {', '.join(r.name for r in self.receptors)})")


@dataclass(frozen=True)
class Layout:
    """The populations of a run laid end to end, and its receptor slots."""

    populations: tuple

    def __post_init__(self):
        names = [p.name for p in self.populations]
        if not names:
            raise ParameterError("populations: a run needs at least one population")
        if len(set(names)) != len(names):
            raise ParameterError(f"populations must have distinct names (got {names})")

    @cached_property
    def offsets(self) -> np.ndarray:
        """Global index of each population's first neuron, and the total at the end."""
        return np.concatenate([[0], np.cumsum([p.size for p in self.populations])]).astype(np.int64)

    @property
    def n_neurons(self) -> int:
        return int(self.offsets[-1])

    @cached_property
    def receptors(self) -> tuple:
        """The receptor slot names, in order of first appearance."""
        return tuple(dict.fromkeys(r.name for p in self.populations for r in p.receptors))

    @cached_property
    def model(self) -> LIFParams:
        """The model of every neuron: one `LIFParams` with per-neuron values where populations differ."""
        if len(self.populations) == 1:
            return self.populations[0].model
        return concatenate([p.model for p in self.populations], [p.size for p in self.populations])

    def spans(self) -> list[tuple[int, int]]:
        """``(first, stop)`` global indices of each population."""
        return [(int(a), int(b)) for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def index(self, name: str) -> int:
        if not isinstance(name, str):
            raise ParameterError(f"population must be a population's name (got {name!r:.80})")
        for i, population in enumerate(self.populations):
            if population.name == name:
                return i
        raise ParameterError(f"population must be one of {', '.join(p.name for p in self.populations)} "
                             f"(got {name!r})")

    def population(self, name: str) -> Population:
        return self.populations[self.index(name)]

    def span(self, name: str) -> tuple[int, int]:
        return self.spans()[self.index(name)]

    def slot(self, receptor: str) -> int:
        return self.receptors.index(receptor)

    def population_of(self) -> np.ndarray:
        """The population index of every neuron, int32, shape (N,)."""
        return np.repeat(np.arange(len(self.populations), dtype=np.int32), [p.size for p in self.populations])

    def describe(self) -> list[dict]:
        """JSON-ready: each population's name, index range and receptors."""
        return [{"name": p.name, "first": lo, "stop": hi, "size": p.size,
                 "receptors": [{"name": r.name, "kind": r.kind, "tau_ms": r.tau_ms} for r in p.receptors]}
                for p, (lo, hi) in zip(self.populations, self.spans())]
