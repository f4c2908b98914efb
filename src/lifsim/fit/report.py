"""A fit's files: fit.json (parameters, scores, loss history, spread), fit.toml (an
experiment file that reruns the fitted neuron on the recording's current) and fit.png
(data against model: the trace, the spikes, the error over time, the loss history)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io.experiment_file import render_config
from ..io.files import atomic_path, write_text
from .fitting import FitResult
from .options import spike_trace
from ..neuron.rule import METHOD_TABLE

FILES = ("fit.json", "fit.toml", "fit.png")


def save(result: FitResult, folder) -> list[Path]:
    """Write the fit's files into ``folder`` (created if needed); returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_text(folder / "fit.json", json.dumps(result.summary(), indent=1) + "\n"),
             write_text(folder / "fit.toml", experiment_text(result))]
    figure = draw(result)
    with atomic_path(folder / "fit.png") as temporary:
        FigureCanvasAgg(figure).print_png(temporary)
    return paths + [folder / "fit.png"]


def experiment_text(result: FitResult) -> str:
    """The fitted neuron as an experiment file: ``lifsim run fit.toml`` gives the fit's run."""
    fitted = ", ".join(f"{k} = {v:.6g} {result.units[k]}" for k, v in result.parameters.items())
    header = (f"# lifsim fit of {result.data.source}: {fitted}\n"
              f"# {result.metric}: train {result.train_score:.6g}, held out {result.test_score:.6g}\n")
    return header + render_config(result.config)


def draw(result: FitResult) -> Figure:
    """Data against model over the whole recording, the held-out part shaded."""
    figure = Figure(figsize=(9.0, 10.5), layout="constrained")
    axes = figure.subplots(5, 1)
    data = result.data
    t = np.arange(data.steps) * data.dt_ms
    split_ms = result.split_step * data.dt_ms
    _trace_panel(axes[0], result, t)
    _spike_panel(axes[1], result)
    _error_panel(axes[2], result, t)
    for ax in axes[:3]:
        ax.axvspan(split_ms, data.duration_ms, color="0.92", zorder=0)
        ax.set_xlim(0, data.duration_ms)
    axes[2].set_xlabel("t (ms); shaded: held out")
    _history_panel(axes[3], result)
    _refine_panel(axes[4], result)
    fitted = ", ".join(f"{k} = {v:.4g} {result.units[k]}" for k, v in result.parameters.items())
    figure.suptitle(f"{fitted}\n{result.metric}: train {result.train_score:.4g}, held out {result.test_score:.4g}",
                    fontsize=9)
    return figure


def _trace_panel(ax, result, t):
    u = result.result.traces["u"][:, 0]
    if result.data.voltage is not None:
        ax.plot(t, result.data.voltage, color="black", lw=0.8, label="data")
    ax.plot(t, u, color="tab:red", lw=0.8, alpha=0.8, label="model")
    ax.axhline(float(np.asarray(result.model.u_thresh)), color="tab:gray", ls="--", lw=0.7, label="u_thresh")
    ax.set_ylabel("u (mV)")
    ax.legend(loc="upper right", fontsize=7, ncol=3)


def _spike_panel(ax, result):
    data = result.data.spike_times_ms
    if data is not None:
        ax.eventplot([data], lineoffsets=1, colors="black", linelengths=0.8)
    ax.eventplot([result.result.spike_times_ms], lineoffsets=0, colors="tab:red", linelengths=0.8)
    ax.set_yticks([0, 1], ["model", "data"] if data is not None else ["model", ""])
    ax.set_ylim(-0.7, 1.7)
    ax.set_ylabel("spikes")


def _error_panel(ax, result, t):
    data = result.data
    if data.voltage is not None:
        ax.plot(t, result.result.traces["u"][:, 0] - data.voltage, color="tab:purple", lw=0.7)
        ax.set_ylabel("model − data (mV)")
        return
    method = METHOD_TABLE[result.config.method]
    tau = result.tau_ms
    model = spike_trace(result.result.spike_times_ms, data.steps, data.dt_ms, tau, method)
    target = spike_trace(data.spike_times_ms, data.steps, data.dt_ms, tau, method)
    ax.plot(t, model - target, color="tab:purple", lw=0.7)
    ax.set_ylabel(f"trace difference\n(τ = {tau:g} ms)")


def _history_panel(ax, result):
    for restart in sorted({h["restart"] for h in result.history if h["stage"] == "search"}):
        points = [(h["evaluations"], h["best_score"]) for h in result.history
                  if h["stage"] == "search" and h["restart"] == restart]
        x, y = zip(*points)
        ax.plot(x, y, lw=1.0, label=f"search, restart {restart}")
    ax.set_xlabel("simulations")
    ax.set_ylabel(f"best {result.metric}")
    if result.metric != "gamma" and all(h["best_score"] > 0 for h in result.history if h["stage"] == "search"):
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    if not math.isfinite(result.train_score):
        ax.set_title("no candidate could run", fontsize=8)


def _refine_panel(ax, result):
    refined = [r for r in result.restarts if "smooth_loss" in r]
    for r in refined:
        ax.plot(np.arange(1, len(r["smooth_loss"]) + 1), r["smooth_loss"], lw=1.0,
                label=f"restart {r['restart']}" + (" (kept)" if r["refinement_kept"] else ""))
    ax.set_xlabel("refinement step (gradient descent through the TensorFlow engine)")
    ax.set_ylabel("smooth loss")
    if refined:
        ax.legend(fontsize=7)
        if all(min(r["smooth_loss"]) > 0 for r in refined):
            ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no refinement", ha="center", va="center", transform=ax.transAxes)
