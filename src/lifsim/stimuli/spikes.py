"""Input spikes at given times: a deterministic synaptic input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, as_numbers, require_finite, require_number, require_range
from ..timegrid import whole_steps
from .base import SpikeDrive, StimulusDefaults, Target


@dataclass(frozen=True)
class SpikeTimes(StimulusDefaults):
    """Input spikes at given times.

    Spike ``j`` arrives at ``times_ms[j]`` (in the step nearest to it, halves up) on
    neuron ``neuron[j]`` (an index within the target population) through a synapse of
    efficacy ``weight[j]`` (dimensionless), carrying the charge ``weight·q`` (mA·ms): it adds
    ``weight·q/tau`` (mA) to an exponential receptor's current, or ``weight·q·R/tau_m``
    (mV) to ``u`` through a delta receptor, in its own step. ``neuron`` and ``weight`` may
    be scalars shared by all spikes; ``q`` is in mA·ms.
    ``population``/``receptor``: the target (None: every neuron of the run / the first receptor).
    """

    times_ms: tuple = ()
    neuron: object = 0
    weight: object = 1.0
    q: float = 1.5
    population: str | None = None
    receptor: str | None = None

    kind = "spikes"
    sends = "spikes"

    def validate(self, target: Target) -> None:
        name = target.name
        times = np.atleast_1d(as_numbers(f"{name}.times_ms", self.times_ms))
        if times.ndim != 1:
            raise ParameterError(f"{name}.times_ms must be a list of times in ms (got shape {times.shape})")
        require_range(f"{name}.times_ms", times, low=0.0, unit="ms")
        neuron = as_numbers(f"{name}.neuron", self.neuron)
        if not np.array_equal(neuron, np.rint(neuron)):
            raise ParameterError(f"{name}.neuron must be whole neuron indices (got {self.neuron!r})")
        for key in ("neuron", "weight"):
            value = np.asarray(getattr(self, key))
            if value.ndim and value.shape != times.shape:
                raise ParameterError(f"{name}.{key} must be a scalar or have one value per spike "
                                     f"({times.size}); got shape {value.shape}")
        require_range(f"{name}.neuron", self.neuron, low=0, high=target.n_neurons - 1)
        require_finite(f"{name}.weight", self.weight)
        require_number(f"{name}.q", self.q)

    def drive(self, target: Target, rng) -> SpikeDrive:
        times = np.atleast_1d(np.asarray(self.times_ms, dtype=float))
        step = whole_steps(times, target.dt_ms).reshape(-1)
        neuron = np.broadcast_to(np.asarray(self.neuron, dtype=np.int64), step.shape)
        weight = np.broadcast_to(np.asarray(self.weight, dtype=float), step.shape)
        order = np.argsort(step, kind="stable")
        step, neuron, weight = step[order], neuron[order], weight[order]

        def events(k0, k1, with_synapse):
            lo, hi = np.searchsorted(step, [k0, k1])
            return step[lo:hi] - k0, neuron[lo:hi], np.zeros(hi - lo, np.int64), weight[lo:hi]

        return SpikeDrive(events, None, self.q)

    def elements_per_step(self) -> float:
        return 1.0  # the summed injection

    def windows_ms(self) -> list[tuple[float, float]]:
        return []
