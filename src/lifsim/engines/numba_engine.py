"""The fast CPU engine: the same rule compiled by numba, parallel over blocks of neurons.

The rule of `lifsim.model` is compiled for numba scalars and called in a loop
nest: blocks of neurons in parallel (``prange``, one block per task), time outside,
and a branch-free inner loop over the block's neurons that LLVM vectorises. Neurons
are independent between steps (input comes from the input generator), so a block runs
all the steps of a chunk on its own, with its state in cache and no barrier per step.
Kernels are cached on disk: a second process does not compile again.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ..errors import ParameterError
from ..inputs import InputChunk, SynapticEvents
from ..model import Coefficients, make_rules
from ..recording import ChunkRecording
from ..state import LIFState
from . import ChunkSpikes, EngineSetup

#: Neurons per parallel block: the block's state stays in the core's L1/L2 cache.
BLOCK = 2048
#: Initial spike buffer per block (must exceed BLOCK: a block needs room for one full step).
INITIAL_SPIKES_PER_BLOCK = 4 * BLOCK
METHOD_CODES = {"article": 0, "exact": 1}
RECORD_BITS = {"u": 1, "i_syn": 2, "i_in": 4}


def version() -> str:
    return numba.__version__


def devices() -> list[str]:
    return [f"cpu ({numba.config.NUMBA_NUM_THREADS} threads)"]


@njit(inline="always")
def _where(condition, a, b):
    return a if condition else b


@njit(inline="always")
def _maximum(a, b):
    return a if a > b else b


_inline = njit(inline="always")
_article_step, _exact_step, _synapse_step = (
    _inline(rule) for rule in make_rules(_where, _maximum, _inline(lambda x: x), _inline))


def _at(x, i):
    """Element ``i`` of a per-neuron array, or the scalar itself."""


@overload(_at, inline="always")
def _at_overload(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: x[i]
    return lambda x, i: x


def _part(x, lo, hi):
    """The block ``[lo, hi)`` of a per-neuron array, or the scalar itself."""


@overload(_part, inline="always")
def _part_overload(x, lo, hi):
    if isinstance(x, types.Array):
        return lambda x, lo, hi: x[lo:hi]
    return lambda x, lo, hi: x


@njit(inline="always")
def _coefficients_at(c, i):
    return Coefficients(_at(c.a, i), _at(c.b, i), _at(c.s, i), _at(c.d, i), _at(c.u_rest, i),
                        _at(c.u_thresh, i), _at(c.n_ref, i))


@njit(inline="always")
def _block_coefficients(c, lo, hi):
    return Coefficients(_part(c.a, lo, hi), _part(c.b, lo, hi), _part(c.s, lo, hi), _part(c.d, lo, hi),
                        _part(c.u_rest, lo, hi), _part(c.u_thresh, lo, hi), _part(c.n_ref, lo, hi))


@njit
def _advance_neurons(method, u, ref, i_syn, i_ext, injected, c, decay, zero, flags, shown):
    """One step for a block of neurons; returns the number that spiked."""
    fired = 0
    for i in range(u.shape[0]):
        ci = _coefficients_at(c, i)
        if injected is None:
            syn = zero
        else:
            syn = _synapse_step(i_syn[i], injected[i], _at(decay, i))
            i_syn[i] = syn
            injected[i] = zero  # consumed: the block's buffer is clean for the next step
        if method == 0:
            u_new, ref_new, spiked, u_shown = _article_step(u[i], ref[i], i_ext[i], syn, ci)
        else:
            u_new, ref_new, spiked, u_shown = _exact_step(u[i], ref[i], i_ext[i], syn, ci)
        u[i] = u_new
        ref[i] = ref_new
        flags[i] = spiked
        fired += spiked
        if shown is not None:
            shown[i] = u_shown
    return fired


@njit(inline="always")
def _collect(words, flags, lo, spike_neuron, count):
    """Append the flagged neurons to the block's spike buffer."""
    for w in range(words.shape[0]):
        if words[w]:
            for i in range(8 * w, min(8 * w + 8, flags.shape[0])):
                if flags[i]:
                    spike_neuron[count] = lo + i
                    count += 1
    return count


@njit(inline="always")
def _inject(events, slot, lo, buffer):
    """Sum the events of one (step, block) bucket into the block's injection buffer, in order."""
    offsets, neuron, amount = events
    for e in range(offsets[slot], offsets[slot + 1]):
        buffer[neuron[e] - lo] += amount[e]


@njit
def _run_block(method, b, n_blocks, lo, u, ref, i_syn, current, events, c, decay, zero, first, steps,
               sample_row, rec_neurons, record_bits, out_u, out_syn, out_in, spike_neuron, per_step, count):
    """Steps ``first .. steps-1`` of one block; stops early when its spike buffer could overflow.

    The neurons that spike are appended, step after step, after the ``count`` already in
    the buffer, and ``per_step[k]`` counts those of step ``k``. Returns the step reached
    and the number of spikes now in the buffer.
    """
    cap = spike_neuron.shape[0]
    n = u.shape[0]
    hi = lo + n
    words = np.zeros(-(-n // 8), np.uint64)  # spike flags, scanned 8 at a time
    flags = words.view(np.uint8)[:n]
    shown = np.empty(n, u.dtype)
    injected = np.zeros(n, u.dtype)
    for k in range(first, steps):
        if count + n > cap:
            return k, count
        i_ext = current[k if current.shape[0] > 1 else 0][lo:hi]
        row = sample_row[k]
        show = row >= 0 and record_bits & 1
        if events is None:
            if show:
                fired = _advance_neurons(method, u, ref, i_syn, i_ext, None, c, decay, zero, flags, shown)
            else:
                fired = _advance_neurons(method, u, ref, i_syn, i_ext, None, c, decay, zero, flags, None)
        else:
            _inject(events, k * n_blocks + b, lo, injected)
            if show:
                fired = _advance_neurons(method, u, ref, i_syn, i_ext, injected, c, decay, zero, flags, shown)
            else:
                fired = _advance_neurons(method, u, ref, i_syn, i_ext, injected, c, decay, zero, flags, None)
        if fired:
            per_step[k] = fired
            count = _collect(words, flags, lo, spike_neuron, count)
        if row >= 0:
            for j in range(rec_neurons.shape[0]):
                i = rec_neurons[j] - lo
                if record_bits & 1:
                    out_u[row, j] = shown[i]
                if record_bits & 2:
                    out_syn[row, j] = i_syn[i]
                if record_bits & 4:
                    out_in[row, j] = i_ext[i] + i_syn[i]
    return steps, count


@njit(parallel=True, cache=True)
def _run_chunk(method, block, u, ref, i_syn, current, events, c, decay, zero, reached, steps,
               sample_row, rec_neurons, rec_bounds, record_bits, out_u, out_syn, out_in,
               spike_neuron, per_step, spike_count, cap):
    """All blocks of a chunk in parallel; each block writes its spikes to its own buffer slice."""
    n = u.shape[0]
    for b in prange(reached.shape[0]):
        if reached[b] >= steps:
            continue
        lo = b * block
        hi = min(n, lo + block)
        r0, r1 = rec_bounds[b], rec_bounds[b + 1]
        reached[b], spike_count[b] = _run_block(
            method, b, reached.shape[0], lo, u[lo:hi], ref[lo:hi], i_syn[lo:hi], current, events,
            _block_coefficients(c, lo, hi),
            _part(decay, lo, hi), zero, reached[b], steps, sample_row, rec_neurons[r0:r1], record_bits,
            out_u[:, r0:r1], out_syn[:, r0:r1], out_in[:, r0:r1],
            spike_neuron[b * cap:(b + 1) * cap], per_step[b], spike_count[b])


@njit(cache=True)
def _bucket_events(step, neuron, amount, steps, n_blocks, block):
    """Events grouped by (step, block) with a stable counting sort: bucket ``k·n_blocks + b``
    spans ``offsets[slot]:offsets[slot + 1]`` and keeps the events' order within it."""
    offsets = np.zeros(steps * n_blocks + 1, np.int64)
    for e in range(step.shape[0]):
        offsets[step[e] * n_blocks + neuron[e] // block + 1] += 1
    for slot in range(steps * n_blocks):
        offsets[slot + 1] += offsets[slot]
    fill = offsets[:-1].copy()
    out_neuron = np.empty(step.shape[0], np.int64)
    out_amount = np.empty(step.shape[0], amount.dtype)
    for e in range(step.shape[0]):
        slot = step[e] * n_blocks + neuron[e] // block
        out_neuron[fill[slot]] = neuron[e]
        out_amount[fill[slot]] = amount[e]
        fill[slot] += 1
    return offsets, out_neuron, out_amount


@njit(parallel=True, cache=True)
def _merge_blocks(spike_neuron, per_step, cap, k0):
    """The blocks' spikes in canonical order: by step, then neuron.

    Blocks hold ascending neuron ranges and list their spikes step after step, so the
    output position of each (step, block) segment follows from the counts alone and
    the blocks copy their segments in parallel.
    """
    n_blocks, steps = per_step.shape
    offsets = np.empty((steps, n_blocks), np.int64)
    total = 0
    for k in range(steps):
        for b in range(n_blocks):
            offsets[k, b] = total
            total += per_step[b, k]
    out_step = np.empty(total, np.int64)
    out_neuron = np.empty(total, np.int32)
    for b in prange(n_blocks):
        source = b * cap
        for k in range(steps):
            target = offsets[k, b]
            for j in range(per_step[b, k]):
                out_step[target + j] = k0 + k
                out_neuron[target + j] = spike_neuron[source + j]
            source += per_step[b, k]
    return out_step, out_neuron


class Runner:
    """Advances a population chunk by chunk with the compiled kernel."""

    def __init__(self, setup: EngineSetup):
        self.setup = setup
        self.threads = setup.threads or numba.config.NUMBA_NUM_THREADS
        if self.threads > numba.config.NUMBA_NUM_THREADS:
            raise ParameterError(f"threads must be in [1, {numba.config.NUMBA_NUM_THREADS}] for the numba engine "
                                 f"(its NUMBA_NUM_THREADS; got {self.threads})")
        self.n_blocks = -(-setup.n_neurons // BLOCK)
        self.cap = INITIAL_SPIKES_PER_BLOCK
        self.spike_neuron = np.empty(self.n_blocks * self.cap, np.int32)
        self.zero = setup.dtype(0)
        self._warm_up()

    def _warm_up(self):
        """Compile (or load from the disk cache) the kernels for this run's types, and start
        the worker threads, so that the first chunk pays for neither."""
        setup = self.setup
        state = LIFState.resting(setup.n_neurons, 0.0, setup.dtype)
        empty = np.zeros(0, np.int64)
        events = _no_events(setup.dtype) if setup.synaptic else None
        chunk = InputChunk(0, 0, np.zeros((1, setup.n_neurons), setup.dtype), events)
        self.advance(state, chunk, ChunkRecording(empty, empty, {}))

    def advance(self, state: LIFState, chunk, recording) -> tuple[LIFState, ChunkSpikes]:
        setup, steps = self.setup, chunk.steps
        u, ref, i_syn = state.u.copy(), state.ref.copy(), state.i_syn.copy()
        events = self._events(chunk)
        sample_row = np.full(steps, -1, np.int64)
        sample_row[recording.rows] = np.arange(recording.rows.size)
        rec_bounds = np.searchsorted(recording.neurons, np.arange(self.n_blocks + 1) * BLOCK)
        outs, bits = self._outputs(recording)
        reached = np.zeros(self.n_blocks, np.int64)
        counts = np.zeros(self.n_blocks, np.int64)
        per_step = np.zeros((self.n_blocks, steps), np.int64)
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            while True:  # once at least, so that a warm-up with no steps compiles the kernel
                _run_chunk(METHOD_CODES[setup.method], BLOCK, u, ref, i_syn, chunk.current, events,
                           setup.coefficients, setup.decay, self.zero, reached, steps, sample_row,
                           recording.neurons, rec_bounds, bits, *outs, self.spike_neuron, per_step,
                           counts, self.cap)
                if reached.min() >= steps:
                    break
                self._grow_spike_buffers(counts)
        finally:
            numba.set_num_threads(previous)
        spikes = ChunkSpikes(*_merge_blocks(self.spike_neuron, per_step, self.cap, chunk.k0))
        return LIFState(u, ref, i_syn), spikes

    def _events(self, chunk):
        if not self.setup.synaptic:
            return None
        events = chunk.events or _no_events(self.setup.dtype)  # a decaying initial current, no input
        return _bucket_events(events.step, events.neuron, events.amount, chunk.steps, self.n_blocks, BLOCK)

    def _outputs(self, recording):
        empty = np.zeros((0, 0), self.setup.dtype)
        outs = tuple(recording.out.get(name, empty) for name in RECORD_BITS)
        bits = sum(bit for name, bit in RECORD_BITS.items() if name in recording.out)
        return outs, bits

    def _grow_spike_buffers(self, counts):
        """Per-block spike buffers, kept between chunks. A block that fills its own stops
        early and resumes once the buffers have doubled, keeping what they hold."""
        old_cap, old = self.cap, self.spike_neuron
        self.cap *= 2
        self.spike_neuron = np.empty(self.n_blocks * self.cap, np.int32)
        for b in range(self.n_blocks):
            self.spike_neuron[b * self.cap:b * self.cap + counts[b]] = old[b * old_cap:b * old_cap + counts[b]]


def _no_events(dtype) -> SynapticEvents:
    empty = np.zeros(0, np.int64)
    return SynapticEvents(empty, empty, np.zeros(0, dtype))


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
