"""Compiled loops of the Poisson inputs of `lifsim.stimuli.poisson`.

Kept apart so that numba is imported only by runs that use them. The random numbers are
numpy's: drawn by numpy in `lifsim.stimuli.poisson`, or, for `PoissonInput`, by its numpy
generators called from compiled code (the same numbers, in the same order): for a chunk
(`add_poisson_jumps`), or a few steps at a time by the numba engine (`draw_dense`,
`draw_group`), which draws a slice's jumps just before, or while, its neurons take them.
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from numba import njit, prange
from numba.core.errors import NumbaPendingDeprecationWarning

from ..engines import interrupt_after_call


@njit(cache=True)
def by_step(step, synapse, start, end):
    """The events sorted by step with a stable counting sort (synapse order kept within a step)."""
    slot = np.zeros(end - start + 1, np.int64)
    for e in range(step.shape[0]):
        slot[step[e] - start + 1] += 1
    for k in range(end - start):
        slot[k + 1] += slot[k]
    out_step = np.empty_like(step)
    out_synapse = np.empty_like(synapse)
    for e in range(step.shape[0]):
        k = step[e] - start
        out_step[slot[k]] = step[e]
        out_synapse[slot[k]] = synapse[e]
        slot[k] += 1
    return out_step, out_synapse


@njit(cache=True)
def geometric(exponentials, scale):
    """Geometric numbers of steps (>= 1) from exponential draws: ``ceil(E · scale)``."""
    out = np.empty(exponentials.shape[0], np.int64)
    for i in range(exponentials.shape[0]):
        out[i] = max(1, math.ceil(exponentials[i] * scale))
    return out


@njit(cache=True)
def spend_gaps(next_step, end, exponentials, scale, first):
    """Emit the spikes before ``end`` of synapses ``first, first+1, ...``, each followed by a
    geometric gap made from ``exponentials``; stop when they run out. Returns the spikes'
    steps and synapses, the synapse to resume from, and the exponentials used."""
    out_step = np.empty(exponentials.shape[0], np.int64)
    out_synapse = np.empty(exponentials.shape[0], np.int64)
    used = 0
    for s in range(first, next_step.shape[0]):
        while next_step[s] < end:
            if used == exponentials.shape[0]:
                return out_step[:used], out_synapse[:used], s, used
            out_step[used] = next_step[s]
            out_synapse[used] = s
            next_step[s] += max(1, math.ceil(exponentials[used] * scale))
            used += 1
    return out_step[:used], out_synapse[:used], next_step.shape[0], used


@njit(inline="always")
def _poisson_jumps(stream, cdf, guide, jumps, out):
    """Add ``jumps[n]`` to each entry of ``out``, row after row, ``n`` the count the next
    uniform of ``stream`` inverts to (`add_poisson_jumps`)."""
    bins = guide.shape[0]
    for row in range(out.shape[0]):
        for i in range(out.shape[1]):
            u = stream.random()
            n = guide[int(u * bins)]
            if n < 0:
                n = -1 - n
                while u >= cdf[n]:
                    n += 1
            out[row, i] += jumps[n]


@njit(parallel=True, nogil=True, cache=True)
def add_poisson_jumps(streams, cdf, guide, jumps, out, width, workers):
    """Poisson counts by inversion, drawn and added in one pass, group after group of
    ``width`` columns of ``out`` (a chunk's steps × neurons), dealt to ``workers`` tasks
    that run in parallel on numba's threads.

    Group ``g`` adds ``jumps[n]`` to each entry of its columns, row after row, ``n`` the
    count with ``cdf[n-1] <= u < cdf[n]`` for the next uniform ``u`` of ``streams[g]`` (a
    numpy ``Generator``: the numbers its ``random`` gives), so the numbers do not depend on
    the threads. ``cdf`` is from `lifsim.stimuli.poisson.poisson_cdf`; ``guide`` (from
    `lifsim.stimuli.poisson.guide_table`) gives the count of each of its equal bins of
    [0, 1) that holds one, else ``-1 - c``: the few uniforms in a bin that straddles a step
    of the cdf scan for it from count ``c``."""
    groups = (out.shape[1] + width - 1) // width
    for w in prange(min(workers, groups)):
        for g in range(w, groups, workers):  # dealt in turn: the tasks differ by one group at most
            lo = g * width
            _poisson_jumps(streams[g], cdf, guide, jumps, out[:, lo:min(lo + width, out.shape[1])])


@njit(inline="always")
def draw_group(table, g, k_lo, k_hi, out):
    """Group ``g`` of a `lifsim.stimuli.generator.DenseDraws` table for the absolute steps
    ``[k_lo, k_hi)``: its columns of ``out``'s first ``k_hi - k_lo`` rows set to zero, then
    the rows in its stimulus's window given their jumps (`_poisson_jumps`)."""
    lo, hi = table.columns[g, 0], table.columns[g, 1]
    source = table.source[g]
    part = out[:k_hi - k_lo, lo:hi]
    part[:] = 0
    first = min(max(table.window[source, 0], k_lo), k_hi) - k_lo
    last = max(min(table.window[source, 1], k_hi) - k_lo, first)
    _poisson_jumps(table.streams[g], table.cdf[source], table.guide[source], table.jumps[source], part[first:last])


@njit(inline="always")
def draw_dense_serial(table, k_lo, k_hi, out):
    """A run's dense jumps of steps ``[k_lo, k_hi)`` into the first rows of ``out`` (steps ×
    ``slot·N + neuron``; the columns of no group are left as they are), group after group:
    the numbers of `lifsim.stimuli.generator.InputGenerator.chunk`, as `add_poisson_jumps`
    draws them."""
    for g in range(table.source.shape[0]):
        draw_group(table, g, k_lo, k_hi, out)


@njit(parallel=True, cache=True)
def draw_dense(table, k_lo, k_hi, out, workers):
    """`draw_dense_serial` with the groups dealt in turn to ``workers`` parallel tasks."""
    groups = table.source.shape[0]
    for w in prange(min(workers, groups)):
        for g in range(w, groups, workers):  # dealt in turn: the tasks differ by one group at most
            draw_group(table, g, k_lo, k_hi, out)


def add_poisson_jumps_on(threads: int, streams: list, *args) -> None:
    """`add_poisson_jumps` on at most ``threads`` of numba's threads."""
    previous = numba.get_num_threads()
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    try:
        with warnings.catch_warnings(), interrupt_after_call():
            # a list of generators is passed as numba's reflected list (its typed list would be
            # compiled anew in every process); numba only warns that this may change one day
            warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
            add_poisson_jumps(streams, *args, threads)
    finally:
        numba.set_num_threads(previous)
