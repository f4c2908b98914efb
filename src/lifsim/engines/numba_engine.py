"""The fast CPU engine: the same rule compiled by numba, parallel over blocks of neurons.

The rule of `lifsim.neuron.rule` is compiled for numba scalars and called in a loop
nest: blocks of neurons in parallel (``prange``, one block per task), time outside,
and branch-free inner loops over the block's neurons that LLVM vectorises. Neurons are
independent until their spikes arrive, so a block runs a whole *slice* of steps on its
own, with its state in cache and no barrier per step: without projections a slice is
the whole chunk; with them it is the smallest delay, after which the slice's spikes are
delivered into the pending input (NEST's min-delay scheme). Delivery is split by target
(each thread owns a range of ``slot·N + neuron``, the ranges of about equal cost), and every
target sums its input in the documented order, so the results do not depend on the number
of threads; it asks the CPU for the next spikes' synapses ahead (prefetch). The dense jumps
of Poisson inputs are drawn here, a slice at a time (`lifsim.stimuli.event_loops`): on
several threads the next slice's while the blocks step this one, the stepping on the
first threads, the drawing on the last (`_share_work`). One thread runs serial copies of
the parallel loops, which cost no thread launch per slice; where its neurons are one block
(short slices), the whole chunk in one call, delivering each step's spikes as they come.
Kernels are cached on disk: a second process does not compile again.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.core.errors import NumbaPendingDeprecationWarning
from numba.extending import intrinsic, overload

from .. import engines
from ..errors import ParameterError
from ..neuron.rule import METHOD_TABLE, Coefficients, make_rules
from ..neuron.state import LIFState
from ..recording import ChunkRecording
from ..stimuli import InputChunk, SynapticEvents
from ..stimuli.generator import DenseDraws
from ..stimuli.event_loops import draw_dense, draw_dense_serial, draw_group
from . import ChunkSpikes, EngineSetup, no_options

#: Neurons per parallel block, at most: the block's state stays in the core's L1/L2 cache.
#: Blocks are made equal, and as many as a multiple of the threads, to balance the threads.
BLOCK = 2048
#: Neuron-steps per slice below which a run stays on one thread: waking the worker threads
#: for each slice (tens of µs) would cost more than they save.
MIN_PARALLEL_SLICE = 100_000
#: Synaptic events per slice (spikes × mean out-degree) below which delivery stays on one
#: thread, for the same reason; above, it runs in parallel even when the stepping does not
#: (short slices of a network with a short minimum delay).
MIN_PARALLEL_DELIVERY = 100_000
#: Slices shorter than this many steps run one block per thread: a block's state cannot
#: stay in cache across so few steps, and every block costs a little per step.
SHORT_SLICE = 16
#: Initial spike buffer per block, in blocks' worth of neurons (a block needs room for one full step).
INITIAL_SPIKES_PER_NEURON = 4
RECORD_BITS = {"u": 1, "i_syn": 2, "i_in": 4}
#: What drawing one Poisson input's jump costs, in neuron-steps of stepping (Brunel, one thread:
#: 2.7 ns against 1.5 ns), to share a slice's stepping and the next slice's draws among threads.
DRAW_COST = 1.8
#: What starting a row of synapses costs in delivery, in synapses delivered: where the row
#: starts and its first targets are cache misses. Used to share the targets among threads by
#: cost (`_share_bounds`); with this value Brunel's two shares take the same time here.
SEGMENT_COST = 250
#: Delivery asks for the synapses of the spike this many spikes ahead (and for the start of
#: its rows twice as far ahead), and for this many of its first synapses (`_deliver_part`).
PREFETCH_SPIKES = 4
PREFETCH_SYNAPSES = 32
#: Draws the dense jumps of a run's Poisson inputs itself, a slice at a time, so that they are
#: still in cache when the neurons take them (`lifsim.engines`).
DRAWS_DENSE = True

# OpenMP's worker threads wait for the next parallel region spinning, then sleeping. A network
# starts two regions per slice, a few hundred microseconds apart, and waking a sleeping thread
# costs about as much; GNU OpenMP's default spin (about 3 ms) would keep a thread busy long
# after a run's last region. About 1 ms. Read when the first parallel kernel starts the
# threads, after this import; a setting made before stays.
os.environ.setdefault("GOMP_SPINCOUNT", "100000")


def version() -> str:
    return numba.__version__


def devices() -> list[str]:
    return [f"cpu ({numba.config.NUMBA_NUM_THREADS} threads)"]


def check(threads, options) -> None:
    no_options("numba", options)
    if threads is not None and threads > numba.config.NUMBA_NUM_THREADS:
        raise ParameterError(f"threads must be in [1, {numba.config.NUMBA_NUM_THREADS}] for the numba engine "
                             f"(its NUMBA_NUM_THREADS; got {threads})")


@njit(inline="always")
def _where(condition, a, b):
    return a if condition else b


@njit(inline="always")
def _maximum(a, b):
    return a if a > b else b


_inline = njit(inline="always")
_article_step, _exact_step, _synapse_step, _drive_term, _add_drive = (
    _inline(rule) for rule in make_rules(_where, _maximum, _inline(lambda x: x), _inline)[:5])


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


def _row(x, j, lo, hi):
    """Slot ``j`` of receptor constants: a scalar (shape (R,)) or the block ``[lo, hi)`` (shape (R, N))."""


@overload(_row, inline="always")
def _row_overload(x, j, lo, hi):
    if x.ndim == 1:
        return lambda x, j, lo, hi: x[j]
    return lambda x, j, lo, hi: x[j, lo:hi]


@njit(inline="always")
def _coefficients_at(c, i):
    return Coefficients(_at(c.a, i), _at(c.b, i), _at(c.d, i), _at(c.u_reset, i), _at(c.u_thresh, i),
                        _at(c.n_ref, i))


@njit(inline="always")
def _block_coefficients(c, lo, hi):
    return Coefficients(_part(c.a, lo, hi), _part(c.b, lo, hi), _part(c.d, lo, hi), _part(c.u_reset, lo, hi),
                        _part(c.u_thresh, lo, hi), _part(c.n_ref, lo, hi))


class _Receptors(NamedTuple):
    """Receptor constants as the kernels take them (`lifsim.synapses.receptor.ReceptorCoefficients`)."""

    decay: np.ndarray
    s: np.ndarray
    current: np.ndarray


class _Buffers(NamedTuple):
    """Per-block spike buffers of a chunk: the spiking neurons in step order (block ``b`` owns
    ``neuron[b·cap:(b+1)·cap]``), their count per block and step, the spikes held and
    already delivered per block, and the step each block has reached."""

    neuron: np.ndarray
    per_step: np.ndarray
    count: np.ndarray
    delivered: np.ndarray
    reached: np.ndarray


class _Scratch(NamedTuple):
    """Per-block working memory, kept between chunks: spike flags (as 64-bit words), the
    shown potential, the receptors' input (zero between steps), and the synaptic drive."""

    words: np.ndarray
    shown: np.ndarray
    injected: np.ndarray
    drive: np.ndarray


class _Recording(NamedTuple):
    """Where sampled values go: ``row[k]`` (-1: not sampled), the recorded neurons and
    their bounds per block, which variables (``RECORD_BITS``) and their outputs."""

    row: np.ndarray
    neurons: np.ndarray
    bounds: np.ndarray
    bits: int
    u: np.ndarray
    i_syn: np.ndarray
    i_in: np.ndarray


# ---------------------------------------------------------------- one block of neurons


def _arrived(injected, pending, i):
    """A receptor's input of this step at ``i``: ``injected[i]``, then ``pending[i]`` (either may
    be None), each consumed (set to zero). Chosen by type when compiled."""


@overload(_arrived, inline="always")
def _arrived_overload(injected, pending, i):
    if isinstance(pending, types.NoneType):
        def from_stimuli(injected, pending, i):
            value = injected[i]
            injected[i] = 0
            return value
        return from_stimuli
    if isinstance(injected, types.NoneType):
        def from_projections(injected, pending, i):
            value = pending[i]
            pending[i] = 0
            return value
        return from_projections

    def from_both(injected, pending, i):
        value = injected[i] + pending[i]
        injected[i] = 0
        pending[i] = 0
        return value
    return from_both


def _row_view(x, j, lo, hi):
    """``x[j, lo:hi]``, or None for None."""


@overload(_row_view, inline="always")
def _row_view_overload(x, j, lo, hi):
    if isinstance(x, types.NoneType):
        return lambda x, j, lo, hi: None
    return lambda x, j, lo, hi: x[j, lo:hi]


@njit(inline="always")
def _receptor_row(x, injected, pending, decay, s, drive, first):
    """One receptor slot of a block for one step: take its input (`_arrived`), decay and add,
    and put its term in the drive (``first``: the first slot, a constant the compiler folds)."""
    for i in range(x.shape[0]):
        value = _synapse_step(x[i], _arrived(injected, pending, i), _at(decay, i))
        x[i] = value
        drive[i] = _drive_term(_at(s, i), value) if first else _add_drive(drive[i], _at(s, i), value)


@njit(inline="always")
def _receptor_slot(j, first, i_syn, injected, pending, slot, n_total, lo, rc, drive):
    n = drive.shape[0]
    at = j * n_total + lo
    _receptor_row(i_syn[j, lo:lo + n], _row_view(injected, j, 0, n), _row_view(pending, slot, at, at + n),
                  _row(rc.decay, j, lo, lo + n), _row(rc.s, j, lo, lo + n), drive, first)


@njit(inline="always")
def _receptors(i_syn, injected, pending, slot, n_total, lo, rc, drive):
    """Every receptor slot of a block for one step, in slot order. Without stimulus input
    ``injected`` is None; without projections ``pending`` is; never both (``i_syn`` then
    only decays: ``injected`` holds zeros)."""
    _receptor_slot(0, True, i_syn, injected, pending, slot, n_total, lo, rc, drive)
    for j in range(1, i_syn.shape[0]):
        _receptor_slot(j, False, i_syn, injected, pending, slot, n_total, lo, rc, drive)


def _stimulus_input(injected, events, dense, pending):
    """The block's stimulus input buffer, or None when only projections send input (no
    stimulus events or dense jumps): then the receptors read the pending input alone."""


@overload(_stimulus_input, inline="always")
def _stimulus_input_overload(injected, events, dense, pending):
    only_projections = all(isinstance(x, types.NoneType) for x in (events, dense)) and not isinstance(
        pending, types.NoneType)
    if only_projections:
        return lambda injected, events, dense, pending: None
    return lambda injected, events, dense, pending: injected


@njit(inline="always")
def _advance_neuron(method, u, ref, i_ext, syn, c, flags, shown, i):
    """The membrane rule for neuron ``i`` of a block, with synaptic drive ``syn``; flags it
    if it spiked."""
    ci = _coefficients_at(c, i)
    if method == 0:
        u_new, ref_new, spiked, u_shown = _article_step(u[i], ref[i], i_ext[i], syn, ci)
    else:
        u_new, ref_new, spiked, u_shown = _exact_step(u[i], ref[i], i_ext[i], syn, ci)
    u[i] = u_new
    ref[i] = ref_new
    flags[i] = spiked
    if shown is not None:
        shown[i] = u_shown


@njit(inline="always")
def _advance_neurons(method, u, ref, i_ext, drive, c, zero, flags, shown):
    """The membrane rule for a block for one step; flags the neurons that spiked. (Counting
    them here, in the same loop, would keep the compiler from vectorising it.)"""
    for i in range(u.shape[0]):
        _advance_neuron(method, u, ref, i_ext, zero if drive is None else drive[i], c, flags, shown, i)


@njit(inline="always")
def _receptors_and_neurons(method, u, ref, i_ext, c, flags, shown, i_syn, injected, pending, slot, n_total, lo, rc):
    """`_receptors` then `_advance_neurons` in one loop, for a block of one or two receptor
    slots (the same operations in the same order): each neuron's receptor values and drive
    stay in registers, and the block's state is read and written once per step, not once
    per receptor and again for the membrane (CUBA: 4,000 neurons, 2 slots, about 0.7 µs a
    step less here)."""
    n = u.shape[0]
    x0 = i_syn[0, lo:lo + n]
    in0 = _row_view(injected, 0, 0, n)
    p0 = _row_view(pending, slot, lo, lo + n)
    decay0, s0 = _row(rc.decay, 0, lo, lo + n), _row(rc.s, 0, lo, lo + n)
    if i_syn.shape[0] == 1:
        for i in range(n):
            v0 = _synapse_step(x0[i], _arrived(in0, p0, i), _at(decay0, i))
            x0[i] = v0
            _advance_neuron(method, u, ref, i_ext, _drive_term(_at(s0, i), v0), c, flags, shown, i)
    else:
        at = n_total + lo
        x1 = i_syn[1, lo:lo + n]
        in1 = _row_view(injected, 1, 0, n)
        p1 = _row_view(pending, slot, at, at + n)
        decay1, s1 = _row(rc.decay, 1, lo, lo + n), _row(rc.s, 1, lo, lo + n)
        for i in range(n):
            v0 = _synapse_step(x0[i], _arrived(in0, p0, i), _at(decay0, i))
            x0[i] = v0
            v1 = _synapse_step(x1[i], _arrived(in1, p1, i), _at(decay1, i))
            x1[i] = v1
            drive = _add_drive(_drive_term(_at(s0, i), v0), _at(s1, i), v1)
            _advance_neuron(method, u, ref, i_ext, drive, c, flags, shown, i)


@njit(inline="always")
def _collect(words, flags, lo, spike_neuron, count):
    """Append the flagged neurons to the block's spike buffer, in order; returns the new
    count. The flags (a byte each) are read as 64-bit words: first all of them at once (a
    vectorised OR), then each word with a flag set, its flagged bytes lowest first, found
    by counting trailing zero bits rather than by a branch per flag (case A: 15 % faster)."""
    seen = np.uint64(0)
    for w in range(words.shape[0]):
        seen |= words[w]
    if seen:
        for w in range(words.shape[0]):
            word = words[w]
            while word:
                byte = trailing_zeros(word) // 8
                spike_neuron[count] = lo + 8 * w + byte
                count += 1
                word &= ~(np.uint64(0xFF) << np.uint64(8 * byte))
    return count


@njit(inline="always")
def _inject(events, slot, n_total, lo, buffer):
    """Add the events of one (step, block) bucket to the block's input, in order."""
    offsets, target, amount = events
    for e in range(offsets[slot], offsets[slot + 1]):
        j, i = divmod(target[e], n_total)
        buffer[j, i - lo] += amount[e]


@njit(inline="always")
def _summed_current(i_syn, current, i, zero):
    """The recorded i_syn of neuron ``i``: exponential receptors summed in slot order."""
    total = i_syn[0, i] if _at(current[0], i) != 0 else zero
    for j in range(1, i_syn.shape[0]):
        total = total + (i_syn[j, i] if _at(current[j], i) != 0 else zero)
    return total


@njit
def _run_block(method, b, n_blocks, lo, hi, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc,
               stepped, zero, first, end, k0, slots, rec, spike_neuron, per_step, count, scratch, net, cuts, reach,
               deliver_now):
    """Steps ``first .. end-1`` of the block ``[lo, hi)``; stops early when its spike buffer
    could overflow. ``u``, ``ref``, ``c`` are the block's; ``i_syn`` and ``pending`` whole;
    ``stepped`` is ``rc`` when the receptors are stepped, else None; row 0 of ``dense``
    is step ``dense_first``.

    The neurons that spike are appended, step after step, after the ``count`` already in
    the buffer, and ``per_step[k]`` counts those of step ``k``; with ``deliver_now`` (one
    block on one thread, `_run_chunk`) each step's spikes are also delivered at once
    (`_send`; ``cuts`` with no column). Returns the step reached and the number of
    spikes now in the buffer.
    """
    cap = spike_neuron.shape[0]
    n = u.shape[0]
    n_total = i_syn.shape[1]
    words = scratch.words[b]  # spike flags, read as 64-bit words
    flags = words.view(np.uint8)[:n]
    shown = scratch.shown[b, :n]
    injected = scratch.injected[b]  # (R, BLOCK): a C-contiguous row per receptor
    drive = scratch.drive[b, :n]
    for k in range(first, end):
        if count + n > cap:
            return k, count
        i_ext = current[k if current.shape[0] > 1 else 0][lo:hi]
        row = rec.row[k]
        show = row >= 0 and rec.bits & 1 and rec.bounds[b] < rec.bounds[b + 1]  # a block with a recorded neuron
        if stepped is not None:
            if dense is not None:
                for j in range(injected.shape[0]):
                    injected[j, :n] = dense[k - dense_first, j * n_total + lo:j * n_total + hi]
            if events is not None:
                _inject(events, k * n_blocks + b, n_total, lo, injected)
            taken, slot = _stimulus_input(injected, events, dense, pending), (k0 + k) % max(slots, 1)
            if i_syn.shape[0] <= 2 and show:
                _receptors_and_neurons(method, u, ref, i_ext, c, flags, shown, i_syn, taken, pending, slot, n_total,
                                       lo, stepped)
            elif i_syn.shape[0] <= 2:
                _receptors_and_neurons(method, u, ref, i_ext, c, flags, None, i_syn, taken, pending, slot, n_total,
                                       lo, stepped)
            else:
                _receptors(i_syn, taken, pending, slot, n_total, lo, stepped, drive)
                if show:
                    _advance_neurons(method, u, ref, i_ext, drive, c, zero, flags, shown)
                else:
                    _advance_neurons(method, u, ref, i_ext, drive, c, zero, flags, None)
        elif show:
            _advance_neurons(method, u, ref, i_ext, None, c, zero, flags, shown)
        else:
            _advance_neurons(method, u, ref, i_ext, None, c, zero, flags, None)
        held = _collect(words, flags, lo, spike_neuron, count)
        if held > count:
            per_step[k] = held - count
            if net is not None:
                if deliver_now:
                    for j in range(count, held):  # a few at a time: nothing to fetch ahead
                        _send(net, pending, spike_neuron[j], (k0 + k) % slots, slots, 0, cuts, reach)
            count = held
        if row >= 0:
            r0, r1 = rec.bounds[b], rec.bounds[b + 1]
            for j in range(r0, r1):
                i = rec.neurons[j]
                if rec.bits & 1:
                    rec.u[row, j] = shown[i - lo]
                if rec.bits & 6:
                    current_sum = _summed_current(i_syn, rc.current, i, zero)
                    if rec.bits & 2:
                        rec.i_syn[row, j] = current_sum
                    if rec.bits & 4:
                        rec.i_in[row, j] = i_ext[i - lo] + current_sum
    return end, count


@njit(inline="always")
def _block(b, method, block, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc, stepped, zero, end,
           k0, slots, rec, neuron, per_step, count, reached, scratch, net, cuts, reach, deliver_now):
    """Block ``b`` up to step ``end`` (or until its spike buffer is full)."""
    n_blocks = reached.shape[0]
    cap = neuron.shape[0] // n_blocks
    lo = b * block
    hi = min(u.shape[0], lo + block)
    if reached[b] < end:
        reached[b], count[b] = _run_block(
            method, b, n_blocks, lo, hi, u[lo:hi], ref[lo:hi], i_syn, current, events, dense, dense_first, pending,
            _block_coefficients(c, lo, hi), rc, stepped, zero, reached[b], end, k0, slots, rec,
            neuron[b * cap:(b + 1) * cap], per_step[b], count[b], scratch, net, cuts, reach, deliver_now)


# The buffers' arrays are passed one by one: writes through a tuple's arrays are lost in a prange loop.
@njit(inline="always")
def _blocks_serial(method, block, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc, stepped, zero,
                   end, k0, slots, rec, neuron, per_step, count, reached, scratch, net, cuts, reach, deliver_now):
    for b in range(reached.shape[0]):
        _block(b, method, block, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc, stepped, zero,
               end, k0, slots, rec, neuron, per_step, count, reached, scratch, net, cuts, reach, deliver_now)


@njit(parallel=True, cache=True)
def _blocks_parallel(method, block, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc, stepped, zero,
                     end, k0, slots, rec, neuron, per_step, count, reached, scratch, work_ptr, work, draws, k_lo, k_hi,
                     ahead, net, cuts, reach):
    """Every block up to step ``end`` and, meanwhile, the next slice's dense jumps (the
    steps ``[k_lo, k_hi)`` of ``draws``, into ``ahead``), in one parallel region: task ``t``
    does the items ``work[work_ptr[t]:work_ptr[t + 1]]``, each a block ``b < n_blocks`` or
    the group ``b - n_blocks`` (`_share_work`)."""
    n_blocks = reached.shape[0]
    for t in prange(work_ptr.shape[0] - 1):
        for w in range(work_ptr[t], work_ptr[t + 1]):
            item = work[w]
            if item < n_blocks:
                _block(item, method, block, u, ref, i_syn, current, events, dense, dense_first, pending, c, rc,
                       stepped, zero, end, k0, slots, rec, neuron, per_step, count, reached, scratch, net, cuts, reach,
                       False)
            else:
                _draw_into(draws, item - n_blocks, k_lo, k_hi, ahead)


def _draw_into(draws, g, k_lo, k_hi, ahead):
    """`lifsim.stimuli.event_loops.draw_group` into ``ahead``; nothing when it is None (a run
    without dense jumps has no groups to draw)."""


@overload(_draw_into, inline="always")
def _draw_into_overload(draws, g, k_lo, k_hi, ahead):
    if isinstance(ahead, types.NoneType):
        return lambda draws, g, k_lo, k_hi, ahead: None
    return lambda draws, g, k_lo, k_hi, ahead: draw_group(draws, g, k_lo, k_hi, ahead)


def _buffers(dense, held):
    """The input buffer a slice reads (``dense[held]``) and the one the next slice is drawn
    into (the other of two; the same one when there is one), or None twice."""


@overload(_buffers, inline="always")
def _buffers_overload(dense, held):
    if isinstance(dense, types.NoneType):
        return lambda dense, held: (None, None)
    return lambda dense, held: (dense[held], dense[(1 - held) % dense.shape[0]])


def _slice_drawn(draws, drawn, dense, k0, start, end, steps, slice_steps, parallel, threads):
    """For the slice ``[start, end)`` of a chunk: which buffer of ``dense`` holds its input,
    and the steps ``[k_lo, k_hi)`` of the next slice to draw while its blocks run (none if
    empty). Without draws (an empty table) the chunk's own jumps, ``dense[0]``. A slice
    not drawn yet (the first of a call) is drawn now; one already drawn (ahead, or before
    its spike buffers grew) is not drawn again."""


@overload(_slice_drawn, inline="always")
def _slice_drawn_overload(draws, drawn, dense, k0, start, end, steps, slice_steps, parallel, threads):
    if isinstance(dense, types.NoneType):
        return lambda draws, drawn, dense, k0, start, end, steps, slice_steps, parallel, threads: (0, 0, 0)

    def slice_drawn(draws, drawn, dense, k0, start, end, steps, slice_steps, parallel, threads):
        if draws.source.shape[0] == 0:
            return 0, 0, 0
        held = 0 if drawn[0] == k0 + start else 1 if drawn[1] == k0 + start else -1
        if held < 0:
            held = 0
            if parallel:
                draw_dense(draws, k0 + start, k0 + end, dense[0], threads)
            else:
                draw_dense_serial(draws, k0 + start, k0 + end, dense[0])
            drawn[0] = k0 + start
        if parallel and end < steps and drawn[1 - held] != k0 + end:
            return held, k0 + end, k0 + min(end + slice_steps, steps)
        return held, 0, 0
    return slice_drawn


# ---------------------------------------------------------------- spike delivery


@njit(inline="always")
def _lower_bound(values, lo, hi, value):
    """The first index in ``[lo, hi)`` whose value is >= ``value`` (``values`` sorted there)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if values[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(inline="always")
def _ring_slot(slot, slots):
    """``slot % slots`` for ``0 <= slot < 2·slots``."""
    return slot - slots if slot >= slots else slot


@njit(inline="always")
def _segment(net, row, part, cuts):
    """The synapses ``[lo, hi)`` of ``row`` whose targets lie in share ``part`` (`_share_cuts`).
    (Written with conditional expressions: assigned in ``if`` blocks, the bounds made the
    delivery loop 4 times slower on CUBA's short rows.)"""
    start = net.indptr[row]
    lo = start + cuts[row, part - 1] if part > 0 else start
    hi = start + cuts[row, part] if part < cuts.shape[1] else net.indptr[row + 1]
    return lo, hi


@njit(inline="always")
def _reaches(cuts, reach, p, part):
    """Whether projection ``p`` has targets in share ``part`` (one share: always)."""
    return cuts.shape[1] == 0 or reach[p, part]


@njit(inline="always")
def _send(net, pending, source, base, slots, part, cuts, reach):
    """The synapses of one spike whose targets lie in share ``part`` of the targets, projection
    after projection: ``pending[(base + delay) % slots, target] += weight``. ``cuts[row]``
    holds where each share but the first starts in a row, ``reach`` which projections have
    targets in each share (`_share_cuts`; no column: one share)."""
    population = net.population_of[source]
    for o in range(net.by_population[population], net.by_population[population + 1]):
        p = net.order[o]
        if not _reaches(cuts, reach, p, part):
            continue
        lo, hi = _segment(net, net.row_offset[p] + source - net.source_lo[p], part, cuts)
        # local views and a loop per weight kind: the stores into ``pending`` could alias the
        # tables as far as the compiler knows, so nothing is re-read per synapse
        targets = net.targets[lo:hi]
        if net.delay_varies[p]:
            delays = net.delays[net.delay_shift[p] + lo:net.delay_shift[p] + hi]
            if net.weight_varies[p]:
                weights = net.weights[net.weight_shift[p] + lo:net.weight_shift[p] + hi]
                for s in range(hi - lo):
                    pending[_ring_slot(base + delays[s], slots), targets[s]] += weights[s]
            else:
                weight = net.weight_value[p]
                for s in range(hi - lo):
                    pending[_ring_slot(base + delays[s], slots), targets[s]] += weight
        else:
            target_row = pending[_ring_slot(base + net.delay_value[p], slots)]
            if net.weight_varies[p]:
                weights = net.weights[net.weight_shift[p] + lo:net.weight_shift[p] + hi]
                for s in range(hi - lo):
                    target_row[targets[s]] += weights[s]
            else:
                weight = net.weight_value[p]
                for s in range(hi - lo):
                    target_row[targets[s]] += weight


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to bring the cache line of ``array[index]`` (a 1-d array) closer; a hint,
    which neither faults nor changes any result."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), "llvm.prefetch.p0i8")
        # a read, kept in every cache level, of data
        builder.call(hint, [builder.bitcast(builder.gep(data, [args[1]]), byte_pointer), int32(0), int32(3), int32(1)])
        return context.get_dummy_value()
    return types.void(array, index), codegen


@njit(inline="always")
def _prefetch_rows(net, source, part, cuts, reach):
    """First stage of fetching a spike's synapses ahead: where its rows start (`_deliver_part`)."""
    population = net.population_of[source]
    for o in range(net.by_population[population], net.by_population[population + 1]):
        p = net.order[o]
        if _reaches(cuts, reach, p, part):
            row = net.row_offset[p] + source - net.source_lo[p]
            _prefetch(net.indptr, row)
            if part > 0:
                _prefetch(cuts[row], part - 1)


@njit(inline="always")
def _prefetch_synapses(net, source, part, cuts, reach):
    """Second stage: the first cache lines of its targets (and weights and delays, per synapse)."""
    population = net.population_of[source]
    for o in range(net.by_population[population], net.by_population[population + 1]):
        p = net.order[o]
        if _reaches(cuts, reach, p, part):
            lo, hi = _segment(net, net.row_offset[p] + source - net.source_lo[p], part, cuts)
            for at in range(lo, min(hi, lo + PREFETCH_SYNAPSES), 16):
                _prefetch(net.targets, at)
                if net.weight_varies[p]:
                    _prefetch(net.weights, net.weight_shift[p] + at)
                if net.delay_varies[p]:
                    _prefetch(net.delays, net.delay_shift[p] + at)


@njit(inline="always")
def _deliver_part(part, cuts, reach, net, pending, sources, bases, slots):
    """Deliver the spikes ``sources`` (sent at ring slots ``bases``, in order; or all at the
    slot ``bases``) to the targets of share ``part`` (of ``cuts.shape[1] + 1``). A spike's
    rows lie anywhere in the tables, so the CPU is told ahead where the next spikes'
    synapses are, in two stages (a row's start must be read before its synapses can be
    asked for)."""
    n = sources.shape[0]
    for i in range(n):
        if i + 2 * PREFETCH_SPIKES < n:
            _prefetch_rows(net, sources[i + 2 * PREFETCH_SPIKES], part, cuts, reach)
        if i + PREFETCH_SPIKES < n:
            _prefetch_synapses(net, sources[i + PREFETCH_SPIKES], part, cuts, reach)
        _send(net, pending, sources[i], _at(bases, i), slots, part, cuts, reach)


@njit(inline="always")
def _slice_spikes(buf, start, end, k0, slots, total):
    """The ``total`` spikes of steps ``[start, end)``, in (step, neuron) order, with the ring
    slot of their step."""
    n_blocks = buf.reached.shape[0]
    cap = buf.neuron.shape[0] // n_blocks
    sources = np.empty(total, np.int32)
    bases = np.empty(total, np.int64)
    position = buf.delivered.copy()
    m = 0
    for k in range(start, end):
        base = (k0 + k) % slots
        for b in range(n_blocks):
            at = b * cap + position[b]
            for j in range(buf.per_step[b, k]):
                sources[m] = buf.neuron[at + j]
                bases[m] = base
                m += 1
            position[b] += buf.per_step[b, k]
    return sources, bases


@njit(parallel=True, cache=True)
def _deliver_parallel(net, pending, sources, bases, slots, cuts, reach):
    for part in prange(reach.shape[1]):
        _deliver_part(part, cuts, reach, net, pending, sources, bases, slots)


@njit(cache=True)
def _share_cuts(indptr, targets, bounds):
    """Where each share of the targets but the first starts in every row, from the row's
    start: share ``p`` holds the targets in ``[bounds[p], bounds[p + 1])`` (rows are sorted).
    Found once per run, so that delivery does not search a row (a chain of cache misses)
    for every spike."""
    shares = bounds.shape[0] - 1
    cuts = np.empty((indptr.shape[0] - 1, shares - 1), np.int32)
    for row in range(indptr.shape[0] - 1):
        lo, hi = indptr[row], indptr[row + 1]
        for p in range(1, shares):
            lo = _lower_bound(targets, lo, hi, bounds[p])
            cuts[row, p - 1] = lo - indptr[row]
    return cuts


# ---------------------------------------------------------------- one chunk


@njit(nogil=True, cache=True)
def _run_chunk(method, block, u, ref, i_syn, current, events, dense, draws, drawn, pending, net, c, rc, stepped, zero,
               first, steps, slice_steps, k0, slots, rec, buf, scratch, parallel, threads, work, cuts, reach,
               parallel_spikes):
    """Steps ``first .. steps-1`` of a chunk, slice by slice: every block runs the slice,
    then (in a network) the slice's spikes are delivered, split by target into as many
    shares as ``reach`` has columns (`_share_cuts`) when the slice has at least
    ``parallel_spikes`` spikes.

    ``dense`` is None without dense jumps; else shape (buffers, steps, R·N): the chunk's
    jumps (one buffer) when ``draws`` (a `lifsim.stimuli.generator.DenseDraws`) has no
    groups, else two slices of jumps drawn here, ``drawn[i]`` the first step of the one in
    buffer ``i`` (`_slice_drawn`); in parallel runs the next slice of the chunk is drawn
    while the blocks run this one (`_blocks_parallel`). ``work`` holds two ways of sharing
    the items among the threads (`_share_work`): the blocks alone, and the blocks with the
    groups to draw. (One type with and without draws: each kernel is compiled once.)
    One block on one thread (a short slice, such as CUBA's one step) runs the whole chunk
    in one call of `_run_block`, which delivers each step's spikes as they come: in the
    same order, and before any of them arrives (a delay is at least one step), but without
    a call per slice (about 0.8 µs a step here, a sixth of CUBA's step then).
    Returns the step reached: less than ``steps`` when a block's spike buffer filled up
    (grow the buffers and call again). Releases the GIL, so that the next chunk's input can
    be drawn meanwhile."""
    deliver_now = not parallel and buf.reached.shape[0] == 1 and draws.source.shape[0] == 0
    start = first
    while start < steps:
        end = steps if deliver_now else min(start + slice_steps, steps)
        held, k_lo, k_hi = _slice_drawn(draws, drawn, dense, k0, start, end, steps, slice_steps, parallel, threads)
        this, ahead = _buffers(dense, held)
        first_row = start if draws.source.shape[0] else 0  # row 0 of a drawn slice is its first step
        if parallel:
            ptr, items = (work[2], work[3]) if k_lo < k_hi else (work[0], work[1])
            _blocks_parallel(method, block, u, ref, i_syn, current, events, this, first_row, pending, c, rc, stepped,
                             zero, end, k0, slots, rec, buf.neuron, buf.per_step, buf.count, buf.reached, scratch, ptr,
                             items, draws, k_lo, k_hi, ahead, net, cuts[:, :0], reach)
            if k_lo < k_hi:
                drawn[1 - held] = k_lo
        else:
            _blocks_serial(method, block, u, ref, i_syn, current, events, this, first_row, pending, c, rc, stepped,
                           zero, end, k0, slots, rec, buf.neuron, buf.per_step, buf.count, buf.reached, scratch, net,
                           cuts[:, :0], reach, deliver_now)
        if buf.reached.min() < end:
            return start
        if net is not None:
            sent = buf.per_step[:, start:end].sum()
            if deliver_now:
                pass  # delivered step by step
            elif reach.shape[1] > 1 and sent >= parallel_spikes:
                sources, bases = _slice_spikes(buf, start, end, k0, slots, sent)
                _deliver_parallel(net, pending, sources, bases, slots, cuts, reach)
            else:
                sources, bases = _slice_spikes(buf, start, end, k0, slots, sent)
                _deliver_part(0, cuts[:, :0], reach, net, pending, sources, bases, slots)
            for b in range(buf.reached.shape[0]):
                buf.delivered[b] += buf.per_step[b, start:end].sum()
        start = end
    return steps


@njit(nogil=True, cache=True)
def _bucket_events(step, target, amount, steps, n_total, n_blocks, block):
    """Events grouped by (step, block) with a stable counting sort: bucket ``k·n_blocks + b``
    spans ``offsets[slot]:offsets[slot + 1]`` and keeps the events' order within it."""
    offsets = np.zeros(steps * n_blocks + 1, np.int64)
    for e in range(step.shape[0]):
        offsets[step[e] * n_blocks + (target[e] % n_total) // block + 1] += 1
    for slot in range(steps * n_blocks):
        offsets[slot + 1] += offsets[slot]
    fill = offsets[:-1].copy()
    out_target = np.empty(step.shape[0], np.int64)
    out_amount = np.empty(step.shape[0], amount.dtype)
    for e in range(step.shape[0]):
        slot = step[e] * n_blocks + (target[e] % n_total) // block
        out_target[fill[slot]] = target[e]
        out_amount[fill[slot]] = amount[e]
        fill[slot] += 1
    return offsets, out_target, out_amount


@njit(parallel=True, nogil=True, cache=True)
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
    """Advances the neurons chunk by chunk with the compiled kernels."""

    def __init__(self, setup: EngineSetup):
        self.setup = setup
        self.threads = setup.threads or numba.config.NUMBA_NUM_THREADS
        slice_steps = min(setup.slice_steps, setup.chunk_steps)
        self.parallel = self.threads > 1 and setup.n_neurons * slice_steps >= MIN_PARALLEL_SLICE
        self.block = _block_size(setup.n_neurons, self.threads if self.parallel else 1, slice_steps < SHORT_SLICE)
        self.n_blocks = -(-setup.n_neurons // self.block)
        self.cap = INITIAL_SPIKES_PER_NEURON * self.block
        self.spike_neuron = np.empty(self.n_blocks * self.cap, np.int32)
        self.zero = setup.dtype(0)
        rc = setup.receptors
        self.coefficients = Coefficients(*_all_or_none_per_neuron(tuple(setup.coefficients), (setup.n_neurons,)))
        self.receptors = _Receptors(*_all_or_none_per_neuron((rc.decay, rc.s, rc.current),
                                                             (setup.n_receptors, setup.n_neurons)))
        size = self.block
        self.scratch = _Scratch(np.zeros((self.n_blocks, -(-size // 8)), np.uint64),
                                np.zeros((self.n_blocks, size), setup.dtype),
                                np.zeros((self.n_blocks, setup.n_receptors, size), setup.dtype),
                                np.zeros((self.n_blocks, size), setup.dtype))
        shares = self.threads if setup.network is not None else 1
        self.cuts, self.reach = _shares(setup.network, setup.n_receptors * setup.n_neurons, shares)
        synapses = 0 if setup.network is None else setup.network.targets.size
        self.parallel_spikes = MIN_PARALLEL_DELIVERY * setup.n_neurons / synapses if synapses else np.inf
        # two slices of dense jumps, drawn as the blocks go (`InputChunk.draws`)
        self.slice_input = (np.zeros((2, slice_steps, setup.n_receptors * setup.n_neurons), setup.dtype)
                            if setup.dense_draws else None)
        self.drawn = np.full(2, -1, np.int64)
        self.no_draws = _no_draws(setup.dtype)
        self.work = None
        self._warm_up()

    def _warm_up(self):
        """Compile (or load from the disk cache) the kernels for this run's types, and start
        the worker threads, so that the first chunk pays for neither."""
        setup = self.setup
        state = LIFState.resting(setup.n_neurons, 0.0, setup.dtype, setup.n_receptors, setup.slots)
        empty = np.zeros(0, np.int64)
        chunk = InputChunk(0, 0, np.zeros((1, setup.n_neurons), setup.dtype), None)
        self.advance(state, chunk, ChunkRecording(empty, empty, {}))

    def advance(self, state: LIFState, chunk, recording, progress=None) -> tuple[LIFState, ChunkSpikes]:
        """Run one chunk; with ``progress``, in parts of about `engines.PROGRESS_INTERVAL_S`
        seconds each, reporting the steps done after each part. A network's parts end on
        the boundaries of its slices, so that its spikes are delivered as in one call; the
        results are the same either way."""
        setup, steps = self.setup, chunk.steps
        u, ref, i_syn = state.u.copy(), state.ref.copy(), state.i_syn.copy()
        pending = None if state.pending is None else state.pending.copy()
        events = self._events(chunk)
        dense, draws = (self._dense(chunk), self.no_draws) if chunk.draws is None else (self.slice_input, chunk.draws)
        rec = self._recording(recording, steps)
        current = _read_only(chunk.current)
        buf = _Buffers(self.spike_neuron, np.zeros((self.n_blocks, steps), np.int64),
                       np.zeros(self.n_blocks, np.int64), np.zeros(self.n_blocks, np.int64),
                       np.zeros(self.n_blocks, np.int64))
        previous = numba.get_num_threads()
        numba.set_num_threads(self.threads)
        try:
            parts = _Parts(steps, setup.slice_steps if setup.network is not None else 1, setup.n_neurons, progress)
            reached, stop = 0, parts.first_stop()
            while True:  # once at least, so that a warm-up with no steps compiles the kernel
                with engines.interrupt_after_call(), warnings.catch_warnings():
                    # the generators are passed as numba's reflected list (see `lifsim.stimuli.event_loops`)
                    warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
                    reached = _run_chunk(
                        METHOD_TABLE[setup.method].code, self.block, u, ref, i_syn, current, events, dense, draws,
                        self.drawn, pending, setup.network, self.coefficients, self.receptors,
                        self.receptors if setup.synaptic else None, self.zero, reached, stop, setup.slice_steps,
                        chunk.k0, setup.slots, rec, buf, self.scratch, self.parallel, self.threads, self._work(draws),
                        self.cuts, self.reach, self.parallel_spikes)
                if reached < stop:
                    buf = self._grow_spike_buffers(buf)
                elif reached >= steps:
                    break
                else:
                    stop = parts.next_stop(reached)
            spikes = ChunkSpikes(*_merge_blocks(buf.neuron, buf.per_step, self.cap, chunk.k0))
        finally:
            numba.set_num_threads(previous)
        return LIFState(u, ref, i_syn, pending), spikes

    def _work(self, draws) -> tuple:
        """The threads' tasks of `_blocks_parallel` (`_share_work`): the blocks alone, then
        with the groups of ``draws`` (made once for a run's draws)."""
        groups = draws.source.size
        if self.work is None or self.work[0] != groups:
            alone, drawing = (_share_work(self.n_blocks, self.block, self.setup.n_neurons, sizes, self.threads)
                              for sizes in (np.zeros(0), np.diff(draws.columns, axis=1)[:, 0]))
            self.work = (groups, alone + drawing)
        return self.work[1]

    def _events(self, chunk):
        """The chunk's input spikes bucketed by (step, block); None without spike stimuli. A run
        whose receptors only decay (a nonzero initial state) gets an empty bucket list, so
        that its receptors take a zero input."""
        setup = self.setup
        if not setup.synaptic or not (setup.spike_input or (setup.network is None and not setup.dense_input)):
            return None
        events = chunk.events or _no_events(setup.dtype)
        return _bucket_events(events.step, events.target, events.amount, chunk.steps, setup.n_neurons,
                              self.n_blocks, self.block)

    def _dense(self, chunk):
        """The chunk's dense jumps (zeros when its stimuli are off) as one buffer, shape
        (1, steps, R·N), or None without dense stimuli."""
        setup = self.setup
        if not (setup.synaptic and setup.dense_input):
            return None
        if chunk.injection is None:
            return np.zeros((1, chunk.steps, setup.n_receptors * setup.n_neurons), setup.dtype)
        return chunk.injection[np.newaxis]

    def _recording(self, recording, steps) -> _Recording:
        row = np.full(steps, -1, np.int64)
        row[recording.rows] = np.arange(recording.rows.size)
        bounds = np.searchsorted(recording.neurons, np.arange(self.n_blocks + 1) * self.block)
        empty = np.zeros((0, 0), self.setup.dtype)
        outs = [recording.out.get(name, empty) for name in RECORD_BITS]
        bits = sum(bit for name, bit in RECORD_BITS.items() if name in recording.out)
        return _Recording(row, recording.neurons, bounds, bits, *outs)

    def _grow_spike_buffers(self, buf: _Buffers) -> _Buffers:
        """Per-block spike buffers, kept between chunks. A block that fills its own stops
        early and resumes once the buffers have doubled, keeping what they hold."""
        old_cap, old = self.cap, self.spike_neuron
        self.cap *= 2
        self.spike_neuron = np.empty(self.n_blocks * self.cap, np.int32)
        for b in range(self.n_blocks):
            self.spike_neuron[b * self.cap:b * self.cap + buf.count[b]] = old[b * old_cap:b * old_cap + buf.count[b]]
        return buf._replace(neuron=self.spike_neuron)


class _Parts:
    """Where a chunk's kernel calls stop: at its end without ``progress``; else after
    parts of about `engines.PROGRESS_INTERVAL_S` seconds, each a whole number of
    ``granule`` steps (a network's slices: its spikes are delivered at the same steps),
    reporting the steps reached after each."""

    #: Neuron-steps of the first part, before a rate is measured (a few milliseconds).
    FIRST = 1 << 22

    def __init__(self, steps: int, granule: int, n_neurons: int, progress):
        self.steps, self.granule, self.progress = steps, max(1, granule), progress
        self.n_neurons, self.since, self.start = n_neurons, time.perf_counter(), 0

    def first_stop(self) -> int:
        if self.progress is None:
            return self.steps
        return self._stop(0, max(1, self.FIRST // self.n_neurons))

    def next_stop(self, reached: int) -> int:
        self.progress(reached)
        now = time.perf_counter()
        rate = (reached - self.start) / max(now - self.since, 1e-9)  # steps per second
        self.start, self.since = reached, now
        return self._stop(reached, int(rate * engines.PROGRESS_INTERVAL_S))

    def _stop(self, reached: int, length: int) -> int:
        length = max(self.granule, length // self.granule * self.granule)
        return min(self.steps, reached + length)


def _all_or_none_per_neuron(values: tuple, shape: tuple) -> tuple:
    """The values as they are when none is per neuron, else all of them per neuron (``shape``,
    C-contiguous), so that any mix of per-neuron parameters runs one compiled kernel (a kernel
    is compiled for each combination of scalars and arrays, seconds each) at the cost of
    reading a few more arrays per step."""
    shared = len(shape) - 1  # the dimensions of a value every neuron shares
    if all(np.ndim(v) == shared for v in values):
        return tuple(v if np.ndim(v) == 0 else _read_only(v) for v in values)
    columns = [v if np.ndim(v) > shared else np.reshape(v, shape[:-1] + (1,)) for v in values]
    return tuple(_read_only(np.ascontiguousarray(np.broadcast_to(v, shape))) for v in columns)


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view: numba compiles a kernel apart for read-only and writable arrays, and
    inputs come either way (frozen parameters, broadcast currents)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _block_size(n_neurons: int, threads: int, short_slices: bool) -> int:
    """Equal blocks, as many as a multiple of ``threads``: of at most BLOCK neurons, or one
    per thread for short slices."""
    blocks = threads if short_slices else -(-n_neurons // BLOCK)
    blocks = -(-blocks // threads) * threads if blocks > 1 else 1
    return -(-n_neurons // blocks)


def _share_work(n_blocks: int, block: int, n_neurons: int, group_sizes: np.ndarray, tasks: int):
    """The blocks (items ``0 .. n_blocks-1``) then the groups of draws (items ``n_blocks + g``)
    cut into ``tasks`` runs of about equal cost (a drawn jump costing `DRAW_COST` neuron-steps),
    as ``(work_ptr, work)``: task ``t`` does ``work[work_ptr[t]:work_ptr[t + 1]]``. Cut in this
    order, the first tasks step the neurons while the last draw: on two threads sharing a
    core's vector units, the stepping (vector arithmetic) runs beside the drawing (a chain
    of scalar steps), which a second thread speeds up."""
    sizes = np.minimum(block, n_neurons - block * np.arange(n_blocks))
    cost = np.concatenate([sizes, DRAW_COST * group_sizes]).astype(float)
    middle = np.cumsum(cost) - cost / 2
    task = np.minimum((middle * tasks / max(cost.sum(), 1e-300)).astype(np.int64), tasks - 1)
    return np.searchsorted(task, np.arange(tasks + 1)).astype(np.int64), np.arange(cost.size, dtype=np.int64)


def _shares(network, width: int, shares: int) -> tuple:
    """How delivery splits the targets ``[0, width)`` among ``shares`` threads: ``cuts``, where
    each share but the first starts in every row (`_share_cuts`), and ``reach``, whether
    projection ``p`` has any synapse in share ``s`` (shape (projections, shares)). One share
    (or no network): no cuts."""
    if network is None:
        return np.zeros((0, 0), np.int32), np.ones((0, 1), np.bool_)
    if shares == 1:
        return np.zeros((network.indptr.size - 1, 0), np.int32), np.ones((network.source_lo.size, 1), np.bool_)
    indptr = network.indptr
    cuts = _share_cuts(indptr, network.targets, _share_bounds(indptr, network.targets, width, shares))
    lengths = np.diff(indptr)
    sizes = np.diff(np.column_stack([np.zeros_like(lengths), cuts, lengths]), axis=1)
    reach = np.zeros((network.source_lo.size, shares), np.bool_)
    for p in range(network.source_lo.size):
        rows = slice(network.row_offset[p], network.row_offset[p] + network.source_hi[p] - network.source_lo[p])
        reach[p] = (sizes[rows] > 0).any(axis=0)
    return cuts, reach


def _share_bounds(indptr: np.ndarray, targets: np.ndarray, width: int, shares: int) -> np.ndarray:
    """Bounds ``0 = b[0] <= ... <= b[shares] = width`` of target ranges of about equal delivery
    cost, every source firing alike: the synapses into a range, plus `SEGMENT_COST` for each row
    with a target in it (taken as the rows whose first target lies below its end and whose
    last does not lie below its start). The least largest cost, by bisection."""
    below = np.concatenate([[0], np.cumsum(_count_targets(targets, width))])  # synapses with a target < x
    filled = np.diff(indptr) > 0
    firsts = np.sort(targets[indptr[:-1][filled]])
    lasts = np.sort(targets[indptr[1:][filled] - 1])

    def cost(a: int, b: int) -> float:
        rows = np.searchsorted(firsts, b) - np.searchsorted(lasts, a)
        return float(below[b] - below[a] + SEGMENT_COST * rows)

    def split(most: float) -> list:
        bounds = [0]
        for _ in range(shares - 1):
            lo, hi = bounds[-1], width  # the last b with cost(a, b) <= most lies in [lo, hi]
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if cost(bounds[-1], mid) <= most else (lo, mid - 1)
            bounds.append(lo)
        return bounds + [width]

    low, high = 0.0, cost(0, width)
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if cost(split(middle)[-2], width) <= middle else (middle, high)
    return np.array(split(high), np.int64)


@njit(cache=True)
def _count_targets(targets, width):
    counts = np.zeros(width, np.int64)
    for t in targets:
        counts[t] += 1
    return counts


def _no_draws(dtype) -> DenseDraws:
    """A table of no groups, with the types of a run's: runs without draws pass it, so that
    the kernels are the same with and without."""
    return DenseDraws([np.random.default_rng(0)], np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                      np.zeros((1, 2), np.int64), np.ones((1, 1)), np.zeros((1, 1), np.int64), np.zeros((1, 1), dtype))


def _no_events(dtype) -> SynapticEvents:
    empty = np.zeros(0, np.int64)
    return SynapticEvents(empty, empty, np.zeros(0, dtype))


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
