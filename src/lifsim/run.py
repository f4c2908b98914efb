"""Running a simulation: check everything, plan the chunks, drive an engine, collect.

`simulate` is the one entry point. All checks happen in `RunConfig`
and `plan` before any input is drawn or any engine is started.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np

from . import engines
from .errors import ParameterError, require_choice, require_int, require_range
from .inputs import STIMULUS_KINDS, InputGenerator, currents_vary, has_synaptic_input, steps_in
from .model import (
    METHODS,
    PRECISIONS,
    SPIKE_OFFSET_STEPS,
    STEP_DTYPE,
    check_step,
    coefficients,
    refractory_steps,
    synaptic_decay,
)
from .params import LIFParams
from .recording import ChunkRecording, Record, sample_rows
from .result import Result
from .state import LIFState

DEFAULT_SEED = 2018
"""The seed of a run that names none, so that two runs without one are identical."""
#: Numbers per chunk of input (steps × neurons × draws per neuron-step), bounding chunk memory.
CHUNK_ELEMENTS = 1 << 22
#: Floor of the per neuron-step load when sizing chunks (spike and sample buffers).
MIN_LOAD = 1.0 / 64
#: Spike storage is estimated at the refractory-limited rate, at most this, Hz.
SPIKE_RATE_CEILING_HZ = 500.0
#: Bytes per output spike: its time (float64) and neuron (int32), twice while the chunks are joined.
BYTES_PER_SPIKE = 24


@dataclass(frozen=True)
class RunConfig:
    """A complete, checked description of one run.

    Attributes:
        model: `LIFParams` (per-neuron values allowed).
        stimuli: stimulus descriptions from `lifsim.inputs`.
        n_neurons: population size; by default the length of per-neuron values, else 1.
        duration_ms: simulated time T, ms; steps ``k = 0 .. ceil(T/dt) - 1``.
        dt_ms: time step, ms.
        method: ``"article"`` (forward Euler, the article's order) or ``"exact"``.
        engine: engine name (``lifsim.engines.ENGINES``).
        precision: ``"float32"`` or ``"float64"``.
        seed: seed of every random draw of the run.
        record: what to record (`Record`).
        threads: worker threads for engines that use them; None for all cores.
        name: a label carried into outputs.
    """

    model: LIFParams = field(default_factory=LIFParams)
    stimuli: tuple = ()
    n_neurons: int | None = None
    duration_ms: float = 200.0
    dt_ms: float = 1.0
    method: str = "article"
    engine: str = "numba"
    precision: str = "float32"
    seed: int = DEFAULT_SEED
    record: Record = field(default_factory=Record)
    threads: int | None = None
    name: str = "custom"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "stimuli", tuple(self.stimuli))
        require_range("dt", self.dt_ms, low=0.0, low_open=True, unit="ms")
        require_range("duration", self.duration_ms, low=self.dt_ms, unit="ms (at least one step dt)")
        require_choice("method", self.method, METHODS)
        require_choice("precision", self.precision, tuple(PRECISIONS))
        require_choice("engine", self.engine, engines.engine_names())
        set_(self, "seed", require_int("seed", self.seed, low=0, high=2**63 - 1))
        if self.threads is not None:
            set_(self, "threads", require_int("threads", self.threads, low=1, high=available_cores()))
        check_step(self.model, self.dt_ms, self.method)
        for i, stimulus in enumerate(self.stimuli):
            if type(stimulus) not in STIMULUS_KINDS.values():
                raise ParameterError(f"stimulus[{i}] must be one of {', '.join(STIMULUS_KINDS)} (got {stimulus!r})")
        set_(self, "n_neurons", self._population_size())
        self.model.check_size(self.n_neurons)
        for i, stimulus in enumerate(self.stimuli):
            stimulus.validate(f"stimulus[{i}]", self.n_neurons, self.dt_ms)
        self.record.neuron_indices(self.n_neurons)

    def _population_size(self) -> int:
        """``n_neurons``, else the length of the per-neuron values (model, then currents), else 1."""
        implied = self.model.per_neuron_size()
        if self.n_neurons is None:
            return implied or _stimulus_size(self.stimuli) or 1
        n = require_int("neurons", self.n_neurons, low=1)
        if implied is not None and implied != n:
            raise ParameterError(f"neurons ({n}) must equal the length of the per-neuron model values ({implied})")
        return n

    @property
    def steps(self) -> int:
        """Number of steps: ``k·dt < duration`` for ``k = 0 .. steps - 1``."""
        return steps_in(self.duration_ms, self.dt_ms)

    @property
    def end_ms(self) -> float:
        """The run's last instant, ms: ``duration_ms``, or the time of a spike in the last step
        when it falls later (method "exact" labels a spike with the end of its step)."""
        return max(self.duration_ms, (self.steps - 1 + SPIKE_OFFSET_STEPS[self.method]) * self.dt_ms)

    @property
    def dtype(self):
        return PRECISIONS[self.precision]

    def replace(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def describe(self) -> dict:
        """JSON-ready: the run's parameters, with units in the key names where they apply."""
        return {
            "experiment": self.name,
            "engine": self.engine,
            "method": self.method,
            "precision": self.precision,
            "dt_ms": self.dt_ms,
            "duration_ms": self.duration_ms,
            "steps": self.steps,
            "seed": self.seed,
            "neurons": self.n_neurons,
            "model": self.model.as_dict(),
            "stimuli": [describe_stimulus(s) for s in self.stimuli],
            "record": {"variables": list(self.record.variables), "neurons": _plain(self.record.neurons),
                       "every": self.record.every},
        }


def _stimulus_size(stimuli) -> int | None:
    """The population size implied by per-neuron current amplitudes, if any."""
    sizes = set()
    for stimulus in stimuli:
        amplitudes = [p[2] for p in stimulus.pulses if len(p) == 3] if stimulus.kind == "square" else [
            getattr(stimulus, "amplitude", 0.0)]
        sizes |= {np.size(a) for a in amplitudes if np.ndim(a)}
    if len(sizes) > 1:
        raise ParameterError(f"per-neuron stimulus values must all have the same length (got {sorted(sizes)})")
    return sizes.pop() if sizes else None


def describe_stimulus(stimulus) -> dict:
    """A stimulus as a JSON-ready dict with its ``kind``."""
    out = {"kind": stimulus.kind}
    for f in fields(stimulus):
        out[f.name] = _plain(getattr(stimulus, f.name))
    return out


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None  # an unbounded window end
    return value


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    """What a run will do, decided before any work: chunking and memory."""

    chunk_steps: int
    memory_bytes: dict


def chunk_steps(config: RunConfig) -> int:
    """Steps per chunk, from the population size and the input load only.

    It does not depend on the engine, the recording or the duration, so that the input
    drawn for a seed is the same whatever is recorded and on every engine.
    """
    load = max(MIN_LOAD, sum(s.elements_per_step() for s in config.stimuli))
    return max(1, int(CHUNK_ELEMENTS / (config.n_neurons * load)))


def estimate_memory(config: RunConfig, steps_per_chunk: int) -> dict:
    """Bytes a run will need, by kind: state, inputs, traces and (estimated) spikes."""
    n, steps = config.n_neurons, config.steps
    item = np.dtype(config.dtype).itemsize
    rec = config.record
    n_rec = rec.neuron_indices(n).size
    chunk = min(steps_per_chunk, steps)
    load = sum(s.elements_per_step() for s in config.stimuli)
    dt_s = config.dt_ms * 1e-3
    n_ref_min = int(np.min(refractory_steps(config.model.tau_rest, config.dt_ms)))
    rate_hz = min(1.0 / ((n_ref_min + 1) * dt_s), SPIKE_RATE_CEILING_HZ)
    return {
        "state": n * (3 * item + 4 + 8 * 8),
        "inputs": chunk * n * (8 * (1 + load) + 2 * item) + sum(
            s.setup_bytes(n) for s in config.stimuli if hasattr(s, "setup_bytes")),
        "traces": rec.samples(steps) * n_rec * item * len(rec.variables),
        "spikes": int(BYTES_PER_SPIKE * n * steps * dt_s * rate_hz),
    }


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


def plan(config: RunConfig, memory_limit: int | None = None) -> Plan:
    """Chunking and memory estimate; refuses a run that would not fit in memory."""
    steps_per_chunk = chunk_steps(config)
    memory = estimate_memory(config, steps_per_chunk)
    limit = available_memory() if memory_limit is None else memory_limit
    needed = sum(memory.values())
    if needed > limit:
        parts = ", ".join(f"{k} {_gib(v)}" for k, v in memory.items() if v)
        raise ParameterError(
            f"memory: the run needs an estimated {_gib(needed)} ({parts}) but {_gib(limit)} is available; "
            "record fewer neurons or variables, sample less often (record every), or shorten the run")
    return Plan(steps_per_chunk, memory)


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


# ---------------------------------------------------------------- running


def simulate(config: RunConfig | None = None, *, progress: bool = False, memory_limit: int | None = None,
             initial_state: LIFState | None = None, engine_options: tuple = (), **settings) -> Result:
    """Run one simulation and return its `Result`.

    Either pass a `RunConfig` or its fields as keywords (``model``, ``stimuli``,
    ``n_neurons``, ``duration_ms``, ``dt_ms``, ``method``, ``engine``, ``precision``,
    ``seed``, ``record``, ``threads``, ``name``).

    Args:
        progress: show a progress bar on a terminal for runs longer than about a second.
        memory_limit: bytes the run may use (default: the memory available now).
        initial_state: start from this state (default: every neuron at rest).
        engine_options: engine-specific switches, as (name, value) pairs.
    """
    started = time.perf_counter()
    config = RunConfig(**settings) if config is None else config.replace(**settings) if settings else config
    run_plan = plan(config, memory_limit)
    engine = engines.load_engine(config.engine)
    coef = coefficients(config.model, config.dt_ms, config.method, config.precision)
    state = _initial_state(initial_state, config, coef)
    rec_neurons = config.record.neuron_indices(config.n_neurons)
    # a synaptic current left in the initial state decays, so the synapse step runs then too
    synaptic = has_synaptic_input(config.stimuli) or bool(np.any(state.i_syn != 0))
    setup = engines.EngineSetup(config.n_neurons, config.method, coef,
                                synaptic_decay(config.model, config.dt_ms, config.precision),
                                config.dtype, synaptic, config.threads, tuple(engine_options),
                                min(run_plan.chunk_steps, config.steps), currents_vary(config.stimuli),
                                config.record.every, config.record.variables if rec_neurons.size else (),
                                rec_neurons.size)
    setup_started = time.perf_counter()
    runner = engine.start(setup)  # may still refuse (threads, device): before any input is drawn
    timings = {"setup_s": time.perf_counter() - setup_started, "input_s": 0.0, "wall_s": 0.0}
    generator = InputGenerator(config.stimuli, config.n_neurons, config.dt_ms, config.model.tau_syn,
                               config.dtype, config.seed, config.record.input_spikes)
    traces = {v: np.empty((config.record.samples(config.steps), rec_neurons.size), config.dtype)
              for v in config.record.variables}
    spikes, input_spikes = [], []
    offset = SPIKE_OFFSET_STEPS[config.method]
    with _progress_bar(config.steps, progress) as bar:
        for k0 in range(0, config.steps, run_plan.chunk_steps):
            k1 = min(k0 + run_plan.chunk_steps, config.steps)
            tick = time.perf_counter()
            chunk = generator.chunk(k0, k1)
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
    return _result(config, traces, rec_neurons, spikes, input_spikes, generator, timings, state)


def _initial_state(given: LIFState | None, config: RunConfig, coef) -> LIFState:
    """The given state checked and converted to the run's types (a copy), or every neuron at rest."""
    if given is None:
        return LIFState.resting(config.n_neurons, coef.u_rest, config.dtype)
    for name in ("u", "ref", "i_syn"):
        array = np.asarray(getattr(given, name))
        if array.shape != (config.n_neurons,):
            raise ParameterError(f"initial_state.{name} must have shape ({config.n_neurons},) (got {array.shape})")
    if not np.array_equal(np.asarray(given.ref), np.rint(given.ref)) or np.any(np.asarray(given.ref) < 0):
        raise ParameterError("initial_state.ref must hold whole numbers of steps >= 0")
    state = LIFState(np.array(given.u, dtype=config.dtype), np.array(given.ref, dtype=STEP_DTYPE),
                     np.array(given.i_syn, dtype=config.dtype))
    if not (np.all(np.isfinite(state.u)) and np.all(np.isfinite(state.i_syn))):
        raise ParameterError("initial_state must be finite (NaN or inf in u or i_syn)")
    return state


def _result(config, traces, rec_neurons, spikes, input_spikes, generator, timings, state) -> Result:
    recorded_input = None
    if config.record.input_spikes:
        empty = np.zeros(0, np.int64)
        step, neuron, synapse, source = ([np.concatenate(c) for c in zip(*input_spikes)] if input_spikes
                                         else [empty] * 4)
        order = np.lexsort((synapse, neuron, source, step))
        recorded_input = {"times_ms": step[order] * config.dt_ms, "neuron": neuron[order],
                          "synapse": synapse[order], "source": source[order]}
    return Result(
        config=config,
        t_ms=np.arange(0, config.steps, config.record.every) * config.dt_ms,
        traces=traces,
        recorded_neurons=rec_neurons,
        spike_times_ms=_concatenate(spikes, 0),
        spike_neurons=_concatenate(spikes, 1),
        input_spikes=recorded_input,
        weights=tuple(np.asarray(w) for w in generator.weights()),
        timings=timings,
        final_state=state,
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
