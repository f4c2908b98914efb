"""The state of a population between steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import STEP_DTYPE


@dataclass(frozen=True)
class LIFState:
    """Per-neuron state, each an array of shape (N,).

    Attributes:
        u: membrane potential, mV.
        ref: refractory steps left (int32); 0 when the neuron may integrate.
        i_syn: summed synaptic current, mA.
    """

    u: np.ndarray
    ref: np.ndarray
    i_syn: np.ndarray

    @classmethod
    def resting(cls, n_neurons: int, u_rest, dtype) -> "LIFState":
        """Every neuron at ``u_rest`` (mV), not refractory, no synaptic current."""
        u = np.empty(n_neurons, dtype=dtype)
        u[:] = u_rest
        return cls(u, np.zeros(n_neurons, STEP_DTYPE), np.zeros(n_neurons, dtype=dtype))
