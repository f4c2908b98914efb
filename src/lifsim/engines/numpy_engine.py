"""The reference engine: numpy, vectorised over neurons, a plain loop over time.

This is the readable executable specification the other engines are tested against:
each step applies `lifsim.neuron.rule.synapse_step` to every receptor, sums the drive
with `lifsim.neuron.rule.synaptic_drive`, applies the method's rule to whole arrays,
and sends the step's spikes along the projections, exactly in the documented order.
"""

from __future__ import annotations

import time

import numpy as np

from .. import engines
from ..neuron.rule import RULES, synapse_step, synaptic_drive
from ..neuron.state import LIFState
from ..synapses.receptor import summed_current
from . import ChunkSpikes, EngineSetup, no_options


def version() -> str:
    return np.__version__


def devices() -> list[str]:
    return ["cpu"]


def check(threads, options) -> None:
    no_options("numpy", options)


class Runner:
    """Advances the neurons chunk by chunk with numpy."""

    def __init__(self, setup: EngineSetup):
        self.setup = setup
        self.rule = RULES[setup.method]
        receptors = setup.receptors
        self.decay, self.s, self.current = (x[:, None] if x.ndim == 1 else x
                                            for x in (receptors.decay, receptors.s, receptors.current))
        self.deliver = Delivery(setup.network, setup.slots, setup.dtype) if setup.network is not None else None

    def advance(self, state: LIFState, chunk, recording, progress=None) -> tuple[LIFState, ChunkSpikes]:
        setup = self.setup
        report_at = time.perf_counter() + engines.PROGRESS_INTERVAL_S
        u, ref, i_syn = state.u, state.ref, state.i_syn
        pending = None if state.pending is None else state.pending.copy()
        n_receptors, n = i_syn.shape
        injection = chunk.dense_injection(n_receptors * n) if setup.synaptic else None
        sampled = dict(zip(recording.rows.tolist(), range(recording.rows.size)))
        spike_steps, spike_neurons = [], []
        drive = setup.dtype(0)
        for k in range(chunk.steps):
            if progress is not None and k and time.perf_counter() >= report_at:
                progress(k)
                report_at = time.perf_counter() + engines.PROGRESS_INTERVAL_S
            step = chunk.k0 + k
            if injection is not None:
                arrived = injection[k]
                if pending is not None:
                    slot = step % setup.slots
                    arrived = arrived + pending[slot]
                    pending[slot] = 0
                i_syn = synapse_step(i_syn, arrived.reshape(n_receptors, n), self.decay)
                drive = synaptic_drive(self.s, i_syn)
            i_ext = chunk.current[k if chunk.current.shape[0] > 1 else 0]
            u, ref, spiked, u_shown = self.rule(u, ref, i_ext, drive, setup.coefficients)
            fired = np.flatnonzero(spiked)
            if self.deliver is not None and fired.size:
                self.deliver(pending, step, fired)
            spike_steps.append(np.full(fired.size, step, dtype=np.int64))
            spike_neurons.append(fired.astype(np.int32))
            if k in sampled:
                self._record(recording, sampled[k], u_shown, i_syn, i_ext)
        spikes = ChunkSpikes(np.concatenate(spike_steps), np.concatenate(spike_neurons))  # already by step, neuron
        return LIFState(u, ref.astype(state.ref.dtype, copy=False), i_syn, pending), spikes

    def _record(self, recording, row, u_shown, i_syn, i_ext):
        current = summed_current(self.current, i_syn)
        values = {"u": u_shown, "i_syn": current}
        for name, out in recording.out.items():
            out[row] = (values[name] if name in values else i_ext + current)[recording.neurons]


class Delivery:
    """Sends a step's spikes along the projections into the pending input of later steps.

    For each spike in order (by neuron), each projection leaving its population in
    order, each synapse of its row in order: ``pending[(step + delay) % slots, target]
    += weight``, added one at a time (``np.add.at``) so that each sum has that order.
    """

    def __init__(self, tables, slots: int, dtype):
        self.t, self.slots, self.dtype = tables, slots, dtype
        self.rank = np.empty(tables.order.size, np.int64)
        self.rank[tables.order] = np.arange(tables.order.size)

    def __call__(self, pending, step, fired):
        t = self.t
        keys, synapses, projections = [], [], []
        for p in range(t.source_lo.size):
            inside = np.flatnonzero((fired >= t.source_lo[p]) & (fired < t.source_hi[p]))
            rows = t.row_offset[p] + fired[inside] - t.source_lo[p]
            syn, owner = _ranges(t.indptr[rows], t.indptr[rows + 1])
            keys.append(inside[owner] * t.order.size + self.rank[p])
            synapses.append(syn)
            projections.append(np.full(syn.size, p))
        order = np.argsort(np.concatenate(keys), kind="stable")
        syn, proj = np.concatenate(synapses)[order], np.concatenate(projections)[order]
        weight = np.where(t.weight_varies[proj], t.weights[np.where(t.weight_varies[proj], t.weight_shift[proj] + syn, 0)]
                          if t.weights.size else 0, t.weight_value[proj])
        delay = np.where(t.delay_varies[proj], t.delays[np.where(t.delay_varies[proj], t.delay_shift[proj] + syn, 0)]
                         if t.delays.size else 0, t.delay_value[proj])
        np.add.at(pending, ((step + delay) % self.slots, t.targets[syn]), weight.astype(self.dtype))


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every index of the ranges ``[starts[i], ends[i])`` in order, and the range each came from."""
    lengths = ends - starts
    owner = np.repeat(np.arange(starts.size), lengths)
    first = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum())) - np.repeat(first - starts, lengths), owner


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
