"""Figures of a run: stacked panels that share the time axis.

Drawn on matplotlib's Agg canvas directly (no pyplot), so no window ever opens and
no global figure state is kept. A run of many neurons is shown as a raster of a sample
of them and the population rate, whatever panels its experiment names; its input
spikes only when they are few enough to read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import analysis
from .simulation.plan import FIGURE_RASTER_NEURONS, FIGURE_TRACES

#: At most this many neurons' traces are drawn in a trace panel.
MAX_TRACES = FIGURE_TRACES
#: At most this many neurons are drawn in a raster (a sample spread over the populations).
MAX_RASTER_NEURONS = FIGURE_RASTER_NEURONS
#: The input-spike raster is drawn only for at most this many input synapses.
MAX_INPUT_RASTER = 64
#: Width of the bins of the population rate, ms.
RATE_BIN_MS = 1.0
COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def panels_for(results, panels) -> tuple:
    """The panels a figure of ``results`` shows: those named, with a raster and the
    population rate first for a run of several neurons, and without an input-spike raster
    too large to read."""
    first = results[0]
    panels = tuple(panels)
    if "fi" in panels:
        return panels
    if first.n_neurons > 1:
        panels = tuple(p for p in ("raster", "rate") if p not in panels) + panels
    spikes = first.input_spikes
    if "input_spikes" in panels and spikes is not None and spikes["times_ms"].size:
        synapses = np.unique(spikes["neuron"] * (int(spikes["synapse"].max()) + 1) + spikes["synapse"]).size
        if synapses > MAX_INPUT_RASTER:
            panels = tuple(p for p in panels if p != "input_spikes")
    return panels


def figure(results, panels, title: str = "") -> Figure:
    """A figure with one panel per name in ``panels_for(results, panels)``, top to bottom.

    ``results`` is one run or a list of runs of one experiment (one per method); panels
    that show one run draw the first.
    """
    results = results if isinstance(results, (list, tuple)) else [results]
    panels = panels_for(results, panels)
    stacked = [p for p in panels if p not in ("fi", "cv")]
    fig = Figure(figsize=(8.0, 1.2 + (4.0 if panels == ("fi",) else 2.0) * len(panels)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    shared = [ax for ax, p in zip(axes, panels) if p in stacked]
    for ax in shared[1:]:
        ax.sharex(shared[0])
    for ax, panel in zip(axes, panels):
        PANELS[panel](ax, results)
    if shared:
        shared[-1].set_xlabel("time (ms)")
        shared[-1].set_xlim(0.0, results[0].config.duration_ms)
    if title:
        fig.suptitle(title)
    return fig


def new_axes(width: float = 8.0, height: float = 3.0):
    """One axes on a new Agg figure (no window, no pyplot state)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def save(results, panels, path: Path, title: str = "") -> Path:
    """Draw ``panels`` of ``results`` into a PNG file at ``path`` (atomically: the whole file or none)."""
    from .io.files import atomic_path

    with atomic_path(path) as temporary:
        figure(results, panels, title).savefig(temporary, dpi=120, format="png")
    return Path(path)


def _trace(ax, result, name, label):
    shown = result.recorded_neurons[:MAX_TRACES]
    for column, neuron in enumerate(shown):
        ax.plot(result.t_ms, result.traces[name][:, column], lw=1.0,
                label=f"neuron {neuron}" if len(shown) > 1 else None)
    ax.set_ylabel(label)
    if len(shown) > 1:
        ax.legend(fontsize="small", loc="upper right")


def _current(name, label):
    return lambda ax, results: _trace(ax, results[0], name, label)


def _potential(ax, results):
    result = results[0]
    _trace(ax, result, "u", "u (mV)")
    threshold = np.atleast_1d(result.config.layout.model.u_thresh)[0]
    ax.axhline(threshold, color="tab:red", ls="--", lw=1.0, label="u_thresh")
    shown = set(result.recorded_neurons[:MAX_TRACES].tolist())
    mask = np.isin(result.spike_neurons, list(shown))
    if mask.any():
        marker = threshold + 0.15 * max(abs(threshold), 1.0)
        ax.plot(result.spike_times_ms[mask], np.full(mask.sum(), marker), "v", color="tab:red", ms=5,
                label="spikes")
    ax.legend(fontsize="small", loc="upper left")


def _input_raster(ax, results):
    spikes = results[0].input_spikes
    if spikes is not None and spikes["times_ms"].size:
        m = max(int(spikes["synapse"].max()) + 1, 1)
        ax.plot(spikes["times_ms"], spikes["neuron"] * m + spikes["synapse"], "|", color="k", ms=6)
    ax.set_ylabel("input synapse")


def raster_sample(result, limit: int = MAX_RASTER_NEURONS) -> list[np.ndarray]:
    """Neurons drawn in the raster: per population, evenly spaced indices, at most ``limit``
    in all (shared in proportion to the populations' sizes, at least one each)."""
    spans = result.config.layout.spans()
    total = result.n_neurons
    out = []
    for lo, hi in spans:
        share = max(1, min(hi - lo, round(limit * (hi - lo) / total)))
        out.append(np.unique(np.linspace(lo, hi - 1, share).round().astype(np.int64)))
    return out


def _output_raster(ax, results):
    result = results[0]
    populations = result.config.layout.populations
    sample = raster_sample(result)
    dense = sum(neurons.size for neurons in sample) > 100
    row = 0
    for population, neurons, color in zip(populations, sample, COLORS * len(populations)):
        mask = np.isin(result.spike_neurons, neurons)
        rows = row + np.searchsorted(neurons, result.spike_neurons[mask])
        ax.plot(result.spike_times_ms[mask], rows, "." if dense else "|", color=color, ms=1.5 if dense else 4,
                label=population.name if len(populations) > 1 else None)
        row += neurons.size
    sampled = row < result.n_neurons
    ax.set_ylabel(f"neuron ({row} of {result.n_neurons})" if sampled else "neuron")
    ax.set_ylim(-0.5, max(row, 1) - 0.5)
    if len(populations) > 1:
        ax.legend(fontsize="small", loc="upper right", markerscale=4)


def _population_rate(ax, results):
    result = results[0]
    for population, (lo, hi), color in zip(result.config.layout.populations, result.config.layout.spans(), COLORS):
        inside = (result.spike_neurons >= lo) & (result.spike_neurons < hi)
        edges, rate = analysis.psth(result.spike_times_ms[inside], hi - lo, RATE_BIN_MS, 0.0, result.config.end_ms)
        ax.step(edges[:-1], rate, where="post", lw=0.8, color=color, label=population.name)
    ax.set_ylabel(f"rate (Hz, {RATE_BIN_MS:g} ms bins)")
    if len(result.config.layout.populations) > 1:
        ax.legend(fontsize="small", loc="upper right")


def _cv_histogram(ax, results):
    result = results[0]
    cv = result.cv()
    bins = np.linspace(0.0, max(1.5, float(np.nanmax(cv)) if np.isfinite(cv).any() else 1.5), 40)
    for population, (lo, hi), color in zip(result.config.layout.populations, result.config.layout.spans(), COLORS):
        values = cv[lo:hi][np.isfinite(cv[lo:hi])]
        ax.hist(values, bins, histtype="step", color=color, label=f"{population.name} ({values.size} neurons)")
    ax.set_xlabel("CV of the inter-spike intervals")
    ax.set_ylabel("neurons")
    ax.legend(fontsize="small", loc="upper right")


def _fi_curve(ax, results):
    """Measured rate against current for each run, with the closed form over it."""
    curve = fi_data(results)
    fine = np.linspace(curve["currents_mA"].min(), curve["currents_mA"].max(), 800)
    ax.plot(fine, analysis.predicted_rate(fine, results[0].config.model, results[0].config.method), "-",
            color="k", lw=1.2, label="closed form: 1000 / (tau_rest + tau_m ln(RI / (RI - u_thresh)))")
    for marker, (method, rates) in zip("os^", curve["rates_hz"].items()):
        ax.plot(curve["currents_mA"], rates, marker, ms=4, mfc="none", label=f"measured, method {method}")
    ax.set_xlabel("current I (mA)")
    ax.set_ylabel("firing rate (Hz)")
    ax.legend(fontsize="small", loc="upper left")


def fi_data(results) -> dict:
    """The f–I curve of runs with one constant current per neuron: currents (mA), measured
    steady-state rates and closed-form rates per method (Hz)."""
    first = results[0]
    constant = next(s for s in first.config.stimuli if s.kind == "constant")
    currents = np.broadcast_to(np.asarray(constant.amplitude, dtype=float), (first.n_neurons,))
    measured, predicted = {}, {}
    for result in results:
        method = result.config.method
        steady = result.interval_rates()
        measured[method] = np.where(np.isnan(steady), result.firing_rates(), steady)
        predicted[method] = analysis.predicted_rate(currents, result.config.model, method)
    return {"currents_mA": currents, "rates_hz": measured, "predicted_hz": predicted}


PANELS = {
    "input_spikes": _input_raster,
    "i_in": _current("i_in", "I (mA)"),
    "i_syn": _current("i_syn", "I_syn (mA)"),
    "u": _potential,
    "raster": _output_raster,
    "rate": _population_rate,
    "cv": _cv_histogram,
    "fi": _fi_curve,
}
