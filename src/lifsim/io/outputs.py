"""What ``lifsim run`` writes and prints: a figure, the arrays, the JSON, a summary."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np

from .files import atomic_path, write_text

#: Keys of each run that a several-method experiment's JSON keeps per method.
RUN_KEYS = ("spikes", "input_spikes", "weights", "population_statistics")
#: The only part of a run's description that changes between runs with the same seed: it
#: goes to its own file, so that the JSON and the NPZ of such runs are the same bytes.
TIMINGS = "timings_s"


def write_outputs(exp, results: list, out_dir: Path) -> list[Path]:
    """The figure, the arrays, the JSON description of an experiment's runs and their
    timings (a file of their own), each written atomically; returns the paths."""
    from ..plotting import save

    stem = out_dir / exp.config.name
    npz = stem.with_suffix(".npz")
    arrays, summary = documents(exp, results)
    with atomic_path(npz) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **arrays)
    js = write_text(stem.with_suffix(".json"), json_text(summary))
    per_method = {r.config.method: {k: round(v, 6) for k, v in r.timings.items()} for r in results}
    timings = write_text(stem.with_name(f"{stem.name}.timings.json"), json.dumps(per_method, indent=1) + "\n")
    try:
        png = [save(results, exp.panels, stem.with_suffix(".png"), exp.title)]
    except (ValueError, OverflowError) as error:  # values too large for matplotlib's axes
        warnings.warn(f"the figure could not be drawn ({error}); the data files are written")
        png = []
    return png + [npz, js, timings]


def documents(exp, results: list) -> tuple[dict, dict]:
    """The arrays of ``EXPERIMENT.npz`` and the JSON-ready description of ``EXPERIMENT.json``
    (without the timings) of an experiment's runs."""
    from ..plotting import fi_data

    if len(results) == 1:
        arrays, summary = results[0].arrays(), results[0].summary()
    else:
        arrays = {f"{r.config.method}_{k}": v for r in results for k, v in r.arrays().items()}
        summary = {**exp.config.describe(), "methods": [r.config.method for r in results],
                   "runs": {r.config.method: {k: v for k, v in r.summary().items() if k in RUN_KEYS}
                            for r in results}}
        summary.pop("method")
    if "fi" in exp.panels:
        curve = fi_data(results)
        summary["fi"] = {"currents_mA": curve["currents_mA"].tolist(),
                         "rates_hz": {m: r.tolist() for m, r in curve["rates_hz"].items()},
                         "predicted_hz": {m: r.tolist() for m, r in curve["predicted_hz"].items()}}
    summary.pop(TIMINGS, None)
    return arrays, summary


def json_text(summary: dict) -> str:
    """``EXPERIMENT.json``'s text."""
    return json.dumps(summary, indent=1) + "\n"


def npz_bytes(arrays: dict) -> bytes:
    """``EXPERIMENT.npz``'s bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def summary_text(exp, results, written) -> str:
    """A few lines for a person: spikes and rates per stimulus window (per population in a
    network), and the files."""
    lines = []
    for result in results:
        config = result.config
        lines.append(f"{config.name}: {result.spike_times_ms.size} spikes from {config.n_neurons} neuron(s) in "
                     f"{config.duration_ms:g} ms ({config.engine} engine, {config.method} method, "
                     f"dt {config.dt_ms:g} ms, seed {config.seed})")
        if config.populations:
            lines += _population_lines(result)
        else:
            lines += _window_lines(exp, result)
    if "fi" in exp.panels:
        from ..plotting import fi_data

        curve = fi_data(results)
        for method, rates in curve["rates_hz"].items():
            gap = np.max(np.abs(rates - curve["predicted_hz"][method]))
            lines.append(f"  f–I, method {method}: largest gap to the closed form {gap:.2f} Hz over "
                         f"{rates.size} currents")
    lines.append(f"  wrote {', '.join(str(p) for p in written)}")
    return "\n".join(lines)


def _window_lines(exp, result) -> list[str]:
    lines, config = [], result.config
    for start, stop in exp.windows():
        times = result.spike_times_ms
        # (start, stop]: a window's last spike can come one step after it (the article's firing
        # step follows the step that crossed), and a spike at its start belongs to before it
        count = int(np.count_nonzero((times > start) & (times <= stop)))
        rate = count / (config.n_neurons * (stop - start) * 1e-3) if stop > start else 0.0
        lines.append(f"  {start:g} < t <= {stop:g} ms: {count} spikes, {rate:.1f} Hz per neuron")
    return lines


def _population_lines(result) -> list[str]:
    lines = []
    for entry in result.population_statistics():
        cv = "no neuron with two intervals" if entry["cv_isi"] is None else f"mean ISI CV {entry['cv_isi']:.3f}"
        lines.append(f"  population {entry['name']} (neurons {entry['first']}–{entry['stop'] - 1}): "
                     f"{entry['spikes']} spikes, {entry['mean_rate_hz']:.2f} Hz, {cv}")
    if result.synapses:
        lines.append(f"  {result.synapses} synapses, {result.synaptic_events} spikes delivered along them")
    return lines
