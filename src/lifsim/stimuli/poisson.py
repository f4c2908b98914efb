"""Poisson input: synapses with their own spike trains, and Poisson spike counts.

`PoissonSynapses` follows the article: each synapse is a per-step Bernoulli process
(``r < rate·dt``) with its own efficacy, sending a charge ``w·q``. `PoissonInput` is
NEST's ``poisson_generator``: each neuron receives its own Poisson spike train, whose
count per step is drawn whole, so any rate works and the cost does not grow with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import (
    ParameterError,
    check_poisson_probability,
    require_choice,
    require_finite,
    require_int,
    require_number,
    require_range,
)
from .base import (
    NO_MEMORY, DenseDrive, DriveMemory, PoissonDraws, SpikeDrive, StimulusDefaults, Target, active_rows, check_window,
    generator_memory, window_steps,
)

#: Poisson generation modes: the article's per-step uniform draw, or geometric gaps between events.
GENERATIONS = ("per_step", "event")


@dataclass(frozen=True)
class PoissonSynapses(StimulusDefaults):
    """Poisson spike trains onto synapses: each neuron has its own ``synapses``.

    Each synapse fires as a Bernoulli process with probability ``rate_hz·dt·1e-3`` per step
    in ``start < t < stop`` (ms) — the article's draw ``r < rate·dt``. A spike of synapse
    ``i`` carries the charge ``w_i·q`` (mA·ms): it adds ``w_i·q/tau`` (mA) to an exponential
    receptor's current, or ``w_i·q·R/tau_m`` (mV) to ``u`` through a delta receptor, in its
    own step.

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
        population: the population it reaches (None: every neuron of the run).
        receptor: the receptor it reaches (None: the population's first).
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
    population: str | None = None
    receptor: str | None = None

    kind = "poisson"
    sends = "spikes"

    def validate(self, target: Target) -> None:
        name = target.name
        require_int(f"{name}.synapses", self.synapses, low=0)
        require_number(f"{name}.rate_hz", self.rate_hz)
        require_range(f"{name}.rate_hz", self.rate_hz, low=0.0, unit="Hz")
        check_smallest_rate(name, self.rate_hz, target.dt_ms)
        for key in ("weight_mean", "weight_sd", "q"):
            require_number(f"{name}.{key}", getattr(self, key))
        check_window(name, self.start_ms, self.stop_ms)
        require_finite(f"{name}.weight_mean", self.weight_mean)
        require_range(f"{name}.weight_sd", self.weight_sd, low=0.0)
        require_finite(f"{name}.q", self.q)
        require_choice(f"{name}.generation", self.generation, GENERATIONS)
        if self.weights is not None:
            require_finite(f"{name}.weights", self.weights)
            shape = np.shape(self.weights)
            if shape not in ((self.synapses,), (target.n_neurons, self.synapses)):
                raise ParameterError(f"{name}.weights must have shape ({self.synapses},) or "
                                     f"({target.n_neurons}, {self.synapses}) (got {shape})")
        check_poisson_probability(f"{name}.rate_hz ({self.rate_hz:g} Hz at dt = {target.dt_ms:g} ms)",
                                  self.rate_hz * target.dt_ms * 1e-3)

    def draw_weights(self, n_neurons: int, rng) -> np.ndarray:
        """Efficacies, shape (N, m): given, or drawn once from N(weight_mean, weight_sd)."""
        m = self.synapses
        if self.weights is None:
            return rng.normal(self.weight_mean, self.weight_sd, size=(n_neurons, m))
        return np.broadcast_to(np.asarray(self.weights, dtype=float), (n_neurons, m))

    def drive(self, target: Target, rng) -> SpikeDrive:
        weights = self.draw_weights(target.n_neurons, rng)
        probability = self.rate_hz * target.dt_ms * 1e-3
        window = window_steps(self.start_ms, self.stop_ms, target.dt_ms)
        n_syn = target.n_neurons * self.synapses
        if probability == 0.0 or n_syn == 0:
            draw, memory = _no_draws, NO_MEMORY
        elif self.generation == "per_step":
            draw, memory = _per_step_draws(rng, probability, window, n_syn)
        else:
            draw, memory = _event_draws(rng, probability, window, n_syn)
        m = max(self.synapses, 1)
        flat_weights = np.ascontiguousarray(weights).ravel()

        def events(k0, k1, with_synapse):
            step, synapse_id = draw(k0, k1)
            return step, synapse_id // m, synapse_id % m if with_synapse else None, flat_weights[synapse_id]

        return SpikeDrive(events, weights, self.q, memory)

    def elements_per_step(self) -> float:
        """Numbers per neuron and step: the summed injection, plus one uniform per synapse
        in per-step mode."""
        return 1.0 + (float(self.synapses) if self.generation == "per_step" else 0.0)

    def setup_bytes(self, n_neurons: int) -> int:
        """Memory for the efficacies and the per-synapse generator state, bytes."""
        return 16 * n_neurons * self.synapses


#: Smallest nonzero spike probability per step (below it, draws and gaps lose their meaning).
MIN_PROBABILITY = 1e-18


def check_smallest_rate(name: str, rate_hz: float, dt_ms: float) -> None:
    """Refuse a rate so small that rate·dt is below MIN_PROBABILITY (yet not 0)."""
    probability = float(rate_hz) * dt_ms * 1e-3
    if 0.0 < probability < MIN_PROBABILITY:
        raise ParameterError(f"{name}.rate_hz: rate·dt·1e-3 must be 0 or at least {MIN_PROBABILITY:g} "
                             f"(got {probability:g}); use 0 for no input")


def _per_step_draws(rng, probability, window, n_syn):
    """The article's draw: one uniform per synapse and active step, spike if r < p."""

    def draw(k0, k1):
        lo, hi = active_rows(k0, k1, window)
        if lo == hi or n_syn == 0:
            return _no_events()
        rows, synapse = np.nonzero(rng.random((hi - lo, n_syn)) < probability)
        return (rows + lo).astype(np.int64), synapse.astype(np.int64)

    return draw, generator_memory(rng)


#: Expected events per generation block of the event-driven Poisson input (bounds its memory).
EVENTS_PER_BLOCK = 1 << 18
#: Most steps per generation block (at low rates the expected events would need longer ones).
MAX_BLOCK_STEPS = 1 << 16


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

    block = int(min(MAX_BLOCK_STEPS, max(1, EVENTS_PER_BLOCK / (n_syn * probability))))
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

    generators = generator_memory(rng)

    def save():
        return {**generators.save(), **state, "next_step": next_step.copy()}

    def load(saved):
        generators.load(saved)
        next_step[:] = saved["next_step"]
        state.update(end=int(saved["end"]), **{k: np.array(saved[k]) for k in ("exponentials", "step", "synapse")})

    return draw, DriveMemory(save, load)


def _no_draws(k0, k1):
    return _no_events()


def _no_events():
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


#: Largest mean number of spikes per step of a `PoissonInput` (its count table grows with it).
MAX_SPIKES_PER_STEP = 1e4
#: A `PoissonInput` draws for each group of this many neurons from a stream of its own (spawned
#: from the stimulus's), so that groups are drawn on several threads with the same numbers.
NEURONS_PER_STREAM = 1024


@dataclass(frozen=True)
class PoissonInput(StimulusDefaults):
    """An independent Poisson spike train into every neuron of its target, as NEST's
    ``poisson_generator`` sends one.

    In every step of ``start < t < stop`` (ms) each neuron receives ``n`` spikes, ``n``
    drawn from Poisson(``rate_hz·dt·1e-3``) by inversion of one uniform number (from a
    stream per group of 1024 neurons, so that groups are drawn in parallel, on numba's
    threads); each spike adds ``weight`` in the receptor's unit (mA for an exponential
    receptor, mV for a delta one). The per-step mean may exceed 1 (``rate·dt`` is not
    limited as with per-synapse draws): 20 kHz at dt = 0.1 ms gives 2 spikes per step on
    average. Equivalent to many independent Poisson sources of equal weight (Brian2's
    ``PoissonInput``).

    Attributes:
        rate_hz: total rate of the train into each neuron, Hz.
        weight: jump per spike, mA (exponential receptor) or mV (delta receptor).
        start_ms, stop_ms: the active window, ms.
        population: the population it reaches (None: every neuron of the run).
        receptor: the receptor it reaches (None: the population's first).
    """

    rate_hz: float = 1000.0
    weight: float = 0.1
    start_ms: float = -math.inf
    stop_ms: float = math.inf
    population: str | None = None
    receptor: str | None = None

    kind = "poisson_input"
    sends = "dense"

    def validate(self, target: Target) -> None:
        require_number(f"{target.name}.rate_hz", self.rate_hz)
        require_number(f"{target.name}.weight", self.weight)
        require_range(f"{target.name}.rate_hz", self.rate_hz, low=0.0, unit="Hz")
        check_smallest_rate(target.name, self.rate_hz, target.dt_ms)
        mean = float(self.rate_hz) * target.dt_ms * 1e-3
        if mean > MAX_SPIKES_PER_STEP:
            raise ParameterError(f"{target.name}.rate_hz: rate·dt·1e-3 must be <= {MAX_SPIKES_PER_STEP:g} spikes "
                                 f"per step (got {mean:g}); lower the rate or dt")
        require_finite(f"{target.name}.weight", self.weight)
        check_window(target.name, self.start_ms, self.stop_ms)

    def drive(self, target: Target, rng) -> DenseDrive:
        window = window_steps(self.start_ms, self.stop_ms, target.dt_ms)
        cdf = poisson_cdf(self.rate_hz * target.dt_ms * 1e-3)
        guide = guide_table(cdf)
        with np.errstate(over="ignore"):  # a sum beyond the precision stops the run, naming where
            jumps = np.arange(cdf.size) * float(self.weight)
        streams = rng.spawn(-(-target.n_neurons // NEURONS_PER_STREAM))

        def active(k0, k1):
            lo, hi = active_rows(k0, k1, window)
            return lo < hi and self.rate_hz > 0.0

        def add(k0, k1, out):
            """Add this chunk's jumps to ``out`` (its rows are the chunk's steps), in out's precision."""
            from .event_loops import add_poisson_jumps_on  # numba is imported only when needed

            lo, hi = active_rows(k0, k1, window)
            add_poisson_jumps_on(target.threads, streams, cdf, guide, jumps.astype(out.dtype), out[lo:hi],
                                 NEURONS_PER_STREAM)

        drawn = window if self.rate_hz > 0.0 else (0, 0)
        draws = PoissonDraws(streams, NEURONS_PER_STREAM, target.n_neurons, cdf, guide, jumps, drawn)
        return DenseDrive(active, add, generator_memory(*streams), ((0, draws),))

    def elements_per_step(self) -> float:
        return 1.0  # the summed jump (its uniform is inverted as it is drawn, never held)

    def serial_elements_per_step(self) -> float:
        return 0.0  # groups of neurons are drawn on the run's threads


#: Bins of the guide table of a Poisson inversion (a power of two: ``u·bins`` is exact).
GUIDE_BINS = 1 << 12


def guide_table(cdf: np.ndarray, bins: int = GUIDE_BINS) -> np.ndarray:
    """For each bin ``[b/bins, (b+1)/bins)`` of [0, 1), the count every uniform in it inverts
    to (the number of cdf values at or below it); where a cdf value splits the bin,
    ``-1 - c`` with ``c`` the count at the bin's start, from which to scan."""
    lo = np.arange(bins) / bins
    first = np.searchsorted(cdf, lo, side="right")
    last = np.searchsorted(cdf, lo + 1.0 / bins, side="left")
    return np.where(first == last, first, -1 - first).astype(np.int64)


def poisson_cdf(mean: float) -> np.ndarray:
    """``P(n <= j)`` for n ~ Poisson(mean), j = 0, 1, ... until the tail is below 2**-53
    (its last entry set to 1, so every uniform in [0, 1) maps to a count)."""
    top = int(mean + 20.0 * math.sqrt(mean) + 60.0)
    j = np.arange(top + 1)
    log_pmf = j * math.log(mean) - mean - np.array([math.lgamma(x + 1.0) for x in j]) if mean > 0 else None
    pmf = np.exp(log_pmf) if mean > 0 else np.r_[1.0, np.zeros(top)]
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    last = int(np.searchsorted(cdf, 1.0 - 2.0**-53)) + 1
    cdf = cdf[:max(1, min(last, cdf.size))].copy()
    cdf[-1] = 1.0
    return cdf
