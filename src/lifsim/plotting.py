"""Figures of a run: stacked panels that share the time axis.

Drawn on matplotlib's Agg canvas directly (no pyplot), so no window ever opens and
no global figure state is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import analysis

#: At most this many neurons' traces are drawn in a trace panel.
MAX_TRACES = 8


def figure(results, panels, title: str = "") -> Figure:
    """A figure with one panel per name in ``panels``, top to bottom.

    ``results`` is one run or a list of runs of one experiment (one per method); panels
    that show one run draw the first.
    """
    results = results if isinstance(results, (list, tuple)) else [results]
    fig = Figure(figsize=(8.0, 1.2 + (4.0 if panels == ("fi",) else 2.0) * len(panels)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=panels != ("fi",), squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        PANELS[panel](ax, results)
    if "fi" not in panels:
        axes[-1].set_xlabel("time (ms)")
        axes[-1].set_xlim(0.0, results[0].config.duration_ms)
    if title:
        fig.suptitle(title)
    return fig


def new_axes(width: float = 8.0, height: float = 3.0):
    """One axes on a new Agg figure (no window, no pyplot state)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def save(results, panels, path: Path, title: str = "") -> Path:
    """Draw ``panels`` of ``results`` into a PNG file at ``path``."""
    figure(results, panels, title).savefig(path, dpi=120)
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
    threshold = np.atleast_1d(result.config.model.u_thresh)[0]
    ax.axhline(threshold, color="tab:red", ls="--", lw=1.0, label="u_thresh")
    shown = set(result.recorded_neurons[:MAX_TRACES].tolist())
    mask = np.isin(result.spike_neurons, list(shown))
    if mask.any():
        ax.plot(result.spike_times_ms[mask], np.full(mask.sum(), threshold * 1.15), "v", color="tab:red",
                ms=5, label="spikes")
    ax.legend(fontsize="small", loc="upper left")


def _input_raster(ax, results):
    spikes = results[0].input_spikes
    if spikes is not None and spikes["times_ms"].size:
        m = max(int(spikes["synapse"].max()) + 1, 1)
        ax.plot(spikes["times_ms"], spikes["neuron"] * m + spikes["synapse"], "|", color="k", ms=6)
    ax.set_ylabel("input synapse")


def _output_raster(ax, results):
    analysis.raster(ax, results[0].spike_times_ms, results[0].spike_neurons)
    ax.set_xlabel("")


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
    "fi": _fi_curve,
}
