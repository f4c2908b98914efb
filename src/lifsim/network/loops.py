"""Compiled loops of connectivity building (numba is imported only by networks)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def flag_repeats(values, offsets):
    """Sort each row ``values[offsets[r]:offsets[r+1]]`` in place; flag every value equal to
    the one before it in its row (all copies but one). Returns the flags."""
    repeat = np.zeros(values.shape[0], np.bool_)
    for r in range(offsets.shape[0] - 1):
        row = values[offsets[r]:offsets[r + 1]]
        row.sort()
        for j in range(1, row.shape[0]):
            repeat[offsets[r] + j] = row[j] == row[j - 1]
    return repeat


@njit(cache=True)
def expand_rows(values, draw_offsets, counts, complement, avail, exclude):
    """The final rows: a complemented row is every value of ``[0, avail)`` its sorted draws
    miss; then values at or above the row's excluded index move up by one (skipping it).
    Rows come out sorted, as int32."""
    offsets = np.zeros(counts.shape[0] + 1, np.int64)
    for r in range(counts.shape[0]):
        offsets[r + 1] = offsets[r] + counts[r]
    out = np.empty(offsets[-1], np.int32)
    for r in range(counts.shape[0]):
        drawn = values[draw_offsets[r]:draw_offsets[r + 1]]
        at = offsets[r]
        if complement[r]:
            j = 0
            for v in range(avail):
                if j < drawn.shape[0] and drawn[j] == v:
                    j += 1
                else:
                    out[at] = v
                    at += 1
        else:
            for j in range(drawn.shape[0]):
                out[at + j] = drawn[j]
        if exclude.shape[0]:
            skip = exclude[r]
            for j in range(offsets[r], offsets[r + 1]):
                if out[j] >= skip:
                    out[j] += 1
    return out


@njit(cache=True)
def by_source(sources, k, n_sources):
    """Synapses listed target by target (``k`` sources each) as rows by source: the row
    pointer and, in each row, the targets in ascending order (int32)."""
    indptr = np.zeros(n_sources + 1, np.int64)
    for s in sources:
        indptr[s + 1] += 1
    for i in range(n_sources):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    targets = np.empty(sources.shape[0], np.int32)
    for e in range(sources.shape[0]):
        s = sources[e]
        targets[fill[s]] = e // k
        fill[s] += 1
    return indptr, targets


@njit(cache=True)
def shift_past(values, rows, k):
    """Draws from ``[0, n - 1)`` for row ``r`` (``k`` per row) made draws from ``[0, n)``
    without ``r``: values at or above ``r`` move up by one, in place."""
    for e in range(values.shape[0]):
        if values[e] >= rows[e // k]:
            values[e] += 1
