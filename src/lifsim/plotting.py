"""Figures of a run: stacked panels that share the time axis.

Drawn on matplotlib's Agg canvas directly (no pyplot), so no window ever opens and
no global figure state is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: At most this many neurons' traces are drawn in a trace panel.
MAX_TRACES = 8


def figure(result, panels, title: str = "") -> Figure:
    """A figure with one panel per name in ``panels``, top to bottom."""
    fig = Figure(figsize=(8.0, 1.2 + 2.0 * len(panels)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        PANELS[panel](ax, result)
    axes[-1].set_xlabel("time (ms)")
    axes[-1].set_xlim(0.0, result.config.duration_ms)
    if title:
        fig.suptitle(title)
    return fig


def save(result, panels, path: Path, title: str = "") -> Path:
    """Draw ``panels`` of ``result`` into a PNG file at ``path``."""
    figure(result, panels, title).savefig(path, dpi=120)
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
    return lambda ax, result: _trace(ax, result, name, label)


def _potential(ax, result):
    _trace(ax, result, "u", "u (mV)")
    threshold = np.atleast_1d(result.config.model.u_thresh)[0]
    ax.axhline(threshold, color="tab:red", ls="--", lw=1.0, label="u_thresh")
    shown = set(result.recorded_neurons[:MAX_TRACES].tolist())
    mask = np.isin(result.spike_neurons, list(shown))
    if mask.any():
        ax.plot(result.spike_times_ms[mask], np.full(mask.sum(), threshold * 1.15), "v", color="tab:red",
                ms=5, label="spikes")
    ax.legend(fontsize="small", loc="upper left")


def _input_raster(ax, result):
    spikes = result.input_spikes
    if spikes is not None and spikes["times_ms"].size:
        m = max(int(spikes["synapse"].max()) + 1, 1)
        ax.plot(spikes["times_ms"], spikes["neuron"] * m + spikes["synapse"], "|", color="k", ms=6)
    ax.set_ylabel("input synapse")


def _output_raster(ax, result):
    ax.plot(result.spike_times_ms, result.spike_neurons, "|", color="k", ms=4)
    ax.set_ylabel("neuron")


PANELS = {
    "input_spikes": _input_raster,
    "i_in": _current("i_in", "I (mA)"),
    "i_syn": _current("i_syn", "I_syn (mA)"),
    "u": _potential,
    "raster": _output_raster,
}
