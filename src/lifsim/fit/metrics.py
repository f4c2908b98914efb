"""Scores comparing a model's output to a recording: voltage error and spike-train similarity.

Units: times ms, potentials mV. Each score's name, unit and direction (whether lower or
higher is better) is in `METRICS`, so a fit can report them uniformly.

References:
    Kistler, Gerstner & van Hemmen (1997), Reduction of the Hodgkin-Huxley equations to a
    single-variable threshold model, Neural Computation 9:1015-1045.
    Jolivet, Kobayashi, Rauch, Naud, Shinomoto & Gerstner (2008), A benchmark test for a
    quantitative assessment of simple neuron models, J. Neurosci. Methods 169:417-424.
    van Rossum (2001), A novel spike distance, Neural Computation 13:751-763.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, as_numbers, require_range


@dataclass(frozen=True)
class MetricInfo:
    """What a score means.

    Attributes:
        name: the key in `METRICS`.
        description: one line for reports.
        units: the score's unit (``"mV²"``, ``"1"`` for dimensionless).
        direction: ``"lower"`` or ``"higher"``: which scores are better.
        best: the best possible value (0 for distances, 1 for the gamma factor).
    """

    name: str
    description: str
    units: str
    direction: str
    best: float


METRICS = {
    "mse": MetricInfo("mse", "mean squared error of the membrane potential", "mV²", "lower", 0.0),
    "gamma": MetricInfo("gamma", "coincidence factor of the spike trains (1 is perfect, 0 is chance)", "1",
                        "higher", 1.0),
    "van_rossum": MetricInfo("van_rossum", "van Rossum distance of the spike trains", "1", "lower", 0.0),
}


def score_direction(name: str) -> str:
    """``"lower"`` or ``"higher"``: which values of the score ``name`` are better."""
    if name not in METRICS:
        raise ParameterError(f"metric must be one of {', '.join(METRICS)} (got {name!r})")
    return METRICS[name].direction


# ------------------------------------------------------------------ voltage

def voltage_mse(model_mV: np.ndarray, data_mV: np.ndarray) -> float | np.ndarray:
    """Mean squared error of membrane potentials, mV².

    MSE = (1/K) Σ_k (u_model[k] − u_data[k])², over the K samples.

    Args:
        model_mV: the model's potential, mV, shape (steps,) or (candidates, steps).
        data_mV: the recorded potential, mV, shape (steps,), finite.

    Returns:
        A float for one trace, else an array (candidates,). A candidate with a NaN or
        infinite sample (a diverged model) scores ``inf``, the worst, so that ranking by
        the score never picks it.

    Raises:
        ParameterError: shapes that do not match, or a non-finite data sample.
    """
    model = as_numbers("model_mV", model_mV)
    data = as_numbers("data_mV", data_mV)
    if data.ndim != 1 or model.ndim not in (1, 2) or model.shape[-1] != data.shape[0] or data.size == 0:
        raise ParameterError(f"model_mV must have shape (steps,) or (candidates, steps) matching data_mV's (steps,) "
                             f"with steps > 0 (got {model.shape} and {data.shape})")
    if not np.all(np.isfinite(data)):
        raise ParameterError("data_mV must be finite (got NaN or inf)")
    with np.errstate(over="ignore", invalid="ignore"):
        error = np.mean(np.square(model - data), axis=-1)
    error = np.where(np.isfinite(error), error, np.inf)
    return float(error) if model.ndim == 1 else error


# ------------------------------------------------------------------ gamma factor

def gamma_factor(model_ms: np.ndarray, data_ms: np.ndarray, duration_ms: float, window_ms: float = 2.0) -> float:
    """Coincidence factor Γ of a model spike train against the recorded one (dimensionless).

    Γ = (N_coinc − ⟨N_coinc⟩) / (½ (N_data + N_model)) · 1/𝒩, with

    * N_coinc: data spikes with a model spike within ±Δ (``window_ms``, closed window),
      each model spike matched to at most one data spike (see below);
    * ⟨N_coinc⟩ = 2 ν_model Δ N_data: the coincidences expected by chance from a Poisson
      train with the model's rate (Kistler et al. 1997; Jolivet et al. 2008);
    * 𝒩 = 1 − 2 ν_data Δ, with the data's rate, as brian2modelfitting's GammaFactor
      normalises: it is fixed by the recording (never ≤ 0 for a candidate firing fast), and Γ
      stays ≤ 1, reached when the trains coincide;
    * ν = N / duration (spikes per ms).

    Γ is 1 for identical trains, ≈ 0 on average for a train independent of the data (at any
    rates), negative below chance. It is not symmetric in model and data.

    Matching: the data and model spikes are paired greedily in time order, each data spike
    with the earliest unpaired model spike within ±Δ. With one window width for all spikes
    this pairing is a maximum one-to-one matching, so a model burst cannot score several
    coincidences on one data spike nor one model spike on a data burst (Kistler et al.
    1997 count each model spike once). brian2modelfitting instead counts the data spikes
    whose nearest model spike is within Δ, which lets one model spike serve two data spikes;
    the two agree when Δ is under half of every inter-spike interval.

    Edge cases: both trains empty → 1.0 (the model reproduces a silent recording exactly;
    the formula is 0/0 there, and brian2modelfitting returns NaN). One empty → the formula's
    value, 0.0: no data spikes gives N_coinc = ⟨N_coinc⟩ = 0; no model spikes gives ν_model = 0.

    Args:
        model_ms: model spike times, ms (any order).
        data_ms: recorded spike times, ms (any order).
        duration_ms: length of the recording, ms (> 0); sets the rates.
        window_ms: Δ, ms (> 0); 2·ν_data·Δ must be < 1.

    Returns:
        Γ, a float ≤ 1.
    """
    data, duration, window = _gamma_setup(data_ms, duration_ms, window_ms)
    return float(_gamma(_train("model_ms", model_ms), data, duration, window))


def gamma_factors(model_spike_lists: list, data_ms: np.ndarray, duration_ms: float,
                  window_ms: float = 2.0) -> np.ndarray:
    """`gamma_factor` of each candidate's spike train against the same data.

    Args:
        model_spike_lists: a sequence of spike-time arrays, ms, one per candidate.
        data_ms: recorded spike times, ms, as in `gamma_factor`.
        duration_ms: length of the recording, ms, as in `gamma_factor`.
        window_ms: Δ, ms, as in `gamma_factor`.

    Returns:
        Γ per candidate, float64 array (candidates,).
    """
    data, duration, window = _gamma_setup(data_ms, duration_ms, window_ms)
    return np.array([_gamma(_train(f"model_spike_lists[{i}]", model), data, duration, window)
                     for i, model in enumerate(model_spike_lists)], dtype=np.float64)


def _gamma_setup(data_ms, duration_ms, window_ms):
    require_range("duration_ms", duration_ms, low=0.0, low_open=True, unit="ms")
    require_range("window_ms", window_ms, low=0.0, low_open=True, unit="ms")
    data = _train("data_ms", data_ms)
    duration, window = float(duration_ms), float(window_ms)
    if 2.0 * data.size / duration * window >= 1.0:  # 𝒩 ≤ 0: chance alone would fill every window
        raise ParameterError(f"window_ms must be < 1/(2·data rate) = {duration / (2.0 * data.size):g} ms "
                             f"(got {window:g}); shorten the window")
    return data, duration, window


def _gamma(model: np.ndarray, data: np.ndarray, duration: float, window: float) -> float:
    if model.size == 0 and data.size == 0:
        return 1.0
    n_model, n_data = model.size, data.size
    expected = 2.0 * (n_model / duration) * window * n_data
    norm = 1.0 - 2.0 * (n_data / duration) * window
    return (coincidences(model, data, window) - expected) / (0.5 * (n_data + n_model) * norm)


def coincidences(model_ms, data_ms, window_ms: float) -> int:
    """Number of data spikes paired one-to-one with a model spike within ±window_ms (closed).

    Both trains sorted, ms. Greedy in time order: each data spike takes the earliest
    unpaired model spike in [t − Δ, t + Δ]; as all windows have one width, no other pairing
    has more pairs.
    """
    model, data = np.asarray(model_ms, dtype=float), np.asarray(data_ms, dtype=float)
    lo = np.searchsorted(model, data - window_ms, side="left")
    hi = np.searchsorted(model, data + window_ms, side="right")
    # Fast path: every window holds at most one model spike and no two windows share one,
    # so nothing is contested and the count is the number of non-empty windows.
    if np.all(hi - lo <= 1) and np.all(lo[1:] >= hi[:-1]):
        return int(np.count_nonzero(hi > lo))
    count, next_free = 0, 0
    for first, stop in zip(lo.tolist(), hi.tolist()):
        candidate = max(next_free, first)
        if candidate < stop:
            count += 1
            next_free = candidate + 1
    return count


def _train(name: str, times) -> np.ndarray:
    array = as_numbers(name, times)
    if array.ndim != 1:
        raise ParameterError(f"{name} must be a one-dimensional array of spike times, ms (got shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise ParameterError(f"{name} must hold finite spike times, ms (got NaN or inf)")
    return np.sort(array)


# ------------------------------------------------------------------ van Rossum

def van_rossum_distance(a_ms: np.ndarray, b_ms: np.ndarray, tau_ms: float = 10.0,
                        duration_ms: float | None = None) -> float:
    """van Rossum (2001) distance between two spike trains (dimensionless).

    Each train is filtered with the causal kernel exp(−t/τ)·H(t) and
    D² = (1/τ) ∫ (f_a(t) − f_b(t))² dt. Integrated over all t ≥ 0 this has the closed form

        D² = ½ [Σ_ij e^(−|a_i−a_j|/τ) + Σ_ij e^(−|b_i−b_j|/τ) − 2 Σ_ij e^(−|a_i−b_j|/τ)],

    since (1/τ) ∫ e^(−(t−s)/τ) e^(−(t−r)/τ) dt over t ≥ max(s, r) is ½ e^(−|s−r|/τ).

    Normalisation: this is the paper's (one spike against none: D² = ½, D = 1/√2; two
    spikes far apart (≫ τ) against none: D = 1). elephant's
    ``spike_train_dissimilarity.van_rossum_distance`` omits the ½ (one spike against none
    gives 1): it returns √2 times this value.

    Args:
        a_ms: one train's spike times, ms (any order).
        b_ms: the other's, ms (any order).
        tau_ms: τ, ms (> 0).
        duration_ms: if given, integrate only up to this time, the end of the recording
            (each pair's term is then multiplied by 1 − e^(−2(T − max(s, r))/τ)), so a spike
            near the end, whose filtered trace is cut off, weighs less; spikes must lie in
            [0, T]. None: integrate to infinity (the paper's and elephant's definition).

    Returns:
        D, a float ≥ 0.

    Cost: one exponential per pair of spikes closer than 60·τ (farther pairs add less than
    e^(−60) each and are left out): O((n + m) log(n + m)) for sparse trains, at worst O(n·m),
    evaluated in blocks of bounded memory.
    """
    require_range("tau_ms", tau_ms, low=0.0, low_open=True, unit="ms")
    a, b = _train("a_ms", a_ms), _train("b_ms", b_ms)
    end = None
    if duration_ms is not None:
        require_range("duration_ms", duration_ms, low=0.0, low_open=True, unit="ms")
        end = float(duration_ms)
        for name, train in (("a_ms", a), ("b_ms", b)):
            if train.size and (train[0] < 0 or train[-1] > end):
                raise ParameterError(f"{name} must lie within [0, {end:g}] ms, the duration (got {train[0]:g} to "
                                     f"{train[-1]:g} ms)")
    tau = float(tau_ms)
    squared = 0.5 * (_kernel_sum(a, a, tau, end) + _kernel_sum(b, b, tau, end) - 2.0 * _kernel_sum(a, b, tau, end))
    return float(np.sqrt(max(squared, 0.0)))  # rounding can leave −ε for identical trains


#: Pairs farther apart than this many τ are left out of the sums: each would add less than
#: e^(−60) ≈ 1e-26 of what a coincident pair adds, below the rounding of any sum it enters.
_REACH_TAUS = 60.0
#: Pairs evaluated at once: bounds the temporary arrays to ~2**22 entries each.
_BLOCK_ENTRIES = 1 << 22


def _kernel_sum(x: np.ndarray, y: np.ndarray, tau: float, end: float | None) -> float:
    """Σ_ij e^(−|x_i − y_j|/τ) over sorted x, y, each term cut by 1 − e^(−2(end − max)/τ) when
    end is given; only pairs within `_REACH_TAUS`·τ are evaluated, in blocks of rows."""
    if x.size == 0 or y.size == 0:
        return 0.0
    reach = _REACH_TAUS * tau
    lo = np.searchsorted(y, x - reach, side="left")
    counts = np.searchsorted(y, x + reach, side="right") - lo
    ends = np.cumsum(counts)
    total, first = 0.0, 0
    while first < x.size:
        # the rows whose pairs fit in one block, at least one row
        before = ends[first] - counts[first]
        stop = max(first + 1, int(np.searchsorted(ends, before + _BLOCK_ENTRIES, side="right")))
        rows = np.repeat(np.arange(first, stop), counts[first:stop])
        cols = lo[rows] + (np.arange(rows.size) - (ends[rows] - counts[rows] - before))
        xi, yj = x[rows], y[cols]
        term = np.exp(-np.abs(xi - yj) / tau)
        if end is not None:
            term *= -np.expm1(-2.0 * (end - np.maximum(xi, yj)) / tau)
        total += float(term.sum())
        first = stop
    return total
