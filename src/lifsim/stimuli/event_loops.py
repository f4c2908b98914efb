"""Compiled loops of the Poisson inputs of `lifsim.stimuli.poisson`.

Kept apart so that numba is imported only by runs that use them; the random numbers
themselves are drawn by numpy in `lifsim.stimuli.poisson`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


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


@njit(nogil=True, cache=True)
def add_poisson_jumps(uniforms, cdf, guide, jumps, out):
    """Add ``jumps[n]`` to ``out`` for each uniform ``u``, ``n`` the count with
    ``cdf[n-1] <= u < cdf[n]``: Poisson counts by inversion (``cdf`` from
    `lifsim.stimuli.poisson.poisson_cdf`). ``guide`` (from `lifsim.stimuli.poisson.guide_table`)
    gives the count of each of its equal bins of [0, 1) that holds one, else ``-1 - c``: the
    few uniforms in a bin that straddles a step of the cdf scan for it from count ``c``.
    Releases the GIL, so that groups of neurons run on threads of their own."""
    bins = guide.shape[0]
    for row in range(uniforms.shape[0]):
        for i in range(uniforms.shape[1]):
            u = uniforms[row, i]
            n = guide[int(u * bins)]
            if n < 0:
                n = -1 - n
                while u >= cdf[n]:
                    n += 1
            out[row, i] += jumps[n]
