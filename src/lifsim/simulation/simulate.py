"""`simulate`: check everything, plan, build the network, drive an engine, collect.

All checks happen in `RunConfig` and `plan` before any input is drawn, any synapse
built or any engine started.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import engines
from ..distributions import is_distribution
from ..errors import NonFiniteError, ParameterError, as_numbers, require_bool
from ..io.stream import SEGMENT_SECONDS, Checkpoint, Committed, open_stream
from ..neuron.rule import MAX_REFRACTORY_STEPS, METHOD_TABLE, STEP_DTYPE, as_dtype, coefficients
from ..neuron.state import LIFState
from ..recording import ChunkRecording, sample_rows
from ..result import Result
from ..stimuli import InputGenerator
from ..stimuli.generator import InputSpikes
from ..streams import value_rng
from ..synapses.receptor import receptor_coefficients
from .config import RunConfig, available_cores
from .plan import plan


def simulate(config: RunConfig | None = None, *, progress: bool = False, memory_limit: int | None = None,
             initial_state: LIFState | None = None, engine_options: tuple = (), stream: str | Path | None = None,
             resume: bool = False, segment_s: float = SEGMENT_SECONDS, stream_description: str | None = None,
             **settings) -> Result:
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
        stream: a folder to stream the run into as it goes (`lifsim.io.stream`): its spikes,
            traces and input spikes in segments, each with a checkpoint to resume from.
            It must be new or empty, unless ``resume``.
        resume: continue the run streamed into ``stream`` from its last committed segment
            (the same run: it is checked); the result is identical to the run never
            interrupted. A complete stream is read back; a missing or empty one is begun.
        segment_s: wall-clock seconds between two commits of the stream (at least one
            chunk each; 0: after every chunk).
        stream_description: the experiment file stored with a new stream (default: the run
            as `lifsim show` prints it); loading it must give this run.
    """
    started = time.perf_counter()
    if config is not None and not isinstance(config, RunConfig):
        raise ParameterError(f"config must be a RunConfig (got {config!r:.80})")
    config = RunConfig(**settings) if config is None else config.replace(**settings) if settings else config
    run_plan, engine = preflight(config, memory_limit, engine_options)
    require_bool("progress", progress)
    require_bool("resume", resume)
    state = _initial_state(initial_state, config, run_plan.slots)
    writer, committed = open_stream(stream, resume, config, run_plan.chunk_steps, initial_state, segment_s,
                                    stream_description)
    if committed.checkpoint is not None:
        state = _initial_state(committed.checkpoint.state, config, run_plan.slots)
    layout = config.layout
    coef = coefficients(layout.model, config.dt_ms, config.method, config.precision)
    receptors = receptor_coefficients(layout, config.dt_ms, config.method, config.precision)
    timings = {"build_s": 0.0, "setup_s": 0.0, "input_s": 0.0, "wall_s": 0.0}
    network = None
    if config.projections:
        from ..network.connect import build

        tick = time.perf_counter()
        network = build(config.projections, layout, config.dt_ms, config.seed)
        timings["build_s"] = time.perf_counter() - tick
    rec_neurons = config.record.neuron_indices(config.n_neurons)
    # drawn ahead, the input has one thread of its own beside the engine's, and all of it is
    # drawn there: a checkpoint taken between two chunks then holds every stream as it is
    generator = input_generator(config, receptors.charge, 1 if run_plan.input_ahead else None,
                                engine_draws=getattr(engine, "DRAWS_DENSE", False) and not run_plan.input_ahead)
    setup = engines.EngineSetup(
        n_neurons=config.n_neurons, method=config.method, coefficients=coef, receptors=receptors,
        dtype=config.dtype, synaptic=_synaptic(config, state, network), threads=_engine_threads(config, run_plan),
        options=tuple(engine_options), chunk_steps=min(run_plan.chunk_steps, config.steps),
        time_varying=any(s.varies() for s in config.stimuli), sample_every=config.record.every,
        recorded=config.record.variables if rec_neurons.size else (), recorded_neurons=rec_neurons.size,
        network=None if network is None else network.tables, slice_steps=run_plan.slice_steps,
        slots=run_plan.slots, dense_input=any(s.sends == "dense" for s in config.stimuli),
        spike_input=any(s.sends == "spikes" for s in config.stimuli), dense_draws=generator.draws_dense)
    tick = time.perf_counter()
    runner = engine.start(setup)
    timings["setup_s"] = time.perf_counter() - tick
    traces = {v: np.empty((config.record.samples(config.steps), rec_neurons.size), config.dtype)
              for v in config.record.variables}
    offset = METHOD_TABLE[config.method].spike_offset_steps
    first = committed.step
    if committed.checkpoint is not None:
        generator.restore(committed.checkpoint.inputs)
    spikes, input_spikes = _committed_output(committed, traces, offset, config.dt_ms)
    segment = _Segment(writer, first, segment_s, config.record.every)
    chunks = _input_chunks(generator, first, config.steps, run_plan.chunk_steps, run_plan.input_ahead,
                           writer is not None)
    with _progress_bar(config.steps, progress, initial=first) as bar:
        report = None if bar.disable else _ChunkProgress(bar)
        for k0 in range(first, config.steps, run_plan.chunk_steps):
            k1 = min(k0 + run_plan.chunk_steps, config.steps)
            tick = time.perf_counter()
            chunk, memory = next(chunks)
            tock = time.perf_counter()
            rows, where = sample_rows(k0, k1, config.record.every)
            recording = ChunkRecording(rows, rec_neurons, {v: a[where] for v, a in traces.items()})
            with np.errstate(over="ignore", invalid="ignore"):  # what overflows is found just below
                state, chunk_spikes = (runner.advance(state, chunk, recording) if report is None
                                       else runner.advance(state, chunk, recording, progress=report))
            check_finite(state, recording, k0, k1, config)
            timings["input_s"] += tock - tick
            timings["wall_s"] += time.perf_counter() - tock
            spikes.append(((chunk_spikes.step + offset) * config.dt_ms, chunk_spikes.neuron))
            if chunk.input_spikes is not None:
                input_spikes.append(chunk.input_spikes)
            segment.add(k1, chunk_spikes, chunk.input_spikes, traces, state, memory())
            if report is None:
                bar.update(k1 - k0)
            else:
                report.finish(k1 - k0)
    timings["total_s"] = time.perf_counter() - started
    return _result(config, traces, rec_neurons, spikes, input_spikes, generator, timings, state, network)


def preflight(config: RunConfig, memory_limit: int | None = None, engine_options: tuple = (), outputs: bool = False):
    """The checks of a run that need more than its configuration: its memory (`plan`; with
    ``outputs``, the memory its files and figure take) and its engine's options; returns
    the plan and the engine. Nothing is allocated or started."""
    if not isinstance(engine_options, (tuple, list)) or not all(
            isinstance(o, (tuple, list)) and len(o) == 2 for o in engine_options):
        raise ParameterError(f"engine_options must be (name, value) pairs (got {engine_options!r:.80})")
    run_plan = plan(config, memory_limit, outputs)
    engine = engines.load_engine(config.engine)
    engine.check(config.threads, tuple(map(tuple, engine_options)))
    return run_plan, engine


def check_finite(state: LIFState, recording: ChunkRecording, k0: int, k1: int, config: RunConfig) -> None:
    """Stop a run whose state or recorded values turned NaN or infinite in steps [k0, k1),
    naming the neuron, the variable and the step (the first recorded sample that is not
    finite, else the chunk's last step, where the state was found so)."""
    for name, values in recording.out.items():
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            row, column = bad[0]
            step = k0 + int(recording.rows[row])
            _non_finite(name, int(recording.neurons[column]), step, values[row, column], config)
    for name, values in (("u", state.u), ("i_syn", state.i_syn), ("pending input", state.pending)):
        if values is not None and not np.all(np.isfinite(values)):
            flat = int(np.flatnonzero(~np.isfinite(values.reshape(-1)))[0])
            _non_finite(name, flat % config.n_neurons, k1 - 1, values.reshape(-1)[flat], config)


def _non_finite(variable: str, neuron: int, step: int, value, config: RunConfig):
    raise NonFiniteError(
        f"the run turned non-finite: {variable} of neuron {neuron} is {value} at step {step} "
        f"(t = {step * config.dt_ms:g} ms); the parameters or input exceed what {config.precision} holds: "
        + ("use smaller values, or precision float64" if config.precision != "float64" else "use smaller values"))


def _input_chunks(generator: InputGenerator, first: int, steps: int, chunk_steps: int, ahead: bool,
                  checkpoints: bool):
    """The run's input from step ``first``, chunk by chunk, each with a function that gives
    the generator's checkpoint once the chunk is drawn (when ``checkpoints``, else None):
    called after the engine has run the chunk, which may draw part of it
    (``InputChunk.draws``). With ``ahead``, each next chunk is drawn on a thread of its own
    while the engine runs the current one (the chunks are the same either way), and the
    checkpoint is taken between two chunks, while the generator is idle."""
    bounds = [(k0, min(k0 + chunk_steps, steps)) for k0 in range(first, steps, chunk_steps)]
    if not bounds:
        return
    memory = generator.checkpoint if checkpoints else lambda: None
    if not ahead:
        for k0, k1 in bounds:
            yield generator.chunk(k0, k1), memory
        return
    with ThreadPoolExecutor(1, thread_name_prefix="lifsim-input") as pool:
        upcoming = pool.submit(generator.chunk, *bounds[0])
        for following in bounds[1:] + [None]:
            chunk = upcoming.result()
            saved = memory()  # the generator is idle: between two chunks
            if following is not None:
                upcoming = pool.submit(generator.chunk, *following)
            yield chunk, lambda saved=saved: saved


class _Segment:
    """The part of a streamed run not yet committed: the spikes and input spikes of its
    chunks; committed when ``segment_s`` seconds have passed since the last commit, and at
    the end of the run."""

    def __init__(self, writer, first: int, segment_s: float, every: int):
        self.writer, self.k0, self.segment_s, self.every = writer, first, segment_s, every
        self.spikes, self.inputs, self.since = [], [], time.perf_counter()

    def add(self, k1: int, chunk_spikes, chunk_inputs, traces: dict, state: LIFState, memory) -> None:
        if self.writer is None:
            return
        self.spikes.append(chunk_spikes)
        if chunk_inputs is not None:
            self.inputs.append(chunk_inputs)
        if k1 < self.writer.manifest["steps"] and time.perf_counter() - self.since < self.segment_s:
            return
        rows = slice(-(-self.k0 // self.every), -(-k1 // self.every))
        inputs = tuple(np.concatenate(c) for c in zip(*self.inputs)) if self.inputs else None
        spikes = (np.concatenate([c.step for c in self.spikes]), np.concatenate([c.neuron for c in self.spikes]))
        self.writer.commit(self.k0, k1, spikes, {v: a[rows] for v, a in traces.items()}, inputs,
                           Checkpoint(k1, state, memory))
        self.k0, self.spikes, self.inputs, self.since = k1, [], [], time.perf_counter()


def _committed_output(committed: Committed, traces: dict, offset: int, dt_ms: float) -> tuple[list, list]:
    """The spikes and input spikes of a stream's committed segments, as the run's first
    chunks (an empty list each for a new run); their traces are copied into ``traces``."""
    if committed.checkpoint is None:
        return [], []
    for name, values in committed.traces.items():
        traces[name][:values.shape[0]] = values
    spikes = [((committed.spike_step + offset) * dt_ms, committed.spike_neuron)]
    return spikes, [] if committed.input_spikes is None else [InputSpikes(*committed.input_spikes)]


def input_generator(config: RunConfig, charge=None, threads: int | None = None,
                    engine_draws: bool = False) -> InputGenerator:
    """The run's input generator (``charge``: the receptors' jump per mA·ms, computed if not
    given; ``threads``: those it may draw on, by default the run's; ``engine_draws``: leave
    the dense jumps to an engine that draws them, `InputGenerator`). Its numbers do not
    depend on the threads."""
    if charge is None:
        charge = receptor_coefficients(config.layout, config.dt_ms, config.method, config.precision).charge
    return InputGenerator(config.stimuli, config.placements, config.n_neurons, len(config.layout.receptors),
                          config.dt_ms, charge, config.dtype, config.seed, config.record.input_spikes,
                          threads or config.threads or available_cores(), engine_draws=engine_draws)


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
        with np.errstate(over="ignore"):
            state.u[:] = _initial_potential(config)
        if not np.all(np.isfinite(state.u)):
            raise ParameterError(f"u_init: the initial potentials must be finite in {config.precision} "
                                 f"(a population's u_init gives {state.u[~np.isfinite(state.u)][0]})")
        return state
    if not isinstance(given, LIFState):
        raise ParameterError(f"initial_state must be a LIFState (got {given!r:.80})")
    shapes = {"u": (n,), "ref": (n,), "i_syn": (receptors, n), "pending": (slots, receptors * n)}
    for name, shape in shapes.items():
        value = getattr(given, name)
        if name == "pending" and value is None:
            continue
        if np.shape(value) != shape:
            raise ParameterError(f"initial_state.{name} must have shape {shape} (got {np.shape(value)})")
    ref = as_numbers("initial_state.ref", given.ref)
    if not np.array_equal(ref, np.rint(ref)) or np.any(ref < 0) or np.any(ref > MAX_REFRACTORY_STEPS):
        raise ParameterError(f"initial_state.ref must hold whole numbers of steps in [0, {MAX_REFRACTORY_STEPS}]")
    pending = np.zeros((slots, receptors * n), dtype) if given.pending is None else _cast("pending", given.pending,
                                                                                           dtype)
    state = LIFState(_cast("u", given.u, dtype), ref.astype(STEP_DTYPE), _cast("i_syn", given.i_syn, dtype),
                     pending if slots else None)
    if not all(np.all(np.isfinite(a)) for a in (state.u, state.i_syn, pending)):
        raise ParameterError("initial_state must be finite (NaN or inf in u, i_syn or pending)")
    return state


def _cast(name: str, value, dtype) -> np.ndarray:
    with np.errstate(over="ignore"):
        return as_numbers(f"initial_state.{name}", value).astype(dtype)


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


class _ChunkProgress:
    """Moves the bar as an engine reports the steps of its chunk done so far."""

    def __init__(self, bar):
        self.bar, self.shown = bar, 0

    def __call__(self, done: int) -> None:
        if done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def finish(self, steps: int) -> None:
        """The chunk of ``steps`` steps is done: the bar shows all of it; the next starts at 0."""
        self(steps)
        self.shown = 0


class _NoBar:
    disable = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


#: Seconds a run must last before its progress bar appears.
PROGRESS_DELAY_S = 1.0


def _progress_bar(total_steps: int, enabled: bool, stream=None, initial: int = 0):
    """A tqdm bar on ``stream`` (stderr), shown only on a terminal and after PROGRESS_DELAY_S:
    steps done, rate and time left; ``initial``: steps already done (a resumed run). It is
    moved after every chunk and, on the numpy and numba engines, from inside long chunks
    about every `lifsim.engines.PROGRESS_INTERVAL_S` seconds."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    # disable=None: no bar when the stream is not a terminal.
    return tqdm(total=total_steps, initial=initial, unit="step", unit_scale=True, delay=PROGRESS_DELAY_S,
                disable=None, leave=False, file=stream)
