"""What a differentiable run takes, without TensorFlow: the parameters with a gradient, the
surrogates' names, `GradientOptions` and the loss's `Target` (`lifsim.fit.gradients` runs them)."""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from ..errors import ParameterError, require_bool, require_choice, require_number, require_range
from ..simulation.config import RunConfig
from ..simulation.plan import available_memory

#: Model parameters with a gradient, and their units.
GRADIENT_PARAMETERS = {"tau_m": "ms", "R": "Ω", "u_rest": "mV", "u_reset": "mV", "u_thresh": "mV",
                       "tau_syn": "ms"}
#: Bytes kept per neuron, step and state variable while a chunk is taped (intermediates of
#: the step, float64 at most).
TAPE_BYTES_PER_VALUE = 8 * 12
#: The longest taped chunk, steps: longer ones compile no faster and hold more.
MAX_CHUNK_STEPS = 2000
#: The surrogate derivatives of the spike (`lifsim.fit.gradients.SURROGATES` has their formulas).
SURROGATE_NAMES = ("superspike", "sigmoid", "triangle")


@dataclass(frozen=True)
class GradientOptions:
    """How spikes are differentiated.

    Attributes:
        surrogate: a name of `SURROGATE_NAMES` (default ``"superspike"``).
        scale: the surrogate's slope β, 1/mV (default None: 10/(u_thresh − u_reset), a width
            of a tenth of the reset-to-threshold gap).
        detach_reset: whether the reset carries no gradient of the spike (default True).
        chunk_steps: steps per taped chunk (default None: as many as fit in a quarter of the
            available memory, at most 2,000).
        soft_spikes: run the smooth model instead, whose spike is the soft ``σ(v)`` and whose
            reset is ``u_free + (u_reset − u_free)·σ(v)``: its loss is differentiable, and its
            gradient is what the surrogate computes. For checking gradients against finite
            differences; its spikes (``σ > ½``) are not the reference engine's.
    """

    surrogate: str = "superspike"
    scale: float | None = None
    detach_reset: bool = True
    chunk_steps: int | None = None
    soft_spikes: bool = False

    def __post_init__(self):
        require_choice("surrogate", self.surrogate, SURROGATE_NAMES)
        if self.scale is not None:
            require_number("surrogate scale", self.scale)
            require_range("surrogate scale", self.scale, low=0.0, low_open=True, unit="1/mV")
        require_bool("detach_reset", self.detach_reset)
        require_bool("soft_spikes", self.soft_spikes)
        if self.chunk_steps is not None and (not isinstance(self.chunk_steps, int) or self.chunk_steps < 1):
            raise ParameterError(f"chunk_steps must be a whole number >= 1 (got {self.chunk_steps!r})")


@dataclass(frozen=True)
class Target:
    """What the loss compares the run with, per neuron of the run (all neurons share it).

    ``loss = voltage_weight · mean_k (u_k − voltage_k)² + spike_weight · Σ_k (f_k − g_k)²·dt/τ``:
    the mean squared error of the recorded potential (mV², ``u_k`` as the run records it,
    step ``k``) and the van Rossum distance² between the (surrogate) spike train's
    exponential trace ``f`` and the target spikes' ``g`` (time constant ``tau_ms``).

    Attributes:
        voltage: target potential per step, mV, shape (steps,), or None.
        spike_times_ms: target spike times, ms, or None.
        tau_ms: van Rossum time constant, ms.
        voltage_weight, spike_weight: the terms' weights.
    """

    voltage: np.ndarray | None = None
    spike_times_ms: np.ndarray | None = None
    tau_ms: float = 10.0
    voltage_weight: float = 1.0
    spike_weight: float = 1.0


def gradient_memory(config: RunConfig, chunk_steps: int) -> int:
    """Bytes a differentiable run of ``config`` needs with taped chunks of ``chunk_steps``
    (an estimate): the tape of one chunk, its input, and the states kept between chunks."""
    n, receptors = config.n_neurons, len(config.layout.receptors)
    values = 4 + 3 * receptors  # per neuron and step: membrane, refractory, trace, loss; 3 per receptor
    per_step = n * values * TAPE_BYTES_PER_VALUE + n * (1 + receptors) * 8 * 3
    states = -(-config.steps // chunk_steps) * n * values * 8
    return chunk_steps * per_step + states


def choose_chunk(config: RunConfig, options: GradientOptions, memory_limit: int | None = None) -> tuple[int, int]:
    """The taped chunk's steps and the run's memory, bytes; refuses a run that does not fit."""
    limit = available_memory() if memory_limit is None else memory_limit
    if options.chunk_steps is not None:
        steps = min(options.chunk_steps, config.steps)
    else:
        per_step = max(1, gradient_memory(config, 2) - gradient_memory(config, 1))
        steps = int(min(config.steps, MAX_CHUNK_STEPS, max(1, (limit // 4) // per_step)))
    needed = gradient_memory(config, steps)
    if needed > limit:
        raise ParameterError(f"a differentiable run of {config.n_neurons} neurons × {config.steps} steps needs "
                             f"{needed / 2**30:.2f} GiB with chunks of {steps} steps; {limit / 2**30:.2f} GiB "
                             "are available: use fewer neurons, fewer steps or a smaller chunk_steps")
    return steps, needed


def spike_trace(times_ms, steps: int, dt_ms: float, tau_ms: float, method) -> np.ndarray:
    """The exponential trace ``g_k = g_{k-1}·exp(−dt/τ) + n_k`` of spikes at ``times_ms``,
    ``n_k`` the spikes a run of ``method`` would report at step ``k`` (its spike of step
    ``k`` is at ``(k + offset)·dt``)."""
    times = np.asarray(times_ms, float)
    step = np.rint(times / dt_ms).astype(np.int64) - method.spike_offset_steps
    counts = np.bincount(step[(step >= 0) & (step < steps)], minlength=steps).astype(float)
    decay = math.exp(-dt_ms / tau_ms)
    out = np.empty(steps)
    value = 0.0
    for k in range(steps):  # a first-order filter: steps of a fit are few enough for Python
        value = value * decay + counts[k]
        out[k] = value
    return out
