"""The state of the neurons between steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rule import STEP_DTYPE


@dataclass(frozen=True)
class LIFState:
    """Per-neuron state.

    Attributes:
        u: membrane potential, mV, shape (N,).
        ref: refractory steps left (int32), shape (N,); 0 when the neuron may integrate.
        i_syn: synaptic state, one row per receptor, shape (R, N): the current of an
            exponential receptor (mA), the last jump of a delta receptor (mV). A shape
            (N,) array is taken as the one row of a single receptor.
        pending: input already sent to future steps by delayed spikes, shape
            (slots, R·N), in the receptors' units; slot ``k % slots`` holds step ``k``.
            None when nothing is delayed (no projections).
    """

    u: np.ndarray
    ref: np.ndarray
    i_syn: np.ndarray
    pending: np.ndarray | None = None

    def __post_init__(self):
        if np.ndim(self.i_syn) == 1:
            object.__setattr__(self, "i_syn", np.asarray(self.i_syn)[None, :])

    @classmethod
    def resting(cls, n_neurons: int, u_rest, dtype, receptors: int = 1, slots: int = 0) -> "LIFState":
        """Every neuron at ``u_rest`` (mV), not refractory, no synaptic input, nothing pending."""
        u = np.empty(n_neurons, dtype=dtype)
        u[:] = u_rest
        pending = np.zeros((slots, receptors * n_neurons), dtype) if slots else None
        return cls(u, np.zeros(n_neurons, STEP_DTYPE), np.zeros((receptors, n_neurons), dtype), pending)
