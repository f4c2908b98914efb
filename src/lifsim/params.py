"""Model parameters: a frozen record, each field a scalar or one value per neuron."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import ParameterError, require_finite, require_range

#: Unit of every model parameter (ms, mV, mA, Ω).
UNITS = {
    "u_rest": "mV",
    "u_thresh": "mV",
    "tau_rest": "ms",
    "R": "Ω",
    "tau_m": "ms",
    "tau_syn": "ms",
}


@dataclass(frozen=True)
class LIFParams:
    """Leaky integrate-and-fire neuron, Gerstner & Kistler §4.1, as in the article.

    ``tau_m du/dt = -u + R I`` (forward Euler, method ``"article"``) or
    ``tau_m du/dt = -(u - u_rest) + R I`` (exact propagators, method ``"exact"``).
    Each field is a scalar or a sequence with one value per neuron.

    Attributes:
        u_rest: reset and resting potential, mV (default 0.0).
        u_thresh: firing threshold, mV (default 1.0).
        tau_rest: refractory period, ms (default 4.0).
        R: membrane resistance, Ω (default 1.0); R·I is in mV for I in mA.
        tau_m: membrane time constant, ms (default 10.0).
        tau_syn: decay time constant of the summed synaptic current, ms (default 10.0).
    """

    u_rest: float | np.ndarray = 0.0
    u_thresh: float | np.ndarray = 1.0
    tau_rest: float | np.ndarray = 4.0
    R: float | np.ndarray = 1.0
    tau_m: float | np.ndarray = 10.0
    tau_syn: float | np.ndarray = 10.0

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, (list, tuple, np.ndarray)):
                array = np.array(value, dtype=float)
                array.setflags(write=False)
                object.__setattr__(self, field.name, array)
            require_finite(f"model.{field.name}", getattr(self, field.name))
        require_range("model.tau_m", self.tau_m, low=0.0, low_open=True, unit="ms")
        require_range("model.tau_syn", self.tau_syn, low=0.0, low_open=True, unit="ms")
        require_range("model.tau_rest", self.tau_rest, low=0.0, unit="ms")
        require_range("model.R", self.R, low=0.0, low_open=True, unit="Ω")
        if np.any(np.asarray(self.u_thresh) <= np.asarray(self.u_rest)):
            raise ParameterError("model.u_thresh must be > model.u_rest (mV)")

    def as_dict(self) -> dict:
        """Field name -> value (lists for per-neuron values)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def per_neuron_size(self) -> int | None:
        """The population size implied by per-neuron fields, or None if all are scalars."""
        sizes = {np.size(getattr(self, f.name)) for f in fields(self) if np.ndim(getattr(self, f.name))}
        if len(sizes) > 1:
            raise ParameterError(f"model: per-neuron parameters must all have the same length (got {sorted(sizes)})")
        return sizes.pop() if sizes else None

    def check_size(self, n_neurons: int) -> None:
        """Refuse per-neuron fields whose length is not ``n_neurons``."""
        for f in fields(self):
            value = getattr(self, f.name)
            if np.ndim(value) and np.shape(value) != (n_neurons,):
                raise ParameterError(
                    f"model.{f.name} must be a scalar or have one value per neuron "
                    f"({n_neurons}); got shape {np.shape(value)}")


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else float(value)
