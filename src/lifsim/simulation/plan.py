"""Planning a run before any work: how it is cut into chunks, and the memory it needs."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, require_int
from ..neuron.rule import refractory_steps

#: Numbers per chunk of input (steps × neurons × draws per neuron-step), bounding chunk memory.
CHUNK_ELEMENTS = 1 << 22
#: Most steps per chunk: a run reports its progress (and may stop) between chunks, so that
#: even one neuron's run of a billion steps shows its progress every fraction of a second.
MAX_CHUNK_STEPS = 1 << 16
#: Floor of the per neuron-step load when sizing chunks (spike and sample buffers).
MIN_LOAD = 1.0 / 64
#: Spike storage is estimated at the refractory-limited rate, at most this, Hz.
SPIKE_RATE_CEILING_HZ = 500.0
#: Bytes per output spike: its time (float64) and neuron (int32), twice while the chunks are joined.
BYTES_PER_SPIKE = 24
#: Numbers drawn on one thread per neuron and step from which the input gets a thread of its own
#: (numbers drawn on all the run's threads are drawn between the engine's chunks).
INPUT_AHEAD_LOAD = 1.0
#: Bytes per synapse that building a projection holds besides what it keeps (draws, sorting).
BUILD_BYTES_PER_SYNAPSE = 16
#: Bytes per output spike while ``lifsim run`` writes its files: the JSON's lists of Python
#: numbers and their text, besides the arrays.
OUTPUT_BYTES_PER_SPIKE = 120
#: A figure draws at most this many traces per panel, and a raster of at most this many neurons.
FIGURE_TRACES = 8
FIGURE_RASTER_NEURONS = 400
#: Bytes per point a figure draws (matplotlib's float64 copies of x and y).
FIGURE_BYTES_PER_POINT = 32


@dataclass(frozen=True)
class Plan:
    """What a run will do, decided before any work: chunking, delays and memory.

    ``slots``: steps of future input held for delayed spikes (0 without projections);
    ``slice_steps``: steps the neurons may run between deliveries of spikes (the
    smallest delay; the whole chunk without projections); ``input_ahead``: whether the
    next chunk's input is drawn on a thread of its own while the engine runs on the
    others (a run of several threads and chunks whose stimuli draw random numbers for
    every neuron and step on one thread: it holds two chunks of input).
    """

    chunk_steps: int
    slice_steps: int
    slots: int
    memory_bytes: dict
    input_ahead: bool = False


def chunk_steps(config) -> int:
    """Steps per chunk, from the population size and the input load only.

    It does not depend on the engine, the recording or the duration, so that the input
    drawn for a seed is the same whatever is recorded and on every engine.
    """
    load = max(MIN_LOAD, sum(s.elements_per_step() for s in config.stimuli))
    return max(1, min(MAX_CHUNK_STEPS, int(CHUNK_ELEMENTS / (config.n_neurons * load))))


def estimate_memory(config, steps_per_chunk: int, slots: int, input_chunks: int = 1, outputs: bool = False) -> dict:
    """Bytes a run will need, by kind: state, inputs, traces, (estimated) spikes, connectivity,
    and with ``outputs`` what writing the files of ``lifsim run`` adds (the JSON of the spikes
    and the figure: at most `FIGURE_TRACES` traces per variable, a raster of at most
    `FIGURE_RASTER_NEURONS` neurons and the population rate)."""
    n, steps = config.n_neurons, config.steps
    receptors = len(config.layout.receptors)
    item = np.dtype(config.dtype).itemsize
    rec = config.record
    n_rec = rec.count(n)
    chunk = min(steps_per_chunk, steps)
    load = sum(s.elements_per_step() for s in config.stimuli)
    # dense jumps are held for every receptor slot: the chunk's, and two slices an engine may draw into
    dense_buffers = 3 if any(s.sends == "dense" for s in config.stimuli) else 0
    dt_s = config.dt_ms * 1e-3
    n_ref_min = int(np.min(refractory_steps(config.layout.model.tau_rest, config.dt_ms)))
    rate_hz = min(1.0 / ((n_ref_min + 1) * dt_s), SPIKE_RATE_CEILING_HZ)
    spikes = n * steps * dt_s * rate_hz
    figure = (min(n_rec, FIGURE_TRACES) * rec.samples(steps) * len(rec.variables)
              + spikes * min(1.0, FIGURE_RASTER_NEURONS / n) + config.duration_ms) * FIGURE_BYTES_PER_POINT
    return {
        "state": n * (2 * item + 4 + 8 * 8) + receptors * n * item * (1 + slots),
        "inputs": input_chunks * chunk * n * (8 * (1 + load) + 2 * item) + dense_buffers * chunk * n * receptors * item
                  + sum(s.setup_bytes(n) for s in config.stimuli),
        "traces": rec.samples(steps) * n_rec * item * len(rec.variables),
        "spikes": int(BYTES_PER_SPIKE * spikes),
        "connectivity": connectivity_bytes(config),
        "outputs": int(OUTPUT_BYTES_PER_SPIKE * spikes + figure) if outputs else 0,
    }


def connectivity_bytes(config) -> int:
    """Bytes to build and keep the projections: their synapses (at a bound the random
    count exceeds with negligible probability), row pointers, and building's scratch,
    which the last copy of the synapses end to end doubles; and where each thread's share
    of the targets starts in every row (int32), for the numba engine's delivery."""
    layout, kept, scratch = config.layout, 0, 0
    shares = (config.threads or available_cores()) if config.engine == "numba" else 1
    for projection in config.projections:
        n_source = layout.population(projection.source).size
        n_target = layout.population(projection.target).size
        _, bound = projection.expected_synapses(n_source, n_target)
        kept += bound * projection.bytes_per_synapse() + (8 + 4 * (shares - 1)) * (n_source + 1)
        scratch = max(scratch, bound * BUILD_BYTES_PER_SYNAPSE)
    return int(2 * kept + scratch) if config.projections else 0


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def available_memory() -> int:
    """Bytes the system can still give, from /proc/meminfo or sysconf."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def plan(config, memory_limit: int | None = None, outputs: bool = False) -> Plan:
    """Chunking, delays and memory estimate; refuses a run that would not fit in memory
    (``outputs``: with the memory that writing the files of ``lifsim run`` takes)."""
    steps_per_chunk = chunk_steps(config)
    min_delay, max_delay = config.delay_range()
    slots = max_delay + min_delay if config.projections else 0
    ahead = ((config.threads or available_cores()) > 1 and config.steps > steps_per_chunk
             and config.engine != "numpy"
             and sum(s.serial_elements_per_step() for s in config.stimuli) >= INPUT_AHEAD_LOAD)
    memory = estimate_memory(config, steps_per_chunk, slots, 2 if ahead else 1, outputs)
    limit = available_memory() if memory_limit is None else require_int("memory_limit", memory_limit, low=0)
    needed = sum(memory.values())
    if needed > limit:
        parts = ", ".join(f"{k} {_gib(v)}" for k, v in memory.items() if v)
        raise ParameterError(
            f"memory: the run needs an estimated {_gib(needed)} ({parts}) but {_gib(limit)} is available; "
            "record fewer neurons or variables, sample less often (record every), use fewer neurons or "
            "synapses, or shorten the run")
    return Plan(steps_per_chunk, min_delay or steps_per_chunk, slots, memory, ahead)


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"
