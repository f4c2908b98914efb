"""The LIF update rule, the synaptic decay and their propagators: the one definition.

Every engine advances the model with the functions made here. The rule is written
once (`make_rules`), over a backend's ``where``/``maximum``/``rounded``, and bound to
numpy arrays (`RULES`, `synapse_step`), to numba scalars inside compiled loops, and to
TensorFlow tensors. All arithmetic is the same sequence of operations on
every backend, so the engines agree bit for bit.

Per step ``k`` (time ``t_k = k·dt``), for each neuron:

1. synaptic current: ``i_syn = i_syn·exp(-dt/tau_syn) + sum(w·q/tau_syn)`` over the
   input spikes arriving in step ``k`` (`synapse_step`);
2. membrane, by the method's rule, with the input current ``I = i_ext + i_syn``.

Method ``"article"`` (the article's order, forward Euler):
    resting if ``ref > 0`` (``u = u_rest``, ``ref -= 1``); else firing if the ``u`` left
    by the previous step is ``> u_thresh`` (``u = u_rest``, ``ref = n_ref``; the spike is at
    ``t_k``); else integrating ``u += dt·(R·I - u)/tau_m``. The recorded ``u`` is the value
    after the step.

Method ``"exact"`` (exact propagators for piecewise-constant ``i_ext`` and the
exponentially decaying ``i_syn``):
    unless resting, ``u`` is advanced exactly from ``t_k`` to ``t_{k+1}``, tested with
    ``u >= u_thresh``, and on crossing reset to ``u_rest`` with a spike at ``t_{k+1}``;
    resting holds ``u = u_rest`` for ``n_ref`` steps while ``i_syn`` keeps decaying and
    summing input. The recorded ``u`` is the value at ``t_k``, before the step.

Both rules use the same affine free evolution ``u_free = a·u + b·i_ext + s·i_syn + d``;
only the coefficients (`coefficients`) and the threshold test differ.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import ParameterError, require_choice
from .params import LIFParams
from .timegrid import in_steps

METHODS = ("article", "exact")
"""The integration methods: the article's forward Euler, and exact propagators."""
#: Per method, the offset in steps of a spike's time from its step: ``t = (k + offset)·dt``.
SPIKE_OFFSET_STEPS = {"article": 0, "exact": 1}
PRECISIONS = {"float32": np.float32, "float64": np.float64}
#: Refractory counters are int32 on every engine.
STEP_DTYPE = np.int32


class Coefficients(NamedTuple):
    """Per-run constants of the update; each a scalar or one value per neuron.

    ``a`` (1), ``b`` (mV/mA), ``s`` (mV/mA), ``d`` (mV): free evolution
    ``u_free = a·u + b·i_ext + s·i_syn + d``; ``u_rest``, ``u_thresh`` in mV;
    ``n_ref``: refractory hold in whole steps.
    """

    a: object
    b: object
    s: object
    d: object
    u_rest: object
    u_thresh: object
    n_ref: object


class Rules(NamedTuple):
    """The update bound to one backend: both methods' rules and the synaptic step."""

    article: object
    exact: object
    synapse: object


def _identity(x):
    return x


def make_rules(where, maximum, rounded=_identity, compiled=_identity) -> Rules:
    """The update rules written over a backend's ``where``, ``maximum`` and ``rounded``.

    Each method's rule maps ``(u, ref, i_ext, i_syn, c)`` to ``(u, ref, spiked, u_shown)``:
    the new potential (mV), refractory steps left, whether the neuron spiked in this
    step, and the potential this step reports. ``synapse`` maps ``(i_syn, injected,
    decay)`` to the new synaptic current (mA).

    ``rounded`` wraps every product that is then summed: each product is rounded to the
    run's precision before the sum, as numpy computes it. A backend that would fuse a
    multiply and an add into one FMA (XLA does) passes a ``rounded`` it cannot fuse through.
    ``compiled`` turns a helper into something the rules can call (numba's ``njit``).
    """

    def synapse(i_syn, injected, decay):
        return rounded(i_syn * decay) + injected

    @compiled
    def free_evolution(u, i_ext, i_syn, c):
        return rounded(c.a * u) + rounded(c.b * i_ext) + rounded(c.s * i_syn) + c.d

    def article(u, ref, i_ext, i_syn, c):
        resting = ref > 0
        firing = (u > c.u_thresh) & (ref <= 0)
        u_free = free_evolution(u, i_ext, i_syn, c)
        u_new = where(resting | firing, c.u_rest, u_free)
        ref_new = where(firing, c.n_ref, maximum(ref - 1, 0))
        return u_new, ref_new, firing, u_new

    def exact(u, ref, i_ext, i_syn, c):
        resting = ref > 0
        u_free = free_evolution(u, i_ext, i_syn, c)
        firing = (u_free >= c.u_thresh) & (ref <= 0)
        u_new = where(resting | firing, c.u_rest, u_free)
        ref_new = where(firing, c.n_ref, maximum(ref - 1, 0))
        return u_new, ref_new, firing, u

    return Rules(article, exact, synapse)


NUMPY_RULES = make_rules(np.where, np.maximum)
RULES = {"article": NUMPY_RULES.article, "exact": NUMPY_RULES.exact}


def synapse_step(i_syn, injected, decay):
    """Advance the summed synaptic current by one step, mA: ``i_syn·decay + injected``.

    ``decay = exp(-dt/tau_syn)``; ``injected`` is the sum of ``w·q/tau_syn`` over the input
    spikes of this step, which count in their own step. (The numpy binding of
    `make_rules`' ``synapse``.)
    """
    return NUMPY_RULES.synapse(i_syn, injected, decay)


def refractory_steps(tau_rest, dt_ms: float) -> np.ndarray:
    """The refractory hold in whole steps, ``round(tau_rest/dt)``, computed once per run.

    ``tau_rest`` and ``dt_ms`` in ms. Halves round up; a ratio within rounding of a whole
    number counts as that number, so 4 ms at dt = 0.1 ms is 40 steps whatever the float
    rounding of 4/0.1 (`lifsim.timegrid.in_steps`).
    """
    return np.floor(np.asarray(in_steps(tau_rest, dt_ms)) + 0.5).astype(STEP_DTYPE)


def exprel(x):
    """``(exp(x) - 1)/x``, accurate near 0 and equal to 1 at 0."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, np.expm1(safe) / safe)


def coefficients(params: LIFParams, dt_ms: float, method: str, precision: str = "float32") -> Coefficients:
    """The update's constants for ``method`` at step ``dt_ms``, in the run's precision.

    Computed in float64 once per run and then rounded to ``precision``.
    """
    require_choice("method", method, METHODS)
    dtype = PRECISIONS[require_choice("precision", precision, tuple(PRECISIONS))]
    tau_m = np.asarray(params.tau_m, dtype=float)
    R = np.asarray(params.R, dtype=float)
    u_rest = np.asarray(params.u_rest, dtype=float)
    if method == "article":
        k = dt_ms / tau_m
        a, b, s, d = 1.0 - k, R * k, R * k, np.zeros_like(u_rest)
    else:
        a, b, s, d = _exact_propagators(tau_m, np.asarray(params.tau_syn, dtype=float), R, u_rest, dt_ms)
    return Coefficients(
        *(_as_dtype(x, dtype) for x in (a, b, s, d, u_rest, params.u_thresh)),
        n_ref=_as_steps(refractory_steps(params.tau_rest, dt_ms)),
    )


def _exact_propagators(tau_m, tau_syn, R, u_rest, dt_ms):
    """Exact one-step solution of ``tau_m du/dt = -(u - u_rest) + R (i_ext + i_syn)``.

    With ``i_syn`` decaying as ``exp(-t/tau_syn)`` over the step, the current-to-voltage
    factor is ``R/tau_m ∫ exp(-(dt-t)/tau_m) exp(-t/tau_syn) dt``; written with
    `exprel` it stays accurate when ``tau_m`` is close to or equal to ``tau_syn``.
    """
    a = np.exp(-dt_ms / tau_m)
    one_minus_a = -np.expm1(-dt_ms / tau_m)
    rate_gap = (tau_syn - tau_m) / (tau_m * tau_syn)  # 1/tau_m - 1/tau_syn, without cancellation
    s = R * dt_ms / tau_m * a * exprel(dt_ms * rate_gap)
    return a, R * one_minus_a, s, u_rest * one_minus_a


def _as_dtype(x, dtype):
    x = np.asarray(x, dtype=float)
    return x.astype(dtype) if x.ndim else dtype(x)


def _as_steps(n):
    return n if n.ndim else STEP_DTYPE(n)


def synaptic_decay(params: LIFParams, dt_ms: float, precision: str = "float32"):
    """``exp(-dt/tau_syn)`` per neuron or scalar, in the run's precision."""
    return _as_dtype(np.exp(-dt_ms / np.asarray(params.tau_syn, dtype=float)), PRECISIONS[precision])


def check_step(params: LIFParams, dt_ms: float, method: str) -> None:
    """Refuse a (positive) step the method cannot take: forward Euler needs ``dt <= tau_m``."""
    tau_m_min = float(np.min(params.tau_m))
    if method == "article" and dt_ms > tau_m_min:
        raise ParameterError(
            f"dt must be in (0, {tau_m_min:g}] ms with method 'article' (beyond tau_m the forward "
            f"Euler leak factor 1 - dt/tau_m turns negative and u overshoots; got {dt_ms:g}); "
            "use a smaller dt or --method exact")
