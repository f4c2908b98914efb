"""Model parameters: a frozen record, each field a scalar or one value per neuron."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..errors import ParameterError, as_numbers, require_finite, require_range

#: Unit of every model parameter (ms, mV, Ω).
UNITS = {
    "u_rest": "mV",
    "u_thresh": "mV",
    "tau_rest": "ms",
    "R": "Ω",
    "tau_m": "ms",
    "tau_syn": "ms",
    "u_reset": "mV",
}


@dataclass(frozen=True)
class LIFParams:
    """Leaky integrate-and-fire neuron, Gerstner & Kistler §4.1, as in the article.

    ``tau_m du/dt = -u + R I`` (forward Euler, method ``"article"``) or
    ``tau_m du/dt = -(u - u_rest) + R I`` (exact propagators, method ``"exact"``).
    After a spike ``u`` is set to ``u_reset`` and held there for the refractory period.
    Each field is a scalar or a sequence with one value per neuron.

    Attributes:
        u_rest: resting potential, mV (default 0.0); the leak's target with method "exact".
        u_thresh: firing threshold, mV (default 1.0); must exceed the reset potential.
        tau_rest: refractory period, ms (default 4.0).
        R: membrane resistance, Ω (default 1.0); R·I is in mV for I in mA.
        tau_m: membrane time constant, ms (default 10.0).
        tau_syn: decay time constant, ms, of an exponential receptor that names none
            (default 10.0): the article's synaptic current.
        u_reset: reset potential, mV (default None: ``u_rest``, as in the article).
    """

    u_rest: float | np.ndarray = 0.0
    u_thresh: float | np.ndarray = 1.0
    tau_rest: float | np.ndarray = 4.0
    R: float | np.ndarray = 1.0
    tau_m: float | np.ndarray = 10.0
    tau_syn: float | np.ndarray = 10.0
    u_reset: float | np.ndarray | None = None

    def __post_init__(self):
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None and field.name == "u_reset":
                continue
            if isinstance(value, (list, tuple, np.ndarray)):
                array = as_numbers(f"model.{field.name}", value).copy()
                array.setflags(write=False)
                object.__setattr__(self, field.name, array)
            require_finite(f"model.{field.name}", getattr(self, field.name))
        require_range("model.tau_m", self.tau_m, low=0.0, low_open=True, unit="ms")
        require_range("model.tau_syn", self.tau_syn, low=0.0, low_open=True, unit="ms")
        require_range("model.tau_rest", self.tau_rest, low=0.0, unit="ms")
        require_range("model.R", self.R, low=0.0, low_open=True, unit="Ω")
        if np.any(np.asarray(self.u_thresh) <= np.asarray(self.reset)):
            name = "model.u_reset" if self.u_reset is not None else "model.u_rest (the reset potential)"
            raise ParameterError(f"model.u_thresh must be > {name} (mV)")

    @property
    def reset(self):
        """The reset potential, mV: ``u_reset``, or ``u_rest`` when it is not given."""
        return self.u_rest if self.u_reset is None else self.u_reset

    def as_dict(self) -> dict:
        """Field name -> value (lists for per-neuron values; ``u_reset`` resolved)."""
        return {f.name: _plain(self.reset if f.name == "u_reset" else getattr(self, f.name)) for f in fields(self)}

    def per_neuron_size(self) -> int | None:
        """The population size implied by per-neuron fields, or None if all are scalars."""
        sizes = {np.size(v) for v in self._values() if np.ndim(v)}
        if len(sizes) > 1:
            raise ParameterError(f"model: per-neuron parameters must all have the same length (got {sorted(sizes)})")
        return sizes.pop() if sizes else None

    def check_size(self, n_neurons: int, name: str = "model") -> None:
        """Refuse per-neuron fields whose length is not ``n_neurons``."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and np.ndim(value) and np.shape(value) != (n_neurons,):
                raise ParameterError(
                    f"{name}.{f.name} must be a scalar or have one value per neuron "
                    f"({n_neurons}); got shape {np.shape(value)}")

    def _values(self):
        return [getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None]


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def concatenate(models, sizes) -> LIFParams:
    """One `LIFParams` for populations laid end to end: a field equal on every population
    stays a scalar, any other becomes one value per neuron."""
    values = {}
    for f in fields(LIFParams):
        if f.name == "u_reset":
            if all(m.u_reset is None for m in models):
                continue
            parts = [m.reset for m in models]
        else:
            parts = [getattr(m, f.name) for m in models]
        if all(np.ndim(p) == 0 for p in parts) and len({float(p) for p in parts}) == 1:
            values[f.name] = float(parts[0])
        else:
            values[f.name] = np.concatenate([np.broadcast_to(np.asarray(p, float), (n,)) for p, n in zip(parts, sizes)])
    return LIFParams(**values)
