"""Input generation, in one place: currents and Poisson synaptic input.

A stimulus is a frozen description (`ConstantCurrent`, `SquarePulses`,
`NoiseCurrent`, `PoissonSynapses`). For a run, `InputGenerator`
turns a list of them into chunks of input, one `InputChunk` per range of steps:
the external current per step and neuron, and the synaptic input events. Every engine
consumes the same chunks, so the same seed gives the same input everywhere.

Times: step ``k`` is at ``t_k = k·dt`` ms. A stimulus window ``(start_ms, stop_ms)`` is
open: active for ``start < t_k < stop``, as in the article. Currents are in mA, rates
in Hz, charges in mA·ms.

Randomness: stimulus ``i`` of a run draws only from its own numpy ``Generator``, seeded
by ``SeedSequence(seed, spawn_key=(1, i))``; a chunk draws its numbers in (step, neuron,
synapse) order, so noise and per-step Poisson draws do not depend on the chunk size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .errors import (
    ParameterError,
    check_poisson_probability,
    require_choice,
    require_finite,
    require_int,
    require_range,
)
from .timegrid import in_steps

STIMULUS_STREAM = 1
#: Poisson generation modes: the article's per-step uniform draw, or geometric gaps between events.
GENERATIONS = ("per_step", "event")


def stimulus_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of stimulus number ``index`` in a run with ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(STIMULUS_STREAM, index))))


def window_steps(start_ms: float, stop_ms: float, dt_ms: float) -> tuple[int, int]:
    """Steps ``k`` with ``start < k·dt < stop``, as ``range(first, stop)`` bounds.

    A bound that is a whole number of steps up to rounding (10 ms at dt = 0.1 ms) counts
    as exactly that step, so the open window does not depend on float rounding.
    """
    first = max(0, math.floor(in_steps(start_ms, dt_ms)) + 1)
    return first, max(first, math.ceil(in_steps(stop_ms, dt_ms)))


def steps_in(duration_ms: float, dt_ms: float) -> int:
    """Steps ``k >= 0`` with ``k·dt < duration`` (at least one)."""
    return max(1, math.ceil(in_steps(duration_ms, dt_ms)))


def _active_rows(k0: int, k1: int, window: tuple[int, int]) -> tuple[int, int]:
    """Local rows of the chunk ``[k0, k1)`` that fall in ``window``, as a half-open pair."""
    lo = min(max(window[0], k0), k1)
    hi = max(min(window[1], k1), lo)
    return lo - k0, hi - k0


def _per_neuron(name: str, value, n_neurons: int) -> np.ndarray:
    """A scalar as shape (1,), a per-neuron sequence as shape (n,), checked."""
    require_finite(name, value)
    array = np.atleast_1d(np.asarray(value, dtype=float))
    if array.ndim != 1 or array.size not in (1, n_neurons):
        raise ParameterError(f"{name} must be a scalar or have one value per neuron ({n_neurons}); "
                             f"got shape {np.shape(value)}")
    return array


def _check_window(name: str, start_ms: float, stop_ms: float) -> None:
    for end, value in (("start_ms", start_ms), ("stop_ms", stop_ms)):
        if math.isnan(value):
            raise ParameterError(f"{name}.{end} must be a number of ms (got nan)")
    if stop_ms < start_ms:
        raise ParameterError(f"{name}.stop_ms must be >= {name}.start_ms (got {start_ms:g} to {stop_ms:g} ms)")


# ---------------------------------------------------------------- stimulus descriptions


@dataclass(frozen=True)
class ConstantCurrent:
    """A constant current, mA, scalar or one value per neuron, active for ``start < t < stop`` (ms)."""

    amplitude: float | tuple = 0.0
    start_ms: float = -math.inf
    stop_ms: float = math.inf

    kind = "constant"

    def validate(self, name: str, n_neurons: int, dt_ms: float) -> None:
        _per_neuron(f"{name}.amplitude", self.amplitude, n_neurons)
        _check_window(name, self.start_ms, self.stop_ms)

    def drive(self, ctx: "RunInputs", rng) -> "_CurrentDrive":
        amplitude = _per_neuron(f"{ctx.name}.amplitude", self.amplitude, ctx.n_neurons)
        window = window_steps(self.start_ms, self.stop_ms, ctx.dt_ms)

        def current(k0, k1):
            lo, hi = _active_rows(k0, k1, window)
            if lo == hi:
                return None
            if (lo, hi) == (0, k1 - k0):
                return amplitude[None, :]
            mask = np.zeros((k1 - k0, 1))
            mask[lo:hi] = 1.0
            return mask * amplitude[None, :]

        return _CurrentDrive(current)

    def varies(self) -> bool:
        """Whether the current changes during the run (a window switches it on or off)."""
        return math.isfinite(self.start_ms) or math.isfinite(self.stop_ms)

    def elements_per_step(self) -> float:
        return 0.0


@dataclass(frozen=True)
class SquarePulses:
    """Square current pulses: each ``(start_ms, stop_ms, amplitude_mA)``, on for ``start < t < stop``.

    Overlapping pulses add. An amplitude may be a scalar or one value per neuron.
    """

    pulses: tuple = ()

    kind = "square"

    def validate(self, name: str, n_neurons: int, dt_ms: float) -> None:
        for i, pulse in enumerate(self.pulses):
            if len(pulse) != 3:
                raise ParameterError(f"{name}.pulses[{i}] must be (start_ms, stop_ms, amplitude_mA) (got {pulse!r})")
            start, stop, amplitude = pulse
            _check_window(f"{name}.pulses[{i}]", float(start), float(stop))
            _per_neuron(f"{name}.pulses[{i}] amplitude", amplitude, n_neurons)

    def drive(self, ctx: "RunInputs", rng) -> "_CurrentDrive":
        windows = [window_steps(float(start), float(stop), ctx.dt_ms) for start, stop, _ in self.pulses]
        amplitudes = [_per_neuron(f"{ctx.name}.amplitude", a, ctx.n_neurons) for *_, a in self.pulses]

        def current(k0, k1):
            total = None
            for window, amplitude in zip(windows, amplitudes):
                lo, hi = _active_rows(k0, k1, window)
                if lo == hi:
                    continue
                if total is None:
                    total = np.zeros((k1 - k0, ctx.n_neurons if amplitude.size > 1 else 1))
                elif amplitude.size > total.shape[1]:
                    total = np.repeat(total, amplitude.size, axis=1)
                total[lo:hi] += amplitude[None, :]
            return total

        return _CurrentDrive(current)

    def varies(self) -> bool:
        return bool(self.pulses)

    def elements_per_step(self) -> float:
        return 1.0


@dataclass(frozen=True)
class NoiseCurrent:
    """Gaussian white-noise current: at every step in ``start < t < stop`` (ms) each neuron
    draws a fresh current from N(mean, sd) mA; 0 elsewhere."""

    mean: float = 0.0
    sd: float = 1.0
    start_ms: float = -math.inf
    stop_ms: float = math.inf

    kind = "noise"

    def validate(self, name: str, n_neurons: int, dt_ms: float) -> None:
        require_finite(f"{name}.mean", self.mean)
        require_range(f"{name}.sd", self.sd, low=0.0, unit="mA")
        _check_window(name, self.start_ms, self.stop_ms)

    def drive(self, ctx: "RunInputs", rng) -> "_CurrentDrive":
        window = window_steps(self.start_ms, self.stop_ms, ctx.dt_ms)

        def current(k0, k1):
            lo, hi = _active_rows(k0, k1, window)
            if lo == hi:
                return None
            values = np.zeros((k1 - k0, ctx.n_neurons))
            values[lo:hi] = rng.normal(self.mean, self.sd, size=(hi - lo, ctx.n_neurons))
            return values

        return _CurrentDrive(current)

    def varies(self) -> bool:
        return True

    def elements_per_step(self) -> float:
        return 1.0


@dataclass(frozen=True)
class PoissonSynapses:
    """Poisson spike trains onto exponential synapses: each neuron has its own ``synapses``.

    Each synapse fires as a Bernoulli process with probability ``rate_hz·dt·1e-3`` per step
    in ``start < t < stop`` (ms) — the article's draw ``r < rate·dt``. A spike of synapse
    ``i`` adds ``w_i·q/tau_syn`` (mA) to the neuron's synaptic current in its own step.

    Attributes:
        synapses: synapses per neuron (m).
        rate_hz: firing rate of each synapse, Hz.
        start_ms, stop_ms: the active window, ms.
        weight_mean, weight_sd: efficacies drawn once from N(mean, sd) (dimensionless),
            unless ``weights`` gives them: shape (m,) shared by all neurons or (N, m).
        q: charge injected by a spike through a synapse of efficacy 1, mA·ms.
        generation: ``"per_step"`` draws one uniform per synapse and step (the article's
            way, cost ∝ synapses × steps); ``"event"`` draws the geometric number of steps
            to each synapse's next spike, the same process at a cost ∝ spikes.
    """

    synapses: int = 25
    rate_hz: float = 20.0
    start_ms: float = -math.inf
    stop_ms: float = math.inf
    weight_mean: float = 1.0
    weight_sd: float = 0.5
    weights: tuple | None = None
    q: float = 1.5
    generation: str = "event"

    kind = "poisson"

    def validate(self, name: str, n_neurons: int, dt_ms: float) -> None:
        require_int(f"{name}.synapses", self.synapses, low=0)
        require_range(f"{name}.rate_hz", self.rate_hz, low=0.0, unit="Hz")
        _check_window(name, self.start_ms, self.stop_ms)
        require_finite(f"{name}.weight_mean", self.weight_mean)
        require_range(f"{name}.weight_sd", self.weight_sd, low=0.0)
        require_finite(f"{name}.q", self.q)
        require_choice(f"{name}.generation", self.generation, GENERATIONS)
        if self.weights is not None:
            require_finite(f"{name}.weights", self.weights)
            self._weight_shape(name, n_neurons)
        check_poisson_probability(f"{name}.rate_hz ({self.rate_hz:g} Hz at dt = {dt_ms:g} ms)",
                                  self.rate_hz * dt_ms * 1e-3)

    def _weight_shape(self, name, n_neurons):
        shape = np.shape(self.weights)
        if shape not in ((self.synapses,), (n_neurons, self.synapses)):
            raise ParameterError(f"{name}.weights must have shape ({self.synapses},) or "
                                 f"({n_neurons}, {self.synapses}) (got {shape})")

    def draw_weights(self, name: str, n_neurons: int, rng) -> np.ndarray:
        """Efficacies, shape (N, m): given, or drawn once from N(weight_mean, weight_sd)."""
        m = self.synapses
        if self.weights is None:
            return rng.normal(self.weight_mean, self.weight_sd, size=(n_neurons, m))
        return np.broadcast_to(np.asarray(self.weights, dtype=float), (n_neurons, m))

    def drive(self, ctx: "RunInputs", rng) -> "_SpikeDrive":
        weights = self.draw_weights(ctx.name, ctx.n_neurons, rng)
        probability = self.rate_hz * ctx.dt_ms * 1e-3
        window = window_steps(self.start_ms, self.stop_ms, ctx.dt_ms)
        n_syn = ctx.n_neurons * self.synapses
        if probability == 0.0 or n_syn == 0:
            draw = _no_draws
        elif self.generation == "per_step":
            draw = _per_step_draws(rng, probability, window, n_syn)
        else:
            draw = _event_draws(rng, probability, window, n_syn)
        m = max(self.synapses, 1)
        flat_weights = np.ascontiguousarray(weights).ravel()

        def events(k0, k1, with_synapse):
            step, synapse_id = draw(k0, k1)
            return step, synapse_id // m, synapse_id % m if with_synapse else None, flat_weights[synapse_id]

        return _SpikeDrive(events, weights, self.q)

    def elements_per_step(self) -> float:
        """Numbers per neuron and step: the summed injection, plus one uniform per synapse
        in per-step mode."""
        return 1.0 + (float(self.synapses) if self.generation == "per_step" else 0.0)

    def setup_bytes(self, n_neurons: int) -> int:
        """Memory for the efficacies and the per-synapse generator state, bytes."""
        return 16 * n_neurons * self.synapses


def _per_step_draws(rng, probability, window, n_syn):
    """The article's draw: one uniform per synapse and active step, spike if r < p."""

    def draw(k0, k1):
        lo, hi = _active_rows(k0, k1, window)
        if lo == hi or n_syn == 0:
            return _no_events()
        rows, synapse = np.nonzero(rng.random((hi - lo, n_syn)) < probability)
        return (rows + lo).astype(np.int64), synapse.astype(np.int64)

    return draw


#: Expected events per generation block of the event-driven Poisson input (bounds its memory).
EVENTS_PER_BLOCK = 1 << 18


def _event_draws(rng, probability, window, n_syn):
    """Geometric gaps: the steps to a synapse's next spike, the per-step draw's exact law.

    Events are drawn for fixed blocks of steps, whose length depends only on the number
    of synapses and the probability, and handed out chunk by chunk, keeping their order:
    the draws, and the order of the events of any one step, do not depend on how the run
    is cut into chunks. The gaps come from ``rng`` in batches, as ``ceil(E / -ln(1 - p))``
    for E exponential with mean 1 — exactly the geometric law, ``P(gap > k) = (1 - p)^k``,
    from numpy's fast exponential sampler; a compiled loop spends them.
    """
    from .event_loops import by_step, geometric, spend_gaps  # numba is imported only when needed

    block = int(max(1, EVENTS_PER_BLOCK / (n_syn * probability)))
    scale = -1.0 / math.log1p(-probability)  # steps per unit of exponential
    next_step = window[0] - 1 + geometric(rng.standard_exponential(n_syn), scale)
    batch = int(1.25 * block * n_syn * probability) + 1024
    state = {"end": window[0], "exponentials": np.zeros(0),
             "step": np.zeros(0, np.int64), "synapse": np.zeros(0, np.int64)}

    def generate(start, end):
        """Every spike of steps [start, end): by step, then by synapse."""
        steps, synapses, first = [], [], 0
        while first < n_syn:
            if state["exponentials"].size == 0:
                state["exponentials"] = rng.standard_exponential(batch)
            step, synapse, first, used = spend_gaps(next_step, end, state["exponentials"], scale, first)
            state["exponentials"] = state["exponentials"][used:]
            steps.append(step)
            synapses.append(synapse)
        return by_step(np.concatenate(steps), np.concatenate(synapses), start, end)

    def draw(k0, k1):
        end = min(k1, window[1])
        while state["end"] < end:
            start, state["end"] = state["end"], min(state["end"] + block, window[1])
            step, synapse = generate(start, state["end"])
            state.update(step=np.concatenate([state["step"], step]),
                         synapse=np.concatenate([state["synapse"], synapse]))
        cut = np.searchsorted(state["step"], k1)
        step, synapse = state["step"][:cut] - k0, state["synapse"][:cut]
        state.update(step=state["step"][cut:], synapse=state["synapse"][cut:])
        return step, synapse

    return draw


def _no_draws(k0, k1):
    return _no_events()


def _no_events():
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


@dataclass(frozen=True)
class SpikeTimes:
    """Input spikes at given times: a deterministic synaptic input.

    Spike ``j`` arrives at ``times_ms[j]`` (in the step nearest to it, halves up) on
    neuron ``neuron[j]`` through a synapse of efficacy ``weight[j]`` (dimensionless), adding
    ``weight·q/tau_syn`` (mA) to that neuron's synaptic current in its own step.
    ``neuron`` and ``weight`` may be scalars shared by all spikes; ``q`` is in mA·ms.
    """

    times_ms: tuple = ()
    neuron: object = 0
    weight: object = 1.0
    q: float = 1.5

    kind = "spikes"

    def validate(self, name: str, n_neurons: int, dt_ms: float) -> None:
        times = np.atleast_1d(np.asarray(self.times_ms, dtype=float))
        if times.ndim != 1:
            raise ParameterError(f"{name}.times_ms must be a list of times in ms (got shape {times.shape})")
        require_range(f"{name}.times_ms", times, low=0.0, unit="ms")
        if not np.array_equal(np.asarray(self.neuron), np.rint(np.asarray(self.neuron, dtype=float))):
            raise ParameterError(f"{name}.neuron must be whole neuron indices (got {self.neuron!r})")
        for key in ("neuron", "weight"):
            value = np.asarray(getattr(self, key))
            if value.ndim and value.shape != times.shape:
                raise ParameterError(f"{name}.{key} must be a scalar or have one value per spike "
                                     f"({times.size}); got shape {value.shape}")
        require_range(f"{name}.neuron", self.neuron, low=0, high=n_neurons - 1)
        require_finite(f"{name}.weight", self.weight)
        require_finite(f"{name}.q", self.q)

    def drive(self, ctx: "RunInputs", rng) -> "_SpikeDrive":
        times = np.atleast_1d(np.asarray(self.times_ms, dtype=float))
        step = np.array([math.floor(in_steps(t, ctx.dt_ms) + 0.5) for t in times], dtype=np.int64)
        neuron = np.broadcast_to(np.asarray(self.neuron, dtype=np.int64), step.shape)
        weight = np.broadcast_to(np.asarray(self.weight, dtype=float), step.shape)
        order = np.argsort(step, kind="stable")
        step, neuron, weight = step[order], neuron[order], weight[order]

        def events(k0, k1, with_synapse):
            lo, hi = np.searchsorted(step, [k0, k1])
            return step[lo:hi] - k0, neuron[lo:hi], np.zeros(hi - lo, np.int64), weight[lo:hi]

        return _SpikeDrive(events, None, self.q)

    def elements_per_step(self) -> float:
        return 1.0  # the summed injection


def currents_vary(stimuli) -> bool:
    """Whether the stimuli's external current may change from step to step."""
    return any(s.varies() for s in stimuli if hasattr(s, "varies"))


def has_synaptic_input(stimuli) -> bool:
    """Whether any stimulus sends input spikes."""
    return any(isinstance(s, (PoissonSynapses, SpikeTimes)) for s in stimuli)


STIMULUS_KINDS = {cls.kind: cls for cls in (ConstantCurrent, SquarePulses, NoiseCurrent, PoissonSynapses, SpikeTimes)}


# ---------------------------------------------------------------- per-run generation


@dataclass(frozen=True)
class RunInputs:
    """What a stimulus needs to know of the run: size, step, and its own name for messages."""

    n_neurons: int
    dt_ms: float
    name: str = "stimulus"


class _CurrentDrive(NamedTuple):
    current: object  # (k0, k1) -> array broadcastable to (k1-k0, N), float64 mA, or None


class _SpikeDrive(NamedTuple):
    events: object  # (k0, k1, with_synapse) -> local step, neuron, synapse within the neuron (or None), efficacy
    weights: np.ndarray | None  # (N, m) efficacies of a Poisson stimulus, to report
    q: float


class SynapticEvents(NamedTuple):
    """Input spikes of one chunk: local step, target neuron, and the injected ``w·q/tau_syn`` (mA)."""

    step: np.ndarray
    neuron: np.ndarray
    amount: np.ndarray


class InputSpikes(NamedTuple):
    """Recorded input spikes: global step, neuron, synapse index within the neuron, stimulus index."""

    step: np.ndarray
    neuron: np.ndarray
    synapse: np.ndarray
    source: np.ndarray


@dataclass(frozen=True)
class InputChunk:
    """Input for steps ``[k0, k0 + steps)``.

    ``current`` has shape (steps, N) when the run's current varies in time, else (1, N), in
    the run's precision, mA. ``events`` is None when the run has no synaptic input.
    """

    k0: int
    steps: int
    current: np.ndarray
    events: SynapticEvents | None
    input_spikes: InputSpikes | None = None

    def dense_injection(self, n_neurons: int) -> np.ndarray:
        """The events summed per (step, neuron), shape (steps, N), mA, in event order."""
        dense = np.zeros((self.steps, n_neurons), dtype=self.current.dtype)
        if self.events is not None:
            np.add.at(dense, (self.events.step, self.events.neuron), self.events.amount)
        return dense


@dataclass
class InputGenerator:
    """Turns a run's stimuli into `InputChunk` objects, in step order."""

    stimuli: tuple
    n_neurons: int
    dt_ms: float
    tau_syn: object  # ms, scalar or per neuron
    dtype: type
    seed: int
    record_input_spikes: bool = False
    _drives: list = field(init=False, repr=False)

    def __post_init__(self):
        self._drives = [
            stimulus.drive(RunInputs(self.n_neurons, self.dt_ms, f"stimulus[{i}]"),
                           stimulus_rng(self.seed, i))
            for i, stimulus in enumerate(self.stimuli)
        ]
        self._per_tau_syn = 1.0 / np.asarray(self.tau_syn, dtype=float)  # 1/ms, scalar or per neuron

    @property
    def time_varying(self) -> bool:
        """Whether the external current may change between steps: then every chunk's
        current has one row per step, else a single row."""
        return currents_vary(self.stimuli)

    @property
    def has_synapses(self) -> bool:
        return has_synaptic_input(self.stimuli)

    def weights(self) -> list[np.ndarray]:
        """The efficacies of each synaptic stimulus, shape (N, m)."""
        return [d.weights for d in self._drives if isinstance(d, _SpikeDrive) and d.weights is not None]

    def chunk(self, k0: int, k1: int) -> InputChunk:
        current = self._current(k0, k1)
        events, spikes = self._events(k0, k1) if self.has_synapses else (None, None)
        return InputChunk(k0, k1 - k0, current, events, spikes)

    def _current(self, k0, k1):
        parts = [part for d in self._drives if isinstance(d, _CurrentDrive)
                 if (part := d.current(k0, k1)) is not None]
        total = np.zeros((1, 1))
        for part in parts:
            total = total + part
        rows = k1 - k0 if self.time_varying else 1
        return np.ascontiguousarray(np.broadcast_to(total, (rows, self.n_neurons)), dtype=self.dtype)

    def _events(self, k0, k1):
        steps, neurons, amounts, recorded = [], [], [], []
        for index, drive in enumerate(self._drives):
            if not isinstance(drive, _SpikeDrive):
                continue
            step, neuron, synapse, weight = drive.events(k0, k1, self.record_input_spikes)
            steps.append(step)
            neurons.append(neuron)
            per_tau = self._per_tau_syn[neuron] if self._per_tau_syn.ndim else self._per_tau_syn
            amounts.append((weight * (drive.q * per_tau)).astype(self.dtype))
            if self.record_input_spikes:
                recorded.append((step + k0, neuron, synapse, np.full(step.size, index)))
        events = SynapticEvents(_joined(steps), _joined(neurons), _joined(amounts))
        spikes = InputSpikes(*(_joined(column) for column in zip(*recorded))) if recorded else None
        return events, spikes


def _joined(arrays):
    """The arrays end to end (the one array itself when there is one)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
