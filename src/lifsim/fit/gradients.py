"""Differentiable runs: gradients of a loss through the TensorFlow engine.

The forward pass is the engine's own: the update rule of `lifsim.neuron.rule` on the same
input, with the same constants, so the spikes and traces equal the numpy engine's bit for
bit. Gradients are attached to it without changing a value:

- every constant that depends on a fitted parameter (the membrane's ``a``, ``b``, ``d``,
  ``u_reset``, ``u_thresh``, a receptor's decay, drive factor and charge factor) is the
  run's own value plus ``f(θ) − stop_gradient(f(θ))``, zero in the forward pass, whose
  derivative is ``f'(θ)``;
- a spike is the rule's hard threshold in the forward pass; its derivative with respect to
  the distance ``v`` (mV) of the tested potential above threshold is a surrogate
  (`SURROGATES`), with slope ``scale`` (1/mV), zero while the neuron is refractory;
- the reset ``u ← u_reset`` passes the surrogate's gradient on as ``(u_reset − u_free)·ds``
  unless ``detach_reset`` (the default, as Zenke & Vogels 2021 recommend), when the reset
  carries no gradient of the spike;
- a stimulus's scale ``stimulus.K.scale`` (1 in the run) multiplies its input: the
  derivative with respect to it is the effect of scaling its current (or, for synaptic
  stimuli, all its weights) by ``1 + ε``.

The refractory period is a whole number of steps: it has no gradient, and a fit searches
it (`lifsim.fit.fit`) rather than descending on it.

Memory: backpropagation through a chunk of steps keeps that chunk's intermediate values;
long runs are cut into chunks whose states are kept in the forward pass, and each chunk is
run again under the tape when its gradient is needed (backpropagation through time with
recomputation). `gradient_memory` says what a run needs; `gradients` checks it first.

Only runs without projections are differentiable (single neurons or independent
populations, as fits use).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import ParameterError, require_range
from ..neuron.params import LIFParams
from ..neuron.rule import METHOD_TABLE, Coefficients, coefficients, make_rules
from ..simulation.config import RunConfig
from ..simulation.simulate import input_generator
from ..synapses.receptor import receptor_coefficients
from ..engines.quiet_tensorflow import load
from ..engines.tensorflow_engine import _rounded_by
from .options import GRADIENT_PARAMETERS, SURROGATE_NAMES, GradientOptions, Target, choose_chunk, spike_trace

tf = load()

#: Surrogate spikes: each the derivative ``σ'(v)`` of a soft spike ``σ(v)`` rising from 0 to 1
#: as the distance ``v`` above threshold (mV) grows, with slope ``β`` (1/mV):
#: name -> (formula of σ', σ', σ).
SURROGATES = {
    "superspike": ("(β/2)/(1 + β|v|)², SuperSpike's fast sigmoid (Zenke & Ganguli 2018)",
                   lambda v, beta: 0.5 * beta / tf.square(1.0 + beta * tf.abs(v)),
                   lambda v, beta: 0.5 + 0.5 * beta * v / (1.0 + beta * tf.abs(v))),
    "sigmoid": ("β·σ(βv)·(1 − σ(βv)), the logistic's derivative",
                lambda v, beta: beta * tf.sigmoid(beta * v) * (1.0 - tf.sigmoid(beta * v)),
                lambda v, beta: tf.sigmoid(beta * v)),
    "triangle": ("β·max(0, 1 − β|v|), a triangle (Bellec et al. 2018)",
                 lambda v, beta: beta * tf.maximum(0.0 * v, 1.0 - beta * tf.abs(v)),
                 lambda v, beta: _triangle_soft(tf.clip_by_value(beta * v, -1.0, 1.0))),
}


assert tuple(SURROGATES) == SURROGATE_NAMES


def _triangle_soft(w):
    """The triangle's soft spike at ``w = βv`` clipped to [−1, 1]: 0 at −1, ½ at 0, 1 at 1."""
    return 0.5 + w - tf.sign(w) * tf.square(w) / 2


_ZERO_MASK = tf.constant(np.int32(0))


@dataclass(frozen=True)
class Gradients:
    """A differentiable run's outcome, per neuron of the run.

    Attributes:
        loss: the loss of each neuron (its own parameters' loss), shape (N,).
        gradients: parameter name -> d loss / d parameter, shape (N,), in the loss's unit
            per the parameter's unit.
        spike_steps, spike_neurons: the spikes of the forward pass (step, neuron), in
            canonical order: equal to the reference engine's.
        u: the recorded potential, mV, shape (steps, N) (None unless asked for).
        memory_bytes: the memory the taped chunks needed, bytes.
        chunk_steps: steps per taped chunk.
    """

    loss: np.ndarray
    gradients: dict
    spike_steps: np.ndarray
    spike_neurons: np.ndarray
    u: np.ndarray | None
    memory_bytes: int
    chunk_steps: int


def check_config(config: RunConfig, parameters) -> None:
    """Refuse what cannot be differentiated: networks, unknown parameter names."""
    if not isinstance(config, RunConfig):
        raise ParameterError(f"config must be a RunConfig (got {config!r:.80})")
    if config.projections or len(config.layout.populations) > 1:
        raise ParameterError("gradients: only one population without projections is differentiable here "
                             "(independent neurons, as fits use)")
    for name in parameters:
        if name in GRADIENT_PARAMETERS:
            continue
        index = _stimulus_index(name)
        if index is None or not 0 <= index < len(config.stimuli):
            allowed = ", ".join(GRADIENT_PARAMETERS)
            raise ParameterError(f"gradient parameter must be one of {allowed} or stimulus.K.scale for a stimulus "
                                 f"K of the run (0 to {len(config.stimuli) - 1}); got {name!r}")


def _stimulus_index(name) -> int | None:
    parts = name.split(".") if isinstance(name, str) else ()
    if len(parts) == 3 and parts[0] == "stimulus" and parts[2] == "scale" and parts[1].isdigit():
        return int(parts[1])
    return None


def gradients(config: RunConfig, parameters: "list[str] | tuple", target: Target,
              options: GradientOptions = GradientOptions(), *, initial_u: "float | np.ndarray | None" = None,
              keep_u: bool = False, memory_limit: int | None = None) -> Gradients:
    """The loss of ``config``'s run against ``target`` and its gradient with respect to
    ``parameters`` (names of `GRADIENT_PARAMETERS` or ``stimulus.K.scale``), per neuron.

    Args:
        config: the run (no projections); its engine and its neurons' parameters as given
            (scalars or one value per neuron). Every neuron is its own candidate.
        parameters: the names to differentiate with respect to.
        target: what the loss compares the run with.
        options: surrogate, slope, reset and chunking.
        initial_u: initial potential, mV (scalar or one per neuron; default ``u_rest``).
        keep_u: return the recorded potential.
        memory_limit: bytes the run may use (default: the memory available now).
    """
    parameters = tuple(parameters)
    check_config(config, parameters)
    if not isinstance(options, GradientOptions):
        raise ParameterError(f"options must be GradientOptions (got {options!r:.80})")
    chunk, needed = choose_chunk(config, options, memory_limit)
    problem = _Problem(config, parameters, target, options, chunk, initial_u)
    return problem.solve(keep_u, needed)


class _Problem:
    """One differentiable run: its constants, its input chunk by chunk, its compiled chunk."""

    def __init__(self, config, parameters, target, options, chunk, initial_u):
        self.config, self.parameters, self.chunk = config, parameters, chunk
        self.dtype = config.dtype
        self.n, self.steps = config.n_neurons, config.steps
        model = config.layout.model
        self.coef = coefficients(model, config.dt_ms, config.method, config.precision)
        self.receptors = receptor_coefficients(config.layout, config.dt_ms, config.method, config.precision)
        self.theta = {name: _per_neuron(_parameter_value(model, name), self.n) for name in parameters}
        self.target = _target_arrays(target, config)
        self.u0 = _initial(config, initial_u)
        self.u0_follows_rest = initial_u is None and "u_rest" in parameters
        self.synaptic = any(s.sends != "current" for s in config.stimuli)
        beta = options.scale if options.scale is not None else \
            10.0 / max(float(np.min(np.asarray(model.u_thresh) - np.asarray(model.reset))), 1e-12)
        _, _, voltage_scale, spike_scale = self.target
        self.scales = tuple(tf.constant(np.float64(x)) for x in
                            (beta, voltage_scale, spike_scale, math.exp(-config.dt_ms / target.tau_ms)))
        self.base = {name: tf.constant(_per_neuron(model.reset if name == "u_reset" else getattr(model, name),
                                                   self.n)) for name in GRADIENT_PARAMETERS}
        self.coef_tensors = tuple(tf.constant(np.asarray(x)) for x in self.coef)
        self.receptor_tensors = tuple(tf.constant(np.asarray(x)) for x in (self.receptors.decay, self.receptors.s))
        self.layout = _Layout(config.method, float(config.dt_ms), self.synaptic,
                              tuple((r.kind, r.tau_ms) for r in config.layout.populations[0].receptors),
                              self._parts(), options.surrogate, options.detach_reset, model.u_reset is None,
                              options.soft_spikes)
        self.run_chunk = _chunk_function(self.layout)

    def _parts(self) -> tuple:
        """(stimulus index, sends a current, carries a charge) of each stimulus whose own input
        the derivatives need: those scaled, and those whose jumps follow the charge factor."""
        whole = input_generator(self.config, self.receptors.charge)
        scaled = {i for name in self.parameters if (i := _stimulus_index(name)) is not None}
        charged = {i for i, flag in enumerate(whole.charge_scaled) if flag} \
            if set(self.parameters) & {"tau_syn", "R", "tau_m"} else set()
        flags = whole.charge_scaled
        return tuple((i, self.config.stimuli[i].sends == "current", flags[i]) for i in sorted(scaled | charged))

    # ------------------------------------------------------------------ input

    def inputs(self, generators, k0):
        """Chunk ``[k0, k0 + chunk)``'s current and injection, padded to the chunk, and each
        scaled stimulus's own part of them."""
        k1 = min(k0 + self.chunk, self.steps)
        whole, parts = generators
        chunk = whole.chunk(k0, k1)
        current = _padded(np.broadcast_to(chunk.current, (k1 - k0, self.n)), self.chunk, self.dtype)
        n_targets = len(self.config.layout.receptors) * self.n
        injection = _padded(chunk.dense_injection(n_targets), self.chunk, self.dtype) if self.synaptic \
            else np.zeros((self.chunk, 0), self.dtype)
        own = []
        for index, generator in parts:
            part = generator.chunk(k0, k1)
            if self.config.stimuli[index].sends == "current":  # its current alone, or its jumps alone
                own.append((_padded(np.broadcast_to(part.current, (k1 - k0, self.n)), self.chunk, self.dtype),
                            np.zeros_like(injection)))
            else:
                own.append((np.zeros_like(current), _padded(part.dense_injection(n_targets), self.chunk, self.dtype)))
        return k1 - k0, current, injection, own

    def generators(self):
        """The run's input generator and one per stimulus whose own part is needed."""
        whole = input_generator(self.config, self.receptors.charge)
        return whole, [(index, whole.alone(index)) for index, _, _ in self.layout.parts]

    # ------------------------------------------------------------------ passes

    def solve(self, keep_u, needed):
        theta = {name: tf.constant(value) for name, value in self.theta.items()}
        state = self.initial_state()
        generators, saved, spikes, traces = self.generators(), [], [], []
        loss = np.zeros(self.n)
        for k0 in range(0, self.steps, self.chunk):
            saved.append((state, [g.checkpoint() for g in self._all(generators)]))
            steps, current, injection, own = self.inputs(generators, k0)
            state, chunk_loss, flags, u = self.call(theta, state, k0, steps, current, injection, own)
            loss += chunk_loss.numpy()
            spikes.append(np.nonzero(flags.numpy()[:steps]))
            spikes[-1] = (spikes[-1][0] + k0, spikes[-1][1])
            if keep_u:
                traces.append(u.numpy()[:steps])
        grads = self.backward(theta, saved)
        step = np.concatenate([s for s, _ in spikes]).astype(np.int64)
        neuron = np.concatenate([n for _, n in spikes]).astype(np.int32)
        return Gradients(loss, grads, step, neuron, np.concatenate(traces) if keep_u else None, needed, self.chunk)

    def backward(self, theta, saved):
        """Each chunk again, last first, under the tape: the gradient of the loss from that
        chunk on with respect to the parameters and to the chunk's starting state."""
        total = {name: np.zeros(self.n) for name in self.parameters}
        carried = None
        for index in range(len(saved) - 1, -1, -1):
            state, checkpoints = saved[index]
            generators = self.generators()
            for generator, checkpoint in zip(self._all(generators), checkpoints):
                generator.restore(checkpoint)
            k0 = index * self.chunk
            steps, current, injection, own = self.inputs(generators, k0)
            grads, carried = self.chunk_gradient(theta, state, k0, steps, current, injection, own, carried)
            for name in self.parameters:
                total[name] += grads[name].numpy()
        if self.u0_follows_rest:  # the run starts at u_rest
            total["u_rest"] += carried[0].numpy()
        return total

    @staticmethod
    def _all(generators):
        whole, parts = generators
        return [whole] + [g for _, g in parts]

    def initial_state(self):
        receptors = len(self.config.layout.receptors)
        return (tf.constant(self.u0), tf.zeros(self.n, tf.int32), tf.zeros((receptors, self.n), self.dtype),
                tf.zeros(self.n, self.dtype))

    def arguments(self, state, k0, steps, current, injection, own):
        target_u, target_trace, use_u = self.target_chunk(k0)
        return (self.base, self.coef_tensors, self.receptor_tensors, state, tf.constant(np.int32(steps)),
                tf.constant(current), tf.constant(injection), tuple(tf.constant(c) for pair in own for c in pair),
                target_u, target_trace, use_u, self.scales, _ZERO_MASK)

    def call(self, theta, state, k0, steps, current, injection, own):
        return self.run_chunk[0](theta, *self.arguments(state, k0, steps, current, injection, own))

    def chunk_gradient(self, theta, state, k0, steps, current, injection, own, carried):
        if carried is None:  # the last chunk: nothing after it depends on its end state
            carried = (tf.zeros_like(state[0]), tf.zeros_like(state[2]), tf.zeros_like(state[3]))
        grads, carried = self.run_chunk[1](theta, carried, *self.arguments(state, k0, steps, current, injection,
                                                                             own))
        return grads, carried

    def target_chunk(self, k0):
        voltage, trace, _, _ = self.target
        rows = slice(k0, k0 + self.chunk)
        u = _padded(voltage[rows, None], self.chunk, np.float64) if voltage is not None \
            else np.zeros((self.chunk, 1))
        g = _padded(trace[rows, None], self.chunk, np.float64) if trace is not None else np.zeros((self.chunk, 1))
        return tf.constant(u), tf.constant(g), tf.constant(voltage is not None)


def _parameter_value(model: LIFParams, name: str):
    if name == "u_reset":
        return model.reset
    if name in GRADIENT_PARAMETERS:
        return getattr(model, name)
    return 1.0  # a stimulus's scale


def _per_neuron(value, n) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, float), (n,)).copy()


def _padded(array, length, dtype) -> np.ndarray:
    out = np.zeros((length,) + array.shape[1:], dtype)
    out[:array.shape[0]] = array
    return out


def _initial(config, initial_u) -> np.ndarray:
    model = config.layout.model
    value = model.u_rest if initial_u is None else initial_u
    return np.broadcast_to(np.asarray(value, float), (config.n_neurons,)).astype(config.dtype)


def _target_arrays(target: Target, config: RunConfig):
    """The target potential per step, the target spikes' exponential trace per step, and
    the two terms' scales (weight / steps; weight · dt/τ)."""
    if not isinstance(target, Target):
        raise ParameterError(f"target must be a lifsim.fit.Target (got {target!r:.80})")
    steps, dt = config.steps, config.dt_ms
    voltage = None
    if target.voltage is not None:
        voltage = np.asarray(target.voltage, float)
        if voltage.shape != (steps,) or not np.all(np.isfinite(voltage)):
            raise ParameterError(f"target.voltage must hold {steps} finite values, mV, one per step "
                                 f"(got shape {voltage.shape})")
    trace = None
    if target.spike_times_ms is not None:
        require_range("target.tau_ms", target.tau_ms, low=0.0, low_open=True, unit="ms")
        trace = spike_trace(target.spike_times_ms, steps, dt, target.tau_ms, METHOD_TABLE[config.method])
    if voltage is None and trace is None:
        raise ParameterError("target: give a voltage, spike times, or both")
    voltage_scale = 0.0 if voltage is None else target.voltage_weight / steps
    spike_scale = 0.0 if trace is None else target.spike_weight * dt / target.tau_ms
    return voltage, trace, voltage_scale, spike_scale


# ---------------------------------------------------------------------- the compiled chunk


def _straight(value, made):
    """``value`` (the run's constant) in the forward pass, with the derivative of ``made``."""
    made = tf.cast(made, value.dtype)
    return value + (made - tf.stop_gradient(made))


def _unit_gain(made):
    """1 in the forward pass, with the derivative of ``made/made₀``."""
    return made / tf.stop_gradient(made)


class _Layout(NamedTuple):
    """What the compiled chunk is specialised for (hashable: it keys the cache)."""

    method: str
    dt_ms: float
    synaptic: bool
    receptors: tuple  # (kind, fixed tau_ms or None) per slot
    parts: tuple  # (stimulus index, sends a current, carries a charge) per own part
    surrogate: str
    detach_reset: bool
    reset_follows_rest: bool
    soft: bool


def _membrane(layout: _Layout, theta, base, coef):
    """The membrane constants: the run's values, with the parameters' derivatives."""
    value = {name: theta.get(name, base[name]) for name in ("tau_m", "R", "u_rest", "u_thresh")}
    reset = theta.get("u_reset", value["u_rest"] if layout.reset_follows_rest else base["u_reset"])
    tau_m, R, u_rest, dt = value["tau_m"], value["R"], value["u_rest"], layout.dt_ms
    if layout.method == "article":
        k = dt / tau_m
        made = (1.0 - k, R * k, 0.0 * u_rest)
    else:
        one_minus_a = -tf.math.expm1(-dt / tau_m)
        made = (tf.exp(-dt / tau_m), R * one_minus_a, u_rest * one_minus_a)
    made += (reset, value["u_thresh"])
    return Coefficients(*(_straight(x, m) for x, m in zip(coef[:5], made)), n_ref=coef[5])


def _receptor_constants(layout: _Layout, theta, base, values):
    """Each receptor slot's decay and drive factor (the run's values, with derivatives) and
    its charge gain (1, with the derivative of the jump per unit of charge)."""
    tau_m, R = theta.get("tau_m", base["tau_m"]), theta.get("R", base["R"])
    tau_syn, dt = theta.get("tau_syn", base["tau_syn"]), layout.dt_ms
    decay, s, gain = [], [], []
    for j, (kind, fixed_tau) in enumerate(layout.receptors):
        if kind == "delta":
            made = (0.0 * tau_m, 1.0 + 0.0 * tau_m, R / tau_m)
        else:
            tau = tau_syn if fixed_tau is None else tf.constant(np.float64(fixed_tau)) + 0.0 * tau_m
            drive = R * (dt / tau_m) if layout.method == "article" else _exact_drive(R, tau_m, tau, dt)
            made = (tf.exp(-dt / tau), drive, 1.0 / tau)
        decay.append(_straight(values[0][j], made[0]))
        s.append(_straight(values[1][j], made[1]))
        gain.append(_unit_gain(made[2]))
    return decay, s, gain


def _exact_drive(R, tau_m, tau, dt):
    """`lifsim.synapses.receptor`'s exact drive factor in TensorFlow (for its derivative)."""
    gap = (tau - tau_m) / (tau_m * tau)
    x = dt * gap
    small = tf.abs(x) <= 1.0
    tiny = tf.abs(x) < 1e-3  # the series there, so the derivative at tau_m = tau is right too
    safe_x = tf.where(small & ~tiny, x, tf.ones_like(x))
    series = 1.0 + x / 2.0 + x * x / 6.0 + x * x * x / 24.0
    exprel = tf.where(tiny, series, tf.math.expm1(safe_x) / safe_x)
    near = R * dt / tau_m * tf.exp(-dt / tau_m) * exprel
    safe_gap = tf.where(gap == 0.0, tf.ones_like(gap), gap)
    far = R / (tau_m * safe_gap) * (tf.exp(-dt / tau) - tf.exp(-dt / tau_m))
    return tf.where(small, near, far)


def _with_gains(layout: _Layout, current, injection, own, theta, gain, n_receptors):
    """The chunk's input (unchanged values) with the derivative of each stimulus's scale and
    of the charge its spikes carry: ``input + Σ part·(g − 1)``, where ``g`` is 1."""
    for (index, sends_current, charged), part_current, part_injection in zip(layout.parts, own[0::2], own[1::2]):
        scale = theta.get(f"stimulus.{index}.scale")
        factor = _unit_gain(scale) if scale is not None else None
        if sends_current:
            if factor is not None:
                current = current + part_current * tf.cast(factor - 1.0, current.dtype)
            continue
        rows = []
        for j in range(n_receptors):
            g = factor
            if charged:
                g = gain[j] if g is None else g * gain[j]
            rows.append(tf.zeros_like(theta[next(iter(theta))]) if g is None else g - 1.0)
        shaped = tf.reshape(part_injection, [tf.shape(part_injection)[0], n_receptors, -1])
        factors = tf.cast(tf.stack([r + tf.zeros([tf.shape(shaped)[2]], tf.float64) for r in rows]), shaped.dtype)
        injection = injection + tf.reshape(shaped * factors[None], tf.shape(injection))
    return current, injection


def _differentiable_rounded(mask):
    plain = _rounded_by(mask)

    @tf.custom_gradient
    def rounded(x):
        return plain(x), lambda dy: dy

    return rounded


def _spike_hook(layout: "_Layout", beta):
    derivative, soft = SURROGATES[layout.surrogate][1:]

    @tf.custom_gradient
    def spike(distance, hard, gate):
        def grad(dy):
            slope = tf.cast(derivative(tf.cast(distance, tf.float64), beta), dy.dtype)
            return dy * gate * slope, tf.zeros_like(hard), tf.zeros_like(gate)
        return hard, grad

    def hook(u_new, u_free, tested, firing, can_fire, c):
        distance = tested - c.u_thresh  # mV above threshold: only the surrogate needs it
        gate = tf.cast(can_fire, u_new.dtype)
        if layout.soft:
            s = gate * tf.cast(soft(tf.cast(distance, tf.float64), beta), u_new.dtype)
            reset = tf.stop_gradient(s) if layout.detach_reset else s
            return tf.where(can_fire, u_free + (c.u_reset - u_free) * reset, u_new), s
        s = spike(distance, tf.cast(firing, u_new.dtype), gate)
        if not layout.detach_reset:
            u_new = u_new + (c.u_reset - u_free) * (s - tf.stop_gradient(s))
        return u_new, s

    return hook


@functools.lru_cache(maxsize=32)
def _chunk_function(layout: _Layout):
    """The compiled chunk for one layout, shared by every differentiable run that has it."""
    n_receptors = len(layout.receptors)
    method = layout.method

    def run_chunk(theta, base, coef, receptor_values, state, steps, current, injection, own, target_u, target_trace,
                  use_u, scales, zero_mask):
        u, ref, i_syn, trace = state
        dtype = u.dtype
        beta, voltage_scale, spike_scale, trace_decay = scales
        # zero_mask is an argument, a zero XLA cannot see, so the products stay rounded
        rules = make_rules(tf.where, tf.maximum, _differentiable_rounded(zero_mask),
                           spike=_spike_hook(layout, beta))
        rule = rules.article if method == "article" else rules.exact
        c = _membrane(layout, theta, base, coef)
        decay, s, gain = _receptor_constants(layout, theta, base, receptor_values)
        current, injection = _with_gains(layout, current, injection, own, theta, gain, n_receptors)
        n = tf.shape(u)[0]
        length = tf.shape(current)[0]
        trace_decay = tf.cast(trace_decay, dtype)
        zero = tf.zeros([], dtype)
        flags = tf.TensorArray(tf.bool, size=length, element_shape=u.shape)
        shown = tf.TensorArray(dtype, size=length, element_shape=u.shape)
        loss = tf.zeros(tf.shape(u), tf.float64)

        def body(k, u, ref, i_syn, trace, loss, flags, shown):
            drive = zero
            if layout.synaptic:
                arrived = tf.reshape(injection[k], [n_receptors, n])
                i_syn = tf.stack([rules.synapse(i_syn[j], arrived[j], decay[j]) for j in range(n_receptors)])
                drive = rules.drive(s[0], i_syn[0])
                for j in range(1, n_receptors):
                    drive = rules.add_drive(drive, s[j], i_syn[j])
            u, ref, spiked, u_shown = rule(u, ref, current[k], drive, c)
            trace = trace * trace_decay + spiked
            error = tf.cast(u_shown, tf.float64) - target_u[k]
            loss = loss + tf.where(use_u, voltage_scale * error * error, 0.0 * error)
            miss = tf.cast(trace, tf.float64) - target_trace[k]
            loss = loss + spike_scale * miss * miss
            return k + 1, u, ref, i_syn, trace, loss, flags.write(k, spiked > 0.5), shown.write(k, u_shown)

        _, u, ref, i_syn, trace, loss, flags, shown = tf.while_loop(
            lambda k, *rest: k < steps, body, (tf.constant(0), u, ref, i_syn, trace, loss, flags, shown),
            maximum_iterations=length)
        return (u, ref, i_syn, trace), loss, flags.stack(), shown.stack()

    def chunk_gradient(theta, seeds, base, coef, receptor_values, state, *rest):
        """The gradient of the chunk's loss plus ``seeds · end state`` with respect to the
        parameters and to the chunk's starting state (u, receptors, trace): one compiled call."""
        u, ref, i_syn, trace = state
        with tf.GradientTape() as tape:
            tape.watch([theta, u, i_syn, trace])
            (u_end, _, i_end, trace_end), loss, _, _ = run_chunk(theta, base, coef, receptor_values,
                                                                  (u, ref, i_syn, trace), *rest)
            total = tf.reduce_sum(loss) + tf.reduce_sum(tf.cast(u_end, tf.float64) * tf.cast(seeds[0], tf.float64)) \
                + tf.reduce_sum(tf.cast(i_end, tf.float64) * tf.cast(seeds[1], tf.float64)) \
                + tf.reduce_sum(tf.cast(trace_end, tf.float64) * tf.cast(seeds[2], tf.float64))
        grads, to_state = tape.gradient(total, [theta, [u, i_syn, trace]],
                                        unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return grads, tuple(to_state)

    compile = functools.partial(tf.function, autograph=False, reduce_retracing=True, jit_compile=True)
    return compile(run_chunk), compile(chunk_gradient)
