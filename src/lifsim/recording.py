"""What a run records: which variables, of which neurons, every how many steps.

Output spikes are always kept, as sparse (time, neuron) events. Traces are dense
arrays (samples × recorded neurons) of the chosen variables only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, require_bool, require_int

#: Recordable variables and their units.
VARIABLES = {
    "u": "mV",  # membrane potential, as the method reports it for the step
    "i_syn": "mA",  # summed synaptic current in the step
    "i_in": "mA",  # total input current in the step: external + synaptic
}
#: Neurons whose traces ``neurons="sample"`` records: at most this many, spread evenly.
SAMPLE_NEURONS = 8


@dataclass(frozen=True)
class Record:
    """A recording specification.

    Attributes:
        variables: names from ``VARIABLES``: ``"u"`` (mV), ``"i_syn"`` (mA), ``"i_in"`` (mA).
        neurons: ``"all"``, ``"none"``, ``"sample"`` (at most ``SAMPLE_NEURONS`` neurons spread
            evenly over the run's neurons, the first and the last included: what experiment
            files record by default) or a sequence of distinct neuron indices (>= 0;
            checked against the population size when the run is configured).
        every: record a sample every this many steps (steps 0, every, 2·every, ...).
        input_spikes: also keep every input spike as (time ms, neuron, synapse, stimulus).
    """

    variables: tuple = ("u", "i_in")
    neurons: object = "all"
    every: int = 1
    input_spikes: bool = False

    def __post_init__(self):
        if not isinstance(self.variables, (str, list, tuple)):
            raise ParameterError(f"record.variables must be a list of names (got {self.variables!r})")
        variables = (self.variables,) if isinstance(self.variables, str) else tuple(self.variables)
        unknown = [v for v in variables if not isinstance(v, str) or v not in VARIABLES]
        if unknown:
            raise ParameterError(f"record.variables must be among {', '.join(VARIABLES)} (got {unknown[0]!r})")
        if len(set(variables)) != len(variables):
            raise ParameterError(f"record.variables must not repeat a name (got {list(variables)})")
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "every", require_int("record.every", self.every, low=1))
        object.__setattr__(self, "input_spikes", require_bool("record.input_spikes", self.input_spikes))
        if isinstance(self.neurons, str):
            if self.neurons not in ("all", "none", "sample"):
                raise ParameterError(
                    f"record.neurons must be 'all', 'none', 'sample' or a list of indices (got {self.neurons!r})")
        elif self.neurons is None:
            object.__setattr__(self, "neurons", "none")
        elif not isinstance(self.neurons, (list, tuple, np.ndarray)) or np.ndim(self.neurons) != 1:
            raise ParameterError(
                f"record.neurons must be 'all', 'none', 'sample' or a list of indices (got {self.neurons!r})")
        else:
            neurons = tuple(require_int("record.neurons[]", i, low=0) for i in self.neurons)
            values, counts = np.unique(np.asarray(neurons, dtype=np.int64), return_counts=True)
            if np.any(counts > 1):
                raise ParameterError(f"record.neurons must not repeat an index ({values[counts > 1][0]} appears "
                                     f"{counts[counts > 1][0]} times)")
            object.__setattr__(self, "neurons", neurons)

    def count(self, n_neurons: int) -> int:
        """How many neurons are recorded (checked, without listing them)."""
        if self.neurons == "all":
            return n_neurons if self.variables else 0
        return self.neuron_indices(n_neurons).size

    def neuron_indices(self, n_neurons: int) -> np.ndarray:
        """The recorded neurons, sorted, as int64; checked against the population size."""
        if self.neurons == "all":
            return np.arange(n_neurons, dtype=np.int64) if self.variables else np.zeros(0, np.int64)
        if self.neurons == "none" or not self.variables:
            return np.zeros(0, np.int64)
        if self.neurons == "sample":
            return np.unique(np.linspace(0, n_neurons - 1, min(n_neurons, SAMPLE_NEURONS)).round().astype(np.int64))
        indices = np.asarray(self.neurons, dtype=np.int64)
        if indices.size and (indices.max() >= n_neurons):
            raise ParameterError(f"record.neurons must be in [0, {n_neurons - 1}] (got {int(indices.max())})")
        if np.unique(indices).size != indices.size:
            raise ParameterError("record.neurons must not repeat an index")
        return np.sort(indices)

    def samples(self, steps: int) -> int:
        """Number of samples in a run of ``steps`` steps."""
        return -(-steps // self.every)


def sample_rows(k0: int, k1: int, every: int) -> tuple[np.ndarray, slice]:
    """Local steps of chunk ``[k0, k1)`` that are sampled, and their rows in the full trace."""
    first = -(-k0 // every) * every
    steps = np.arange(first, k1, every)
    return steps - k0, slice(first // every, first // every + steps.size)


@dataclass(frozen=True)
class ChunkRecording:
    """Where an engine writes the samples of one chunk.

    ``rows`` are local steps to sample; ``neurons`` the recorded neuron indices (sorted);
    ``out`` maps each recorded variable to an array (len(rows), len(neurons)) to fill.
    """

    rows: np.ndarray
    neurons: np.ndarray
    out: dict
