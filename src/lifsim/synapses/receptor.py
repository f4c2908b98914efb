"""Receptors: the synapse types of a population, each with its kind and time constant.

A receptor turns arriving spikes into a drive of the membrane:

- ``exponential``: a current (mA) that jumps by each spike's weight and decays with
  ``tau_ms`` (the article's synaptic current; Brian2's CUBA ``ge``, NEST ``iaf_psc_exp``);
- ``delta``: each spike's weight is a jump of ``u`` (mV) in its arrival step (Brunel 2000,
  NEST ``iaf_psc_delta``); a jump that arrives while the neuron is refractory is discarded.

Weights are in the receptor's unit: mA for an exponential receptor, mV for a delta one.
A stimulus that sends charges (`lifsim.PoissonSynapses`, `lifsim.SpikeTimes`: a spike of
efficacy ``w`` carries ``w·q`` mA·ms) jumps an exponential receptor by ``w·q/tau_ms`` mA and
a delta receptor by ``w·q·R/tau_m`` mV (the charge on the membrane capacitance tau_m/R).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import ParameterError, require_choice, require_number, require_range
from ..neuron.rule import PRECISIONS, as_dtype, exprel

#: Receptor kind -> the unit of its weights and of its state.
RECEPTOR_KINDS = {"exponential": "mA", "delta": "mV"}
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


def check_name(what: str, name) -> str:
    """Refuse a name that is not 1 to 64 letters, digits, ``_`` or ``-`` (starting with a letter or ``_``)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ParameterError(f"{what} must be 1 to 64 letters, digits, _ or -, starting with a letter or _ "
                             f"(got {name!r})")
    return name


@dataclass(frozen=True)
class Receptor:
    """A synapse type of a population.

    Attributes:
        name: how projections and stimuli name it (letters, digits, ``_``, ``-``).
        kind: ``"exponential"`` (a decaying current, mA) or ``"delta"`` (a jump of u, mV).
        tau_ms: decay time constant of an exponential receptor, ms; None takes the
            population's ``model.tau_syn``. A delta receptor has none.
    """

    name: str = "syn"
    kind: str = "exponential"
    tau_ms: float | None = None

    def __post_init__(self):
        check_name("receptor name", self.name)
        require_choice(f"receptor {self.name}.kind", self.kind, tuple(RECEPTOR_KINDS))
        if self.tau_ms is not None:
            if self.kind == "delta":
                raise ParameterError(f"receptor {self.name}.tau_ms: a delta receptor has no time constant")
            require_number(f"receptor {self.name}.tau_ms", self.tau_ms)
            require_range(f"receptor {self.name}.tau_ms", self.tau_ms, low=0.0, low_open=True, unit="ms")

    @property
    def unit(self) -> str:
        """The unit of this receptor's weights: mA (exponential) or mV (delta)."""
        return RECEPTOR_KINDS[self.kind]


class ReceptorCoefficients(NamedTuple):
    """Per-run constants of the receptor slots, each of shape (R,) when every neuron
    shares them, else (R, N), in the run's precision (``charge`` in float64).

    ``decay``: ``x ← x·decay + in`` per step; ``s``: the drive factor (mV per unit of the
    receptor); ``current``: 1 where the slot is an exponential receptor (its value counts in
    the recorded ``i_syn``), else 0; ``charge``: the jump per mA·ms of charge sent by a
    stimulus (1/tau for an exponential receptor, R/tau_m for a delta one).
    """

    decay: np.ndarray
    s: np.ndarray
    current: np.ndarray
    charge: np.ndarray


def receptor_coefficients(layout, dt_ms: float, method: str, precision: str) -> ReceptorCoefficients:
    """The receptor constants of every slot of ``layout`` (`lifsim.network.Layout`).

    A population without the slot's receptor gets zeros there: it never receives input on it.
    """
    rows = np.zeros((4, len(layout.receptors), layout.n_neurons))
    for population, (lo, hi) in zip(layout.populations, layout.spans()):
        for receptor in population.receptors:
            j = layout.receptors.index(receptor.name)
            for row, value in zip(rows, _constants(receptor, population.model, dt_ms, method)):
                row[j, lo:hi] = value
    decay, s, current, charge = (_compact(r) for r in rows)
    dtype = PRECISIONS[precision]
    out = ReceptorCoefficients(as_dtype(decay, dtype), as_dtype(s, dtype), as_dtype(current, dtype), charge)
    for name, value in (("drive", out.s), ("charge", charge), ("charge", as_dtype(charge, dtype))):
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"model.tau_syn, a receptor's tau_ms, model.R or model.tau_m: the receptors' "
                                 f"{name} per step is not finite in {precision} at dt = {dt_ms:g} ms; use time "
                                 "constants closer to dt, a smaller R, or precision float64")
    return out


def _constants(receptor: Receptor, model, dt_ms: float, method: str):
    """decay, s, current flag, charge factor of one receptor, float64 (scalars or per neuron)."""
    tau_m, R = np.asarray(model.tau_m, float), np.asarray(model.R, float)
    if receptor.kind == "delta":
        return 0.0, 1.0, 0.0, R / tau_m
    tau = np.asarray(model.tau_syn if receptor.tau_ms is None else receptor.tau_ms, float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # checked in the run's precision
        if method == "article":
            s = R * (dt_ms / tau_m)
        else:
            s = _exact_drive(R, tau_m, tau, dt_ms)
        return np.exp(-dt_ms / tau), s, 1.0, 1.0 / tau


def _exact_drive(R, tau_m, tau, dt_ms):
    """R/tau_m ∫ exp(-(dt-t)/tau_m) exp(-t/tau) dt over the step: with the relative rate
    ``g = 1/tau_m - 1/tau``, ``R·dt/tau_m·exp(-dt/tau_m)·exprel(g·dt)`` (accurate at
    tau_m = tau), or where ``|g·dt| > 1`` the same as ``R/(tau_m·g)·(exp(-dt/tau) - exp(-dt/tau_m))``,
    which stays finite when one time constant is tiny beside dt."""
    rate_gap = (tau - tau_m) / (tau_m * tau)  # 1/tau_m - 1/tau, without cancellation
    x = dt_ms * rate_gap
    near = R * dt_ms / tau_m * np.exp(-dt_ms / tau_m) * exprel(np.where(np.abs(x) > 1.0, 0.0, x))
    safe_gap = np.where(rate_gap == 0.0, 1.0, rate_gap)
    far = R / (tau_m * safe_gap) * (np.exp(-dt_ms / tau) - np.exp(-dt_ms / tau_m))
    return np.where(np.abs(x) > 1.0, far, near)


def _compact(values: np.ndarray) -> np.ndarray:
    """(R, N) values as (R,) when each slot holds one value for every neuron."""
    return values[:, 0].copy() if np.all(values == values[:, :1]) else values


def summed_current(current, x):
    """The recorded ``i_syn`` (mA): the values of the exponential receptors (``current`` = 1)
    summed over the slots in order; ``x`` has shape (R, ...). The numpy form of what
    every engine records."""
    total = np.where(current[0] != 0, x[0], 0)
    for j in range(1, len(x)):
        total = total + np.where(current[j] != 0, x[j], 0)
    return total
