"""Engines: thin loop drivers over the one update rule (:mod:`lifsim.model`).

An engine turns an :class:`EngineSetup` into a runner whose ``advance(state, chunk,
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
}


@dataclass(frozen=True)
class EngineSetup:
    """Everything an engine needs for a run, computed once.

    Attributes:
        n_neurons: population size.
        method: ``"article"`` or ``"exact"``.
        coefficients: the update's constants (:func:`lifsim.model.coefficients`).
        decay: ``exp(-dt/tau_syn)``, scalar or per neuron.
        dtype: numpy float type of the run.
        synaptic: whether any input spikes reach the population.
        threads: worker threads for engines that use them (None: all cores).
        options: engine-specific switches.
    """

    n_neurons: int
    method: str
    coefficients: Coefficients
    decay: object
    dtype: type
    synaptic: bool
    threads: int | None = None
    options: tuple = ()


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


def sort_spikes(step: np.ndarray, neuron: np.ndarray) -> ChunkSpikes:
    """Spikes in the canonical order: by step, then by neuron."""
    order = np.lexsort((neuron, step))
    return ChunkSpikes(step[order].astype(np.int64), neuron[order].astype(np.int32))
