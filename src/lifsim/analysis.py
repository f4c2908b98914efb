"""Spike-train analysis, vectorised over sparse (time, neuron) events.

Every function takes the spike times (ms) and neuron indices of a run, as
`lifsim.Result` keeps them, and the population size; none loops over neurons in
Python. Units: times and intervals in ms, rates in Hz, the coefficient of variation
is dimensionless.
"""

from __future__ import annotations

import numpy as np


def spike_counts(times_ms, neurons, n_neurons: int, start_ms: float = 0.0, stop_ms: float = np.inf) -> np.ndarray:
    """Spikes per neuron with ``start <= t <= stop`` (ms), the span of a neo SpikeTrain from
    t_start to t_stop (with method "exact" a spike may fall on the run's last instant);
    shape (n_neurons,), int64."""
    times_ms, neurons = np.asarray(times_ms, dtype=float), np.asarray(neurons, dtype=np.int64)
    inside = (times_ms >= start_ms) & (times_ms <= stop_ms)
    return np.bincount(neurons[inside], minlength=n_neurons).astype(np.int64)


def firing_rates(times_ms, neurons, n_neurons: int, start_ms: float, stop_ms: float) -> np.ndarray:
    """Mean firing rate per neuron over ``[start, stop]``, Hz: spikes / (stop - start)."""
    return spike_counts(times_ms, neurons, n_neurons, start_ms, stop_ms) / ((stop_ms - start_ms) * 1e-3)


def interspike_intervals(times_ms, neurons) -> tuple[np.ndarray, np.ndarray]:
    """All inter-spike intervals (ms) and the neuron of each, grouped by neuron, in time order."""
    times_ms, neurons = np.asarray(times_ms, dtype=float), np.asarray(neurons, dtype=np.int64)
    order = np.lexsort((times_ms, neurons))
    t, n = times_ms[order], neurons[order]
    same = n[1:] == n[:-1]
    return np.diff(t)[same], n[1:][same]


def isi_statistics(times_ms, neurons, n_neurons: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per neuron: number of intervals, mean interval (ms) and its population standard
    deviation (ms); NaN where a neuron has no interval."""
    isi, owner = interspike_intervals(times_ms, neurons)
    count = np.bincount(owner, minlength=n_neurons)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=isi, minlength=n_neurons) / count
        spread = np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=n_neurons) / count
    return count, mean, np.sqrt(spread)


def coefficient_of_variation(times_ms, neurons, n_neurons: int) -> np.ndarray:
    """CV of the inter-spike intervals per neuron: std/mean (population std, ddof 0); NaN
    for neurons with fewer than two intervals."""
    count, mean, std = isi_statistics(times_ms, neurons, n_neurons)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 2, std / mean, np.nan)


def interval_rates(times_ms, neurons, n_neurons: int) -> np.ndarray:
    """Rate from the mean inter-spike interval per neuron, Hz (1000 / mean ISI); NaN for
    neurons with fewer than two spikes. The steady-state rate, free of the first
    interval's start-up."""
    count, mean, _ = isi_statistics(times_ms, neurons, n_neurons)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 1, 1000.0 / mean, np.nan)


def psth(times_ms, n_neurons: int, bin_ms: float, start_ms: float, stop_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Population rate histogram: bin edges (ms) and the mean rate per neuron in each
    bin, Hz (spikes / (neurons · bin width)). Bins are half-open but the last, which is
    closed and may be narrower."""
    if not bin_ms > 0:
        raise ValueError(f"bin_ms must be > 0 ms (got {bin_ms})")
    edges = np.arange(start_ms, stop_ms, bin_ms)
    if edges.size > 1 and stop_ms - edges[-1] <= 1e-9 * bin_ms:  # stop on the grid, up to rounding
        edges = edges[:-1]
    edges = np.append(edges, stop_ms)
    counts, _ = np.histogram(np.asarray(times_ms), edges)
    return edges, counts / (n_neurons * np.diff(edges) * 1e-3)


def raster(ax, times_ms, neurons, **style):
    """Draw a spike raster (time in ms against neuron index) on a matplotlib axes."""
    ax.plot(times_ms, neurons, "|", color=style.pop("color", "k"), ms=style.pop("ms", 4), **style)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    return ax


def predicted_rate(current_mA, params, method: str = "exact") -> np.ndarray:
    """Closed-form firing rate under a constant current, Hz.

    ``1000 / (tau_rest + tau_m·ln((u_rest + R·I - u_reset) / (u_rest + R·I - u_thresh)))`` for the
    exact model (``u`` relaxes to ``u_rest + R·I`` from ``u_reset``) and
    ``1000 / (tau_rest + tau_m·ln((R·I - u_reset) / (R·I - u_thresh)))`` for the article's
    model (``u`` relaxes to ``R·I``); both are the article's formula at ``u_rest = u_reset = 0``.
    0 Hz where the neuron never reaches threshold.
    """
    current = np.asarray(current_mA, dtype=float)
    u_rest, u_thresh = np.asarray(params.u_rest, float), np.asarray(params.u_thresh, float)
    u_reset = np.asarray(params.reset, float)
    drive = np.asarray(params.R, float) * current
    if method == "exact":
        start, end = drive + (u_rest - u_reset), drive - (u_thresh - u_rest)
    else:
        start, end = drive - u_reset, drive - u_thresh
    fires = end > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # an infinite period: 0 Hz
        period = np.asarray(params.tau_rest, float) + np.asarray(params.tau_m, float) * np.log(start / end)
        return np.where(fires, 1000.0 / period, 0.0)
