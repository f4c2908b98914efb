"""`simulate`: check everything, plan, build the network, drive an engine, collect.

All checks happen in `RunConfig` and `plan` before any input is drawn, any synapse
built or any engine started.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import engines
from ..distributions import is_distribution
from ..errors import ParameterError
from ..neuron.rule import METHOD_TABLE, STEP_DTYPE, as_dtype, coefficients
from ..neuron.state import LIFState
from ..recording import ChunkRecording, sample_rows
from ..result import Result
from ..stimuli import InputGenerator
from ..streams import value_rng
from ..synapses.receptor import receptor_coefficients
from .config import RunConfig, available_cores
from .plan import plan


def simulate(config: RunConfig | None = None, *, progress: bool = False, memory_limit: int | None = None,
             initial_state: LIFState | None = None, engine_options: tuple = (), **settings) -> Result:
    """Run one simulation and return its `Result`.

    Either pass a `RunConfig` or its fields as keywords (``model``, ``stimuli``,
    ``n_neurons``, ``duration_ms``, ``dt_ms``, ``method``, ``engine``, ``precision``,
    ``seed``, ``record``, ``threads``, ``name``, ``populations``, ``projections``).

    Args:
        progress: show a progress bar on a terminal for runs longer than about a second.
        memory_limit: bytes the run may use (default: the memory available now).
        initial_state: start from this state (default: each population at its ``u_init``,
            else at rest).
        engine_options: engine-specific switches, as (name, value) pairs.
    """
    started = time.perf_counter()
    config = RunConfig(**settings) if config is None else config.replace(**settings) if settings else config
    run_plan = plan(config, memory_limit)
    engine = engines.load_engine(config.engine)
    engine.check(config.threads, tuple(engine_options))
    layout = config.layout
    coef = coefficients(layout.model, config.dt_ms, config.method, config.precision)
    receptors = receptor_coefficients(layout, config.dt_ms, config.method, config.precision)
    state = _initial_state(initial_state, config, run_plan.slots)
    timings = {"build_s": 0.0, "setup_s": 0.0, "input_s": 0.0, "wall_s": 0.0}
    network = None
    if config.projections:
        from ..network.connect import build

        tick = time.perf_counter()
        network = build(config.projections, layout, config.dt_ms, config.seed)
        timings["build_s"] = time.perf_counter() - tick
    rec_neurons = config.record.neuron_indices(config.n_neurons)
    setup = engines.EngineSetup(
        n_neurons=config.n_neurons, method=config.method, coefficients=coef, receptors=receptors,
        dtype=config.dtype, synaptic=_synaptic(config, state, network), threads=_engine_threads(config, run_plan),
        options=tuple(engine_options), chunk_steps=min(run_plan.chunk_steps, config.steps),
        time_varying=any(s.varies() for s in config.stimuli), sample_every=config.record.every,
        recorded=config.record.variables if rec_neurons.size else (), recorded_neurons=rec_neurons.size,
        network=None if network is None else network.tables, slice_steps=run_plan.slice_steps,
        slots=run_plan.slots, dense_input=any(s.sends == "dense" for s in config.stimuli),
        spike_input=any(s.sends == "spikes" for s in config.stimuli))
    tick = time.perf_counter()
    runner = engine.start(setup)
    timings["setup_s"] = time.perf_counter() - tick
    generator = input_generator(config, receptors.charge)
    traces = {v: np.empty((config.record.samples(config.steps), rec_neurons.size), config.dtype)
              for v in config.record.variables}
    spikes, input_spikes = [], []
    offset = METHOD_TABLE[config.method].spike_offset_steps
    chunks = _input_chunks(generator, config.steps, run_plan.chunk_steps, run_plan.input_ahead)
    with _progress_bar(config.steps, progress) as bar:
        for k0 in range(0, config.steps, run_plan.chunk_steps):
            k1 = min(k0 + run_plan.chunk_steps, config.steps)
            tick = time.perf_counter()
            chunk = next(chunks)
            tock = time.perf_counter()
            rows, where = sample_rows(k0, k1, config.record.every)
            recording = ChunkRecording(rows, rec_neurons, {v: a[where] for v, a in traces.items()})
            state, chunk_spikes = runner.advance(state, chunk, recording)
            timings["input_s"] += tock - tick
            timings["wall_s"] += time.perf_counter() - tock
            spikes.append(((chunk_spikes.step + offset) * config.dt_ms, chunk_spikes.neuron))
            if chunk.input_spikes is not None:
                input_spikes.append(chunk.input_spikes)
            bar.update(k1 - k0)
    timings["total_s"] = time.perf_counter() - started
    return _result(config, traces, rec_neurons, spikes, input_spikes, generator, timings, state, network)


def _input_chunks(generator: InputGenerator, steps: int, chunk_steps: int, ahead: bool):
    """The run's input, chunk by chunk; with ``ahead``, each next chunk is drawn on a thread
    of its own while the engine runs the current one (the chunks are the same either way)."""
    bounds = [(k0, min(k0 + chunk_steps, steps)) for k0 in range(0, steps, chunk_steps)]
    if not ahead:
        for k0, k1 in bounds:
            yield generator.chunk(k0, k1)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="lifsim-input") as pool:
        upcoming = pool.submit(generator.chunk, *bounds[0])
        for following in bounds[1:] + [None]:
            chunk = upcoming.result()
            if following is not None:
                upcoming = pool.submit(generator.chunk, *following)
            yield chunk


def input_generator(config: RunConfig, charge=None) -> InputGenerator:
    """The run's input generator (``charge``: the receptors' jump per mA·ms, computed if not given)."""
    if charge is None:
        charge = receptor_coefficients(config.layout, config.dt_ms, config.method, config.precision).charge
    return InputGenerator(config.stimuli, config.placements, config.n_neurons, len(config.layout.receptors),
                          config.dt_ms, charge, config.dtype, config.seed, config.record.input_spikes,
                          config.threads or available_cores())


def _engine_threads(config: RunConfig, run_plan) -> int | None:
    """The engine's threads: the run's, less the one that draws the input ahead."""
    if not run_plan.input_ahead:
        return config.threads
    return (config.threads or available_cores()) - 1


def _synaptic(config, state, network) -> bool:
    """Whether the receptors must be stepped: input spikes arrive, or some receptor or
    pending input holds a value that decays or arrives."""
    return (any(s.sends != "current" for s in config.stimuli) or network is not None
            or bool(np.any(state.i_syn != 0)) or (state.pending is not None and bool(np.any(state.pending != 0))))


def _initial_state(given: LIFState | None, config: RunConfig, slots: int) -> LIFState:
    """The given state checked and converted to the run's types (a copy), or each
    population at its initial potential."""
    n, receptors, dtype = config.n_neurons, len(config.layout.receptors), config.dtype
    if given is None:
        state = LIFState.resting(n, 0.0, dtype, receptors, slots)
        state.u[:] = _initial_potential(config)
        return state
    shapes = {"u": (n,), "ref": (n,), "i_syn": (receptors, n), "pending": (slots, receptors * n)}
    for name, shape in shapes.items():
        value = getattr(given, name)
        if name == "pending" and value is None:
            continue
        if np.shape(value) != shape:
            raise ParameterError(f"initial_state.{name} must have shape {shape} (got {np.shape(value)})")
    if not np.array_equal(np.asarray(given.ref), np.rint(given.ref)) or np.any(np.asarray(given.ref) < 0):
        raise ParameterError("initial_state.ref must hold whole numbers of steps >= 0")
    pending = np.zeros((slots, receptors * n), dtype) if given.pending is None else np.array(given.pending, dtype)
    state = LIFState(np.array(given.u, dtype=dtype), np.array(given.ref, dtype=STEP_DTYPE),
                     np.array(given.i_syn, dtype=dtype), pending if slots else None)
    if not all(np.all(np.isfinite(a)) for a in (state.u, state.i_syn, pending)):
        raise ParameterError("initial_state must be finite (NaN or inf in u, i_syn or pending)")
    return state


def _initial_potential(config: RunConfig) -> np.ndarray:
    """Each population's ``u_init`` (drawn from its own stream when a distribution), else ``u_rest``, mV."""
    parts = []
    for population in config.layout.populations:
        value = population.u_init
        if value is None:
            value = population.model.u_rest
        elif is_distribution(value):
            value = value.draw(value_rng(config.seed, f"population.{population.name}.u_init"), population.size)
        parts.append(np.broadcast_to(as_dtype(value, config.dtype), (population.size,)))
    return np.concatenate(parts)


def _result(config, traces, rec_neurons, spikes, input_spikes, generator, timings, state, network) -> Result:
    recorded_input = None
    if config.record.input_spikes:
        empty = np.zeros(0, np.int64)
        step, neuron, synapse, source = ([np.concatenate(c) for c in zip(*input_spikes)] if input_spikes
                                         else [empty] * 4)
        order = np.lexsort((synapse, neuron, source, step))
        recorded_input = {"times_ms": step[order] * config.dt_ms, "neuron": neuron[order],
                          "synapse": synapse[order], "source": source[order]}
    spike_neurons = _concatenate(spikes, 1)
    events = 0
    if network is not None and spike_neurons.size:
        events = int(np.dot(np.bincount(spike_neurons, minlength=config.n_neurons), network.out_degree()))
    return Result(
        config=config,
        t_ms=np.arange(0, config.steps, config.record.every) * config.dt_ms,
        traces=traces,
        recorded_neurons=rec_neurons,
        spike_times_ms=_concatenate(spikes, 0),
        spike_neurons=spike_neurons,
        input_spikes=recorded_input,
        weights=tuple(np.asarray(w) for w in generator.weights()),
        timings=timings,
        final_state=state,
        synapses=0 if network is None else network.n_synapses,
        synaptic_events=events,
        connectivity_bytes=0 if network is None else network.nbytes(),
    )


def _concatenate(chunks: list, column: int) -> np.ndarray:
    """One column of per-chunk tuples as one array, releasing the chunks' arrays as it goes."""
    out = np.concatenate([c[column] for c in chunks])
    for i, c in enumerate(chunks):
        chunks[i] = c[:column] + (None,) + c[column + 1:]
    return out


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


#: Seconds a run must last before its progress bar appears.
PROGRESS_DELAY_S = 1.0


def _progress_bar(total_steps: int, enabled: bool, stream=None):
    """A tqdm bar on ``stream`` (stderr), shown only on a terminal and after PROGRESS_DELAY_S."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    # disable=None: no bar when the stream is not a terminal.
    return tqdm(total=total_steps, unit="step", unit_scale=True, delay=PROGRESS_DELAY_S, disable=None,
                leave=False, file=stream)
