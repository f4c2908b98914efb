"""The benchmark cases, as ``lifsim bench`` runs them (definitions in ``docs/benchmarks.md``).

A — independent LIF neurons (the article's parameters) with constant currents drawn
    uniform in [0, 2] mA; 100,000 neurons, dt 0.1 ms, 1 s.
B — neurons each with their own 25 Poisson synapses at 20 Hz, weights N(1, 0.5),
    q 1.5 mA·ms, tau_syn 10 ms; 10,000 neurons, dt 0.1 ms, 1 s.
cuba — the built-in CUBA network (4,000 neurons; ``--neurons`` scales it at a fixed
    expected in-degree of 80), 1 s.
brunel — the built-in Brunel (2000) network, order 2,500 (12,500 neurons; ``--order``
    scales it), 1 s.

Nothing is recorded but the spikes. Times reported:
``wall_s`` — the simulation: input generation and the engine's loop;
``build_s`` — building the network's connectivity;
``total_s`` — the whole call, with engine start-up and compilation (or loading
compiled kernels from the disk cache); ``process_s`` — the process from its start.
"""

from __future__ import annotations

import os
import resource
import sys

import numpy as np

from .errors import ParameterError, require_int
from .recording import Record
from .simulation.config import MAX_NEURONS, RunConfig, available_cores
from .simulation.simulate import simulate
from .stimuli import ConstantCurrent, PoissonSynapses

CASES = {
    "A": {"neurons": 100_000, "description": "independent neurons, constant currents uniform in [0, 2] mA"},
    "B": {"neurons": 10_000, "description": "25 Poisson synapses at 20 Hz per neuron, exponential currents"},
    "cuba": {"neurons": 4_000, "description": "the CUBA network (Brette et al. 2007), p = 0.02"},
    "brunel": {"neurons": 12_500, "description": "Brunel (2000) model A, delta synapses, order 2500"},
}
NETWORKS = ("cuba", "brunel")
DEFAULTS = {"duration_ms": 1000.0, "dt_ms": 0.1, "method": "exact"}


def case_config(case: str, neurons: int | None = None, duration_ms: float | None = None,
                dt_ms: float | None = None, engine: str = "numba", threads: int | None = None,
                method: str | None = None, precision: str = "float32", seed: int = 0,
                order: int | None = None) -> RunConfig:
    """The run of benchmark ``case``, with any setting overridden (``order``: networks with one)."""
    seed = require_int("seed", seed, low=0, high=2**63 - 1)
    if threads is None and engine != "numpy":
        threads = available_cores()
    changes = {k: v for k, v in dict(duration_ms=duration_ms, dt_ms=dt_ms, method=method).items() if v is not None}
    if case in NETWORKS:
        from .io.experiment_file import load

        config = load(case, neurons=neurons, order=order, seed=seed, engine=engine, precision=precision,
                      threads=threads, **changes).config
        return config.replace(record=Record(variables=(), neurons="none"), name=f"bench-{case}")
    if order is not None:
        raise ParameterError(f"order applies to the brunel case only (got case {case})")
    n = CASES[case]["neurons"] if neurons is None else require_int("neurons", neurons, low=1, high=MAX_NEURONS)
    if case == "A":
        currents = np.random.default_rng(seed).uniform(0.0, 2.0, n)
        stimuli = (ConstantCurrent(currents),)
    else:
        stimuli = (PoissonSynapses(25, 20.0, weight_mean=1.0, weight_sd=0.5, q=1.5, generation="event"),)
    return RunConfig(stimuli=stimuli, n_neurons=n, **{**DEFAULTS, **changes}, engine=engine,
                     precision=precision, seed=seed, threads=threads, record=Record(variables=(), neurons="none"),
                     name=f"bench-{case}")


def run_case(config: RunConfig, case: str, engine_options: tuple = (), progress: bool = False) -> dict:
    """Run one case; the figures ``lifsim bench`` prints (``progress``: a bar on a terminal)."""
    result = simulate(config, engine_options=engine_options, progress=progress)
    t = result.timings
    wall = t["wall_s"] + t["input_s"]
    neuron_steps = config.n_neurons * config.steps
    row = {
        "case": case,
        "engine": config.engine,
        "method": config.method,
        "precision": config.precision,
        "threads": config.threads or 1,
        "neurons": config.n_neurons,
        "steps": config.steps,
        "dt_ms": config.dt_ms,
        "wall_s": round(wall, 6),
        "engine_s": round(t["wall_s"], 6),
        "input_s": round(t["input_s"], 6),
        "setup_s": round(t["setup_s"], 6),
        "build_s": round(t["build_s"], 6),
        "total_s": round(t["total_s"], 6),
        "neuron_steps_per_s": neuron_steps / wall,
        "spikes": int(result.spike_times_ms.size),
        "peak_rss_mib": round(peak_rss_bytes() / 2**20, 1),
        **{f"option_{k}": v for k, v in engine_options},
    }
    if config.projections:
        statistics = result.population_statistics()
        row.update(synapses=result.synapses, synaptic_events=result.synaptic_events,
                   synaptic_events_per_s=result.synaptic_events / wall,
                   connectivity_bytes_per_synapse=result.connectivity_bytes / max(result.synapses, 1),
                   rates_hz={p["name"]: round(p["mean_rate_hz"], 4) for p in statistics},
                   cv_isi={p["name"]: p["cv_isi"] for p in statistics})
    row["process_s"] = process_seconds()
    return row


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def process_seconds() -> float | None:
    """Seconds since this process started (Linux), else None."""
    try:
        with open("/proc/self/stat") as stat:
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        with open("/proc/uptime") as uptime:
            return round(float(uptime.read().split()[0]) - started, 3)
    except (OSError, ValueError, IndexError):
        return None


def format_row(row: dict) -> str:
    line = (f"case {row['case']}: {row['engine']} engine, {row['threads']} thread(s), {row['neurons']} neurons × "
            f"{row['steps']} steps ({row['method']}, {row['precision']}): wall {row['wall_s']:.3f} s "
            f"(engine {row['engine_s']:.3f} s, input {row['input_s']:.3f} s), total {row['total_s']:.3f} s, "
            f"{row['neuron_steps_per_s']:.3g} neuron-steps/s, {row['spikes']} spikes, "
            f"peak RSS {row['peak_rss_mib']} MiB")
    if "synapses" in row:
        rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in row["rates_hz"].items())
        line += (f"; {row['synapses']} synapses ({row['connectivity_bytes_per_synapse']:.2f} bytes each) built in "
                 f"{row['build_s']:.3f} s, {row['synaptic_events_per_s']:.3g} synaptic events/s, rates {rates}")
    return line
