"""Building connectivity: vectorised draws, stored compactly by source (CSR).

Each projection draws from its own random stream (`lifsim.streams.connectivity_rng`),
so the synapses of one projection do not depend on the others. Its synapses are stored
by source neuron: row ``i`` lists the targets of source ``i`` in ascending order (uint32:
unsigned, so that compiled loops index with them unchecked),
with a float32 weight and an int16 delay (in steps) per synapse only where they differ
between synapses. All projections of a run are kept end to end in one `Connectivity`,
the arrays the engines deliver spikes with.

Distinct draws (``fixed_probability``, and in/out-degrees without multapses) draw with
replacement and redraw the repeats until every value in a row is distinct: the set drawn
is uniform over the subsets of its size. A ``fixed_probability`` row first draws its size,
Binomial(n, p), which with a uniform subset is exactly an independent draw per pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..distributions import is_distribution
from ..streams import connectivity_rng
from .projection import delay_steps


class Connectivity(NamedTuple):
    """Every projection of a run, as the engines read it.

    The synapses of projection ``p`` from global source ``n`` are ``indptr[row_offset[p] +
    n - source_lo[p]]`` up to the next entry (indices into ``targets``); a target is
    ``slot·N + neuron``. A synapse's weight is ``weights[weight_shift[p] + syn]`` where
    ``weight_varies[p]``, else ``weight_value[p]`` (the receptor's unit); its delay, in
    steps, likewise from ``delays``/``delay_value``. ``order[by_population[q]:by_population[q+1]]``
    lists, in projection order, the projections leaving population ``q``; ``population_of``
    gives each neuron's population.
    """

    indptr: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    source_lo: np.ndarray
    source_hi: np.ndarray
    row_offset: np.ndarray
    weight_varies: np.ndarray
    weight_shift: np.ndarray
    weight_value: np.ndarray
    delay_varies: np.ndarray
    delay_shift: np.ndarray
    delay_value: np.ndarray
    by_population: np.ndarray
    order: np.ndarray
    population_of: np.ndarray


@dataclass(frozen=True)
class Network:
    """A run's connectivity and what is known of it."""

    tables: Connectivity
    synapses: tuple  # per projection
    min_delay: int  # steps
    max_delay: int  # steps

    @property
    def n_synapses(self) -> int:
        return int(sum(self.synapses))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.tables)

    def out_degree(self) -> np.ndarray:
        """Synapses leaving each neuron (all projections), int64, shape (N,)."""
        t = self.tables
        degree = np.zeros(t.population_of.size, np.int64)
        for p in range(t.source_lo.size):
            rows = t.indptr[t.row_offset[p]:t.row_offset[p] + t.source_hi[p] - t.source_lo[p] + 1]
            degree[t.source_lo[p]:t.source_hi[p]] += np.diff(rows)
        return degree


class _Built(NamedTuple):
    """One projection: rows by local source, local targets, per-synapse or constant weight and delay."""

    indptr: np.ndarray
    targets: np.ndarray
    weight: object  # float32 array (per synapse) or float32 scalar
    delay: object  # int16 array (per synapse, steps) or int


def build(projections, layout, dt_ms: float, seed: int) -> Network:
    """Draw every projection and lay them end to end (all checked before: `Projection.validate`)."""
    built = [build_projection(proj, layout, dt_ms, connectivity_rng(seed, i)) for i, proj in enumerate(projections)]
    return _assemble(projections, built, layout)


def build_projection(proj, layout, dt_ms: float, rng) -> _Built:
    """One projection's synapses, weights and delays, in local indices (drawn in that order)."""
    n_source, n_target = layout.population(proj.source).size, layout.population(proj.target).size
    exclude = proj.source == proj.target and not proj.autapses
    indptr, targets = RULE_BUILDERS[proj.rule](proj, n_source, n_target, exclude, rng)
    order = _explicit_order(proj.pre, proj.post) if proj.rule == "explicit" else None
    weight = _values(proj.weight, rng, targets.size, order)
    weight = weight.astype(np.float32) if np.ndim(weight) else np.float32(weight)
    delay = _values(1 if proj.delay_ms is None else proj.delay_ms, rng, targets.size, order)
    delay = delay_steps(delay, dt_ms).astype(np.int16) if np.ndim(delay) else int(
        1 if proj.delay_ms is None else delay_steps(delay, dt_ms))
    return _Built(indptr, targets, weight, delay)


def _values(value, rng, n: int, order):
    """A number as it is; a distribution drawn per synapse; explicit per-synapse values in
    the synapses' stored order."""
    if is_distribution(value):
        return value.draw(rng, n)
    if np.ndim(value):
        return np.asarray(value, dtype=float)[order]
    return value


def _explicit_order(pre, post):
    return np.lexsort((np.asarray(post, dtype=np.int64), np.asarray(pre, dtype=np.int64)))


# ---------------------------------------------------------------- rules


def _all_to_all(proj, n_source, n_target, exclude, rng):
    per_row = n_target - exclude
    indptr = np.arange(n_source + 1, dtype=np.int64) * per_row
    grid = np.broadcast_to(np.arange(n_target, dtype=np.int32), (n_source, n_target))
    if exclude:
        return indptr, grid[np.arange(n_source)[:, None] != np.arange(n_target)[None, :]]
    return indptr, grid.ravel().copy()


def _one_to_one(proj, n_source, n_target, exclude, rng):
    return np.arange(n_source + 1, dtype=np.int64), np.arange(n_source, dtype=np.int32)


def _fixed_probability(proj, n_source, n_target, exclude, rng):
    counts = rng.binomial(n_target - exclude, proj.p, size=n_source).astype(np.int64)
    return _rows(counts), distinct_rows(rng, counts, n_target - exclude, exclude)


def _fixed_outdegree(proj, n_source, n_target, exclude, rng):
    counts = np.full(n_source, proj.k, np.int64)
    if not proj.multapses:
        return _rows(counts), distinct_rows(rng, counts, n_target - exclude, exclude)
    targets = _with_repeats(rng, n_source, proj.k, n_target, exclude)
    targets.reshape(n_source, proj.k).sort(axis=1)
    return _rows(counts), targets


def _fixed_indegree(proj, n_source, n_target, exclude, rng):
    from .loops import by_source

    if proj.multapses:
        sources = _with_repeats(rng, n_target, proj.k, n_source, exclude)
    else:
        sources = distinct_rows(rng, np.full(n_target, proj.k, np.int64), n_source - exclude, exclude)
    return by_source(sources, max(proj.k, 1), n_source)


def _explicit(proj, n_source, n_target, exclude, rng):
    pre = np.asarray(proj.pre, dtype=np.int64)
    order = _explicit_order(proj.pre, proj.post)
    counts = np.bincount(pre, minlength=n_source)
    return _rows(counts), np.asarray(proj.post, dtype=np.int64)[order].astype(np.int32)


RULE_BUILDERS = {"all_to_all": _all_to_all, "one_to_one": _one_to_one, "fixed_probability": _fixed_probability,
                 "fixed_indegree": _fixed_indegree, "fixed_outdegree": _fixed_outdegree, "explicit": _explicit}


def _rows(counts) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _with_repeats(rng, rows: int, k: int, n: int, exclude: bool) -> np.ndarray:
    """``k`` draws per row from ``[0, n)`` with replacement (int32); with ``exclude``, row ``r``
    never draws ``r``."""
    values = rng.integers(0, n - exclude, size=rows * k, dtype=np.int32)
    if exclude:
        from .loops import shift_past

        shift_past(values, np.arange(rows, dtype=np.int32), k)
    return values


def distinct_rows(rng, counts: np.ndarray, avail: int, exclude: bool) -> np.ndarray:
    """Row ``r`` holds ``counts[r]`` distinct values drawn uniformly from ``[0, avail)``
    (skipping ``r`` itself with ``exclude``, then ``avail`` is the population size minus
    one), sorted; the rows end to end, int32. A row of more than half the values draws
    the values it leaves out instead."""
    from .loops import expand_rows, flag_repeats

    complement = counts > avail // 2
    drawn = np.where(complement, avail - counts, counts)
    offsets = _rows(drawn)
    values = rng.integers(0, max(avail, 1), size=int(offsets[-1]), dtype=np.int32)
    while True:
        repeat = flag_repeats(values, offsets)
        n_repeat = int(np.count_nonzero(repeat))
        if n_repeat == 0:
            break
        values[repeat] = rng.integers(0, avail, size=n_repeat, dtype=np.int32)
    excluded = np.arange(counts.size, dtype=np.int32) if exclude else np.zeros(0, np.int32)
    return expand_rows(values, offsets, counts, complement, avail, excluded)


# ---------------------------------------------------------------- assembly


def _assemble(projections, built, layout) -> Network:
    n = layout.n_neurons
    spans = {p.name: span for p, span in zip(layout.populations, layout.spans())}
    tables = {key: [] for key in ("indptr", "targets", "weights", "delays")}
    info = {key: [] for key in ("source_lo", "source_hi", "row_offset", "weight_varies", "weight_shift",
                                "weight_value", "delay_varies", "delay_shift", "delay_value")}
    counts = {"rows": 0, "synapses": 0, "weights": 0, "delays": 0}
    for proj, b in zip(projections, built):
        lo, hi = spans[proj.source]
        slot = layout.slot(layout.population(proj.target).receptor(proj.receptor).name)
        targets = b.targets.astype(np.int32, copy=False).view(np.uint32)  # local indices, never negative
        targets += np.uint32(slot * n + spans[proj.target][0])
        tables["indptr"].append(b.indptr + counts["synapses"])
        tables["targets"].append(targets)
        weight_varies, delay_varies = np.ndim(b.weight) > 0, np.ndim(b.delay) > 0
        info["source_lo"].append(lo)
        info["source_hi"].append(hi)
        info["row_offset"].append(counts["rows"])
        info["weight_varies"].append(weight_varies)
        info["weight_shift"].append(counts["weights"] - counts["synapses"])
        info["weight_value"].append(0.0 if weight_varies else b.weight)
        info["delay_varies"].append(delay_varies)
        info["delay_shift"].append(counts["delays"] - counts["synapses"])
        info["delay_value"].append(0 if delay_varies else b.delay)
        if weight_varies:
            tables["weights"].append(b.weight)
            counts["weights"] += b.weight.size
        if delay_varies:
            tables["delays"].append(b.delay)
            counts["delays"] += b.delay.size
        counts["rows"] += b.indptr.size
        counts["synapses"] += targets.size
    by_pop, order = _grouped_by_source(projections, layout)
    types = {"source_lo": np.int64, "source_hi": np.int64, "row_offset": np.int64, "weight_varies": np.bool_,
             "weight_shift": np.int64, "weight_value": np.float32, "delay_varies": np.bool_,
             "delay_shift": np.int64, "delay_value": np.int64}
    arrays = Connectivity(
        indptr=_joined(tables["indptr"], np.int64), targets=_joined(tables["targets"], np.uint32),
        weights=_joined(tables["weights"], np.float32), delays=_joined(tables["delays"], np.int16),
        **{key: np.asarray(values, dtype=types[key]).reshape(-1) for key, values in info.items()},
        by_population=by_pop, order=order, population_of=layout.population_of())
    delays = [_delay_range(b) for b in built] or [(1, 1)]
    return Network(arrays, tuple(b.targets.size for b in built), min(d[0] for d in delays),
                   max(d[1] for d in delays))


def _delay_range(b: _Built) -> tuple[int, int]:
    if np.ndim(b.delay) == 0:
        return b.delay, b.delay
    return (int(b.delay.min()), int(b.delay.max())) if b.delay.size else (1, 1)


def _grouped_by_source(projections, layout):
    index = [layout.index(p.source) for p in projections]
    order = np.argsort(np.asarray(index, dtype=np.int64), kind="stable").astype(np.int64)
    counts = np.bincount(np.asarray(index, dtype=np.int64), minlength=len(layout.populations))
    return _rows(counts), order


def _joined(parts, dtype) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype)
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=dtype)
    out = np.concatenate(parts).astype(dtype, copy=False)
    parts.clear()
    return out
