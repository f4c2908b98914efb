"""What a differentiable run takes, without TensorFlow: the parameters with a gradient, the
surrogates' names, `GradientOptions` and the loss's `Target` (`lifsim.fit.gradients` runs them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, require_bool, require_choice, require_number, require_range

#: Model parameters with a gradient, and their units.
GRADIENT_PARAMETERS = {"tau_m": "ms", "R": "Ω", "u_rest": "mV", "u_reset": "mV", "u_thresh": "mV",
                       "tau_syn": "ms"}
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
