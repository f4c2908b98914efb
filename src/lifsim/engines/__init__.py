"""Engines: thin loop drivers over the one update rule (`lifsim.model`).

An engine turns an `EngineSetup` into a runner whose ``advance(state, chunk,
recording)`` returns the new state and the spikes of the chunk. Engines are loaded
on demand, so an engine whose library is missing costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..model import Coefficients

#: Engine name -> (module, install hint for its optional dependency).
ENGINES = {
    "numpy": ("lifsim.engines.numpy_engine", None),
    "numba": ("lifsim.engines.numba_engine", None),
    "tensorflow": ("lifsim.engines.tensorflow_engine", "install it with: pip install 'lifsim[tensorflow]'"),
}


@dataclass(frozen=True)
class EngineSetup:
    """Everything an engine needs for a run, computed once.

    Attributes:
        n_neurons: population size.
        method: ``"article"`` or ``"exact"``.
        coefficients: the update's constants (`lifsim.model.coefficients`).
        decay: ``exp(-dt/tau_syn)``, scalar or per neuron.
        dtype: numpy float type of the run.
        synaptic: whether any input spikes reach the population.
        threads: worker threads for engines that use them (None: all cores).
        options: engine-specific switches.
        chunk_steps: steps of every chunk but the last, which may be shorter.
        time_varying: whether chunks carry one current row per step (else one row).
        sample_every: recording interval in steps.
        recorded: the recorded variables (empty when no neuron is recorded).
        recorded_neurons: how many neurons are recorded.
    """

    n_neurons: int
    method: str
    coefficients: Coefficients
    decay: object
    dtype: type
    synaptic: bool
    threads: int | None = None
    options: tuple = ()
    chunk_steps: int = 1
    time_varying: bool = False
    sample_every: int = 1
    recorded: tuple = ()
    recorded_neurons: int = 0


@dataclass(frozen=True)
class ChunkSpikes:
    """Spikes of one chunk: global step (int64) and neuron index (int32), sorted by step
    then neuron: every engine returns them in this order."""

    step: np.ndarray
    neuron: np.ndarray


def engine_names() -> tuple:
    return tuple(ENGINES)


def load_engine(name: str):
    """The engine module called ``name``; refuses unknown or uninstalled engines."""
    if name not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)} (got {name!r})")
    module, hint = ENGINES[name]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if hint is None:
            raise
        raise ParameterError(f"engine {name!r} needs {error.name}, which is not installed; {hint}") from None
