"""The reference engine: numpy, vectorised over neurons, a plain loop over time.

This is the readable executable specification the other engines are tested against:
each step applies `lifsim.model.synapse_step` and the method's rule to whole
arrays, exactly in the documented order.
"""

from __future__ import annotations

import numpy as np

from ..model import RULES, synapse_step
from ..state import LIFState
from . import ChunkSpikes, EngineSetup


def version() -> str:
    return np.__version__


def devices() -> list[str]:
    return ["cpu"]


class Runner:
    """Advances a population chunk by chunk with numpy."""

    def __init__(self, setup: EngineSetup):
        self.setup = setup
        self.rule = RULES[setup.method]

    def advance(self, state: LIFState, chunk, recording) -> tuple[LIFState, ChunkSpikes]:
        setup = self.setup
        u, ref, i_syn = state.u, state.ref, state.i_syn
        injection = chunk.dense_injection(setup.n_neurons) if setup.synaptic else None
        sampled = dict(zip(recording.rows.tolist(), range(recording.rows.size)))
        spike_steps, spike_neurons = [], []
        for k in range(chunk.steps):
            if injection is not None:
                i_syn = synapse_step(i_syn, injection[k], setup.decay)
            i_ext = chunk.current[k if chunk.current.shape[0] > 1 else 0]
            u, ref, spiked, u_shown = self.rule(u, ref, i_ext, i_syn, setup.coefficients)
            fired = np.flatnonzero(spiked)
            spike_steps.append(np.full(fired.size, chunk.k0 + k, dtype=np.int64))
            spike_neurons.append(fired.astype(np.int32))
            if k in sampled:
                _record(recording, sampled[k], u_shown, i_syn, i_ext)
        spikes = ChunkSpikes(np.concatenate(spike_steps), np.concatenate(spike_neurons))  # already by step, neuron
        return LIFState(u, ref.astype(state.ref.dtype, copy=False), i_syn), spikes


def _record(recording, row, u_shown, i_syn, i_ext):
    values = {"u": u_shown, "i_syn": i_syn}
    for name, out in recording.out.items():
        out[row] = (values[name] if name in values else i_ext + i_syn)[recording.neurons]


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
