"""The explorer's figures as data: the panels of `lifsim.plotting`, for the page to draw.

Each panel is a JSON-ready dict with its ``panel`` name, ``kind`` (``lines``, ``raster``,
``steps`` or ``fi``), axis labels and numbers; the page draws them with uPlot as
`lifsim.plotting` draws the PNG files (the same panels, order, labels and samples).
"""

from __future__ import annotations

import numpy as np

from .. import analysis
from ..plotting import MAX_TRACES, RATE_BIN_MS, fi_data, panels_for, raster_sample

#: Points per drawn trace at most: longer traces are drawn as the minimum and maximum of
#: each of this many/2 bins, which keeps every peak and trough (a screen shows no more).
MAX_POINTS = 4000
#: Closed-form points of the f–I curve (as `lifsim.plotting` draws it).
FI_POINTS = 800
LABELS = {"i_in": "I (mA)", "i_syn": "I_syn (mA)", "u": "u (mV)"}


def panels(exp, results) -> list[dict]:
    """The panels of a run's figure, top to bottom, as the PNG file of `lifsim run` has them."""
    return [BUILDERS[name](results) for name in panels_for(results, exp.panels)]


def _traces(result, name: str) -> dict:
    shown = result.recorded_neurons[:MAX_TRACES]
    t, columns = envelope(result.t_ms, result.traces[name][:, :len(shown)])
    series = [{"label": f"neuron {n}" if len(shown) > 1 else name, "y": _list(columns[:, j])}
              for j, n in enumerate(shown.tolist())]
    return {"kind": "lines", "x": _list(t), "series": series, "ylabel": LABELS[name]}


def envelope(t: np.ndarray, values: np.ndarray, limit: int = MAX_POINTS):
    """``t`` and the columns of ``values`` (samples, columns) at most about ``limit`` points
    long: unchanged when they fit, else each bin of samples as its minimum and its maximum
    (at the bin's start and middle), so that no spike's peak is lost."""
    if t.size <= limit:
        return t, values
    width = -(-t.size // (limit // 2))
    bins = t.size // width
    head = values[:bins * width].reshape(bins, width, -1)
    x = np.stack([t[:bins * width:width], t[width // 2:bins * width:width]], axis=1).reshape(-1)
    y = np.stack([head.min(axis=1), head.max(axis=1)], axis=1).reshape(2 * bins, -1)
    return np.concatenate([x, t[bins * width:]]), np.concatenate([y, values[bins * width:]])


def _current(name):
    return lambda results: {"panel": name, **_traces(results[0], name)}


def _potential(results) -> dict:
    result = results[0]
    out = {"panel": "u", **_traces(result, "u")}
    threshold = float(np.atleast_1d(result.config.layout.model.u_thresh)[0])
    shown = result.recorded_neurons[:MAX_TRACES]
    mask = np.isin(result.spike_neurons, shown)
    out["threshold"] = threshold
    out["spikes"] = {"x": _times(result.spike_times_ms[mask]), "neuron": result.spike_neurons[mask].tolist(),
                     "y": threshold + 0.15 * max(abs(threshold), 1.0)}
    return out


def _input_raster(results) -> dict:
    spikes = results[0].input_spikes
    groups = []
    if spikes is not None and spikes["times_ms"].size:
        m = max(int(spikes["synapse"].max()) + 1, 1)
        groups.append({"label": "input spikes", "x": _times(spikes["times_ms"]),
                       "y": (spikes["neuron"] * m + spikes["synapse"]).tolist()})
    return {"panel": "input_spikes", "kind": "raster", "groups": groups, "ylabel": "input synapse"}


def _output_raster(results) -> dict:
    result = results[0]
    groups, row = [], 0
    for population, neurons in zip(result.config.layout.populations, raster_sample(result)):
        mask = np.isin(result.spike_neurons, neurons)
        rows = row + np.searchsorted(neurons, result.spike_neurons[mask])
        groups.append({"label": population.name, "x": _times(result.spike_times_ms[mask]), "y": rows.tolist()})
        row += neurons.size
    label = f"neuron ({row} of {result.n_neurons})" if row < result.n_neurons else "neuron"
    return {"panel": "raster", "kind": "raster", "groups": groups, "ylabel": label, "rows": row}


def _population_rate(results) -> dict:
    result, series, x = results[0], [], []
    for population, (lo, hi) in zip(result.config.layout.populations, result.config.layout.spans()):
        inside = (result.spike_neurons >= lo) & (result.spike_neurons < hi)
        edges, rate = analysis.psth(result.spike_times_ms[inside], hi - lo, RATE_BIN_MS, 0.0, result.config.end_ms)
        x = edges[:-1]
        series.append({"label": population.name, "y": _list(rate)})
    return {"panel": "rate", "kind": "steps", "x": _list(x), "series": series,
            "ylabel": f"rate (Hz, {RATE_BIN_MS:g} ms bins)"}


def _cv_histogram(results) -> dict:
    result = results[0]
    cv = result.cv()
    top = max(1.5, float(np.nanmax(cv)) if np.isfinite(cv).any() else 1.5)
    bins = np.linspace(0.0, top, 40)
    series = []
    for population, (lo, hi) in zip(result.config.layout.populations, result.config.layout.spans()):
        values = cv[lo:hi][np.isfinite(cv[lo:hi])]
        counts, _ = np.histogram(values, bins)
        series.append({"label": f"{population.name} ({values.size} neurons)", "y": counts.tolist() + [0]})
    return {"panel": "cv", "kind": "steps", "x": _list(bins), "series": series, "ylabel": "neurons",
            "xlabel": "CV of the inter-spike intervals"}


def _fi_curve(results) -> dict:
    curve = fi_data(results)
    currents = curve["currents_mA"]
    fine = np.linspace(currents.min(), currents.max(), FI_POINTS)
    closed = analysis.predicted_rate(fine, results[0].config.model, results[0].config.method)
    return {"panel": "fi", "kind": "fi", "ylabel": "firing rate (Hz)", "xlabel": "current I (mA)",
            "closed_form": {"label": "closed form: 1000 / (tau_rest + tau_m ln(RI / (RI - u_thresh)))",
                            "x": _list(fine), "y": _list(closed)},
            "measured": [{"label": f"measured, method {method}", "y": _list(rates)}
                         for method, rates in curve["rates_hz"].items()],
            "x": _list(currents)}


def _times(times_ms) -> list:
    """Spike times as ``lifsim run``'s JSON has them (to 1e-9 ms: k·dt in binary floating
    point is 0.30000000000000004)."""
    return np.round(times_ms, 9).tolist()


def _list(values) -> list:
    """Floats for JSON (NaN and infinities, which JSON lacks, as null: a gap in the figure)."""
    values = np.asarray(values, dtype=float)
    out = values.tolist()
    if not np.isfinite(values).all():
        out = [v if np.isfinite(v) else None for v in out]
    return out


BUILDERS = {
    "input_spikes": _input_raster,
    "i_in": _current("i_in"),
    "i_syn": _current("i_syn"),
    "u": _potential,
    "raster": _output_raster,
    "rate": _population_rate,
    "cv": _cv_histogram,
    "fi": _fi_curve,
}
