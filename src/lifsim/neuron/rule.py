"""The LIF update rule and its propagators: the one definition.

Every engine advances the model with the functions made here. The rule is written
once (`make_rules`), over a backend's ``where``/``maximum``/``rounded``, and bound to
numpy arrays (`RULES`, `synapse_step`), to numba scalars inside compiled loops, and to
TensorFlow tensors. All arithmetic is the same sequence of operations on
every backend, so the engines agree bit for bit.

Per step ``k`` (time ``t_k = k·dt``), for each neuron:

1. each receptor ``j`` takes this step's input (`synapse_step`):
   ``x_j = x_j·decay_j + in_j``; an exponential receptor decays with
   ``decay_j = exp(-dt/tau_j)`` and its ``in_j`` is a jump of current (mA); a delta
   receptor has ``decay_j = 0``, so ``x_j`` is this step's jump of ``u`` (mV);
2. the synaptic drive (mV) is summed over the receptors in their order,
   ``drive = s_0·x_0 + s_1·x_1 + ...`` (left to right, each product rounded), with
   ``s_j`` from `lifsim.synapses.receptor` (1 for a delta receptor);
3. the membrane, by the method's rule, with the external current ``i_ext`` and ``drive``.

Method ``"article"`` (the article's order, forward Euler):
    resting if ``ref > 0`` (``u = u_reset``, ``ref -= 1``); else firing if the ``u`` left
    by the previous step is ``> u_thresh`` (``u = u_reset``, ``ref = n_ref``; the spike is at
    ``t_k``); else integrating ``u += dt·(R·I - u)/tau_m + drive``. The recorded ``u`` is
    the value after the step.

Method ``"exact"`` (exact propagators for piecewise-constant ``i_ext`` and exponentially
decaying receptor currents):
    unless resting, ``u`` is advanced exactly from ``t_k`` to ``t_{k+1}``, tested with
    ``u >= u_thresh``, and on crossing reset to ``u_reset`` with a spike at ``t_{k+1}``;
    resting holds ``u = u_reset`` for ``n_ref`` steps while the receptor currents keep
    decaying and summing input. The recorded ``u`` is the value at ``t_k``, before the step.

A resting neuron ignores its drive: a delta receptor's jumps during the refractory
period are discarded (as NEST's ``iaf_psc_delta`` does); an exponential receptor's
current keeps its charge and acts once the neuron integrates again.

Both rules use the same affine free evolution ``u_free = a·u + b·i_ext + drive + d``;
only the coefficients (`coefficients`) and the threshold test differ.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ParameterError, require_choice, require_range
from ..timegrid import whole_steps
from .params import LIFParams


class Method(NamedTuple):
    """What distinguishes an integration method, beyond its coefficients.

    ``code``: its number inside compiled kernels; ``spike_offset_steps``: a spike of step
    ``k`` is at ``t = (k + offset)·dt``; ``euler``: forward Euler, which needs ``dt <= tau_m``.
    """

    name: str
    code: int
    spike_offset_steps: int
    euler: bool


METHOD_TABLE = {"article": Method("article", 0, 0, True), "exact": Method("exact", 1, 1, False)}
METHODS = tuple(METHOD_TABLE)
"""The integration methods: the article's forward Euler, and exact propagators."""
PRECISIONS = {"float32": np.float32, "float64": np.float64}
#: Refractory counters are int32 on every engine.
STEP_DTYPE = np.int32


class Coefficients(NamedTuple):
    """Per-run constants of the membrane update; each a scalar or one value per neuron.

    ``a`` (1), ``b`` (mV/mA), ``d`` (mV): free evolution ``u_free = a·u + b·i_ext + drive + d``;
    ``u_reset``, ``u_thresh`` in mV; ``n_ref``: refractory hold in whole steps.
    """

    a: object
    b: object
    d: object
    u_reset: object
    u_thresh: object
    n_ref: object


class Rules(NamedTuple):
    """The update bound to one backend: both methods' rules, the receptor step, the first
    receptor's drive term and the sum of each further one, and the backend's ``rounded``."""

    article: object
    exact: object
    synapse: object
    drive: object
    add_drive: object
    rounded: object


def _identity(x):
    return x


def _hard_spike(u_new, u_free, tested, firing, can_fire, c):
    return u_new, firing


def make_rules(where, maximum, rounded=_identity, compiled=_identity, spike=_hard_spike) -> Rules:
    """The update rules written over a backend's ``where``, ``maximum`` and ``rounded``.

    Each method's rule maps ``(u, ref, i_ext, drive, c)`` to ``(u, ref, spiked, u_shown)``:
    the new potential (mV), refractory steps left, whether the neuron spiked in this
    step, and the potential this step reports. ``synapse`` maps ``(x, injected, decay)``
    to a receptor's new value; ``drive`` maps ``(s, x)`` to the first receptor's term of
    the synaptic drive (mV) and ``add_drive`` maps ``(drive, s, x)`` to the drive with a
    further receptor's term added: engines fold the receptors in slot order with them.

    ``rounded`` wraps every product that is then summed, and every partial sum that is
    summed further: each is rounded to the run's precision in that order, as numpy
    computes it. A backend that would fuse a multiply and an add into one FMA (XLA does),
    or regroup a chain of sums (TensorFlow's graph optimiser does), passes a ``rounded``
    it cannot see through.
    ``compiled`` turns a helper into something the rules can call (numba's ``njit``).

    ``spike`` maps ``(u_new, u_free, tested, firing, can_fire, c)`` to the step's
    ``(u_new, spiked)``: ``tested`` (mV) is the potential compared with ``c.u_thresh``,
    ``u_free`` what the reset replaced. The default returns them unchanged; a
    differentiable backend (`lifsim.fit.gradients`) returns the same values with a
    surrogate derivative attached, so its forward pass stays this rule's.
    """

    spike = compiled(spike)

    def synapse(x, injected, decay):
        return rounded(x * decay) + injected

    def drive(s, x):
        return rounded(s * x)

    def add_drive(total, s, x):
        return rounded(total + rounded(s * x))

    @compiled
    def free_evolution(u, i_ext, drive, c):
        return rounded(rounded(rounded(c.a * u) + rounded(c.b * i_ext)) + drive) + c.d

    def article(u, ref, i_ext, drive, c):
        resting = ref > 0
        firing = (u > c.u_thresh) & (ref <= 0)
        u_free = free_evolution(u, i_ext, drive, c)
        u_new = where(resting | firing, c.u_reset, u_free)
        ref_new = where(firing, c.n_ref, maximum(ref - 1, 0))
        u_new, spiked = spike(u_new, u_free, u, firing, ref <= 0, c)
        return u_new, ref_new, spiked, u_new

    def exact(u, ref, i_ext, drive, c):
        resting = ref > 0
        u_free = free_evolution(u, i_ext, drive, c)
        firing = (u_free >= c.u_thresh) & (ref <= 0)
        u_new = where(resting | firing, c.u_reset, u_free)
        ref_new = where(firing, c.n_ref, maximum(ref - 1, 0))
        u_new, spiked = spike(u_new, u_free, u_free, firing, ref <= 0, c)
        return u_new, ref_new, spiked, u

    return Rules(article, exact, synapse, drive, add_drive, rounded)


NUMPY_RULES = make_rules(np.where, np.maximum)
RULES = {"article": NUMPY_RULES.article, "exact": NUMPY_RULES.exact}


def synapse_step(x, injected, decay):
    """Advance a receptor by one step: ``x·decay + injected``.

    For an exponential receptor ``x`` is its current (mA), ``decay = exp(-dt/tau)`` and
    ``injected`` the sum of the jumps (mA) arriving in this step, which count in their
    own step; a delta receptor has ``decay = 0``. (The numpy binding of `make_rules`'
    ``synapse``.)
    """
    return NUMPY_RULES.synapse(x, injected, decay)


def synaptic_drive(s, x):
    """The synaptic drive (mV) of receptors ``x`` (shape (R, N)) with factors ``s``:
    ``s_0·x_0 + s_1·x_1 + ...``, summed left to right, the order every engine uses."""
    total = NUMPY_RULES.drive(s[0], x[0])
    for j in range(1, len(x)):
        total = NUMPY_RULES.add_drive(total, s[j], x[j])
    return total


def refractory_steps(tau_rest, dt_ms: float) -> np.ndarray:
    """The refractory hold in whole steps, ``round(tau_rest/dt)``, computed once per run.

    ``tau_rest`` and ``dt_ms`` in ms. Halves round up; a ratio within rounding of a whole
    or half number counts as that number, so 4 ms at dt = 0.1 ms is 40 steps whatever the
    float rounding of 4/0.1 (`lifsim.timegrid.whole_steps`).
    """
    require_range("dt", dt_ms, low=0.0, low_open=True, unit="ms")
    require_range("model.tau_rest", tau_rest, low=0.0, unit="ms")
    steps = whole_steps(tau_rest, dt_ms)
    if np.any(steps > MAX_REFRACTORY_STEPS):
        raise ParameterError(f"model.tau_rest must be at most {MAX_REFRACTORY_STEPS} steps of dt = {dt_ms:g} ms "
                             f"(got {float(np.max(tau_rest)):g} ms)")
    return steps.astype(STEP_DTYPE)


def exprel(x):
    """``(exp(x) - 1)/x``, accurate near 0 and equal to 1 at 0."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, np.expm1(safe) / safe)


def coefficients(params: LIFParams, dt_ms: float, method: str, precision: str = "float32") -> Coefficients:
    """The membrane update's constants for ``method`` at step ``dt_ms``, in the run's precision.

    Computed in float64 once per run and then rounded to ``precision``.
    """
    require_choice("method", method, METHODS)
    dtype = PRECISIONS[require_choice("precision", precision, tuple(PRECISIONS))]
    n_ref = refractory_steps(params.tau_rest, dt_ms)  # checks dt too
    tau_m = np.asarray(params.tau_m, dtype=float)
    R = np.asarray(params.R, dtype=float)
    u_rest = np.asarray(params.u_rest, dtype=float)
    with np.errstate(over="ignore", under="ignore"):  # checked below, in the run's precision
        if method == "article":
            k = dt_ms / tau_m
            a, b, d = 1.0 - k, R * k, np.zeros_like(u_rest)
        else:
            one_minus_a = -np.expm1(-dt_ms / tau_m)
            a, b, d = np.exp(-dt_ms / tau_m), R * one_minus_a, u_rest * one_minus_a
        values = [as_dtype(x, dtype) for x in (a, b, d, params.reset, params.u_thresh)]
    for value, name in zip(values, COEFFICIENT_SOURCES):
        if not np.all(np.isfinite(value)):
            raise ParameterError(f"{name} (at dt = {dt_ms:g} ms) gives a value beyond what {precision} holds "
                                 f"(±{float(np.finfo(dtype).max):.3g}); use smaller values or precision float64")
    return Coefficients(*values, n_ref=_as_steps(n_ref))


#: The parameters each membrane coefficient comes from, for messages.
COEFFICIENT_SOURCES = ("model.tau_m", "model.R", "model.u_rest", "model.u_reset (or u_rest)", "model.u_thresh")
#: The longest refractory hold, in steps (an int32 counter).
MAX_REFRACTORY_STEPS = 2**31 - 2


def as_dtype(x, dtype):
    """A float64 value or array in the run's precision: a numpy scalar for a scalar."""
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore"):  # a value beyond the precision becomes inf: callers check
        return x.astype(dtype) if x.ndim else dtype(x)


def _as_steps(n):
    return n if n.ndim else STEP_DTYPE(n)


def check_step(params: LIFParams, dt_ms: float, method: str) -> None:
    """Refuse a (positive) step the method cannot take: forward Euler needs ``dt <= tau_m``."""
    tau_m_min = float(np.min(params.tau_m))
    if METHOD_TABLE[method].euler and dt_ms > tau_m_min:
        raise ParameterError(
            f"dt must be in (0, {tau_m_min:g}] ms with method 'article' (beyond tau_m the forward "
            f"Euler leak factor 1 - dt/tau_m turns negative and u overshoots; got {dt_ms:g}); "
            "use a smaller dt or --method exact")
