"""Stage 2 of a fit: gradient descent through the TensorFlow engine from the search's best.

Every restart's best candidate is one neuron of a single differentiable run
(`lifsim.fit.gradients`), so all restarts descend together. The loss is smooth where the
metric is not: the voltage's mean squared error for a voltage fit, the van Rossum
distance² of the surrogate spike train for spike-time fits (the gamma factor counts
coincidences and has no gradient). Adam steps in the search's unit box; a step that raises
the loss is taken back with half the step size. The refractory period has no gradient: it
keeps the search's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..simulation.config import RunConfig
from ..stimuli.currents import RecordedCurrent
from .options import GRADIENT_PARAMETERS, GradientOptions, Target
from .search import Problem

ADAM_BETAS = (0.9, 0.999)


@dataclass(frozen=True)
class RefineResult:
    """The descent of every restart at once.

    Attributes:
        best: per restart, the values with the lowest smooth loss met, shape (R, d).
        loss: that loss per restart.
        history: per step, the smooth loss of every restart, shape (steps, R).
        gradient_steps: differentiable runs made.
    """

    best: np.ndarray
    loss: np.ndarray
    history: np.ndarray
    gradient_steps: int


def smooth_target(problem: Problem) -> Target:
    """The smooth loss standing in for the problem's metric."""
    data = problem.data
    if problem.metric == "mse":
        return Target(voltage=data.voltage)
    return Target(spike_times_ms=data.spike_times_ms, tau_ms=problem.tau_ms)


def refine(problem: Problem, start: np.ndarray, steps: int, learning_rate: float, options: GradientOptions,
           report=None) -> RefineResult:
    """Adam on the smooth loss from each row of ``start`` (parameter values, (R, d)).

    The step size starts at ``learning_rate``/64; a step that raises a restart's loss is
    taken back and that restart's step size halved, one that lowers it doubles the size, up
    to ``learning_rate``: near a good candidate a spike moved by one step costs more than
    the descent gains.
    """
    space = problem.space
    columns = [j for j, name in enumerate(space.names) if name in GRADIENT_PARAMETERS]
    unit = space.unit(np.atleast_2d(start))
    best_unit, best_loss = unit.copy(), np.full(len(unit), np.inf)
    moment, second = np.zeros_like(unit), np.zeros_like(unit)
    rate = np.full((len(unit), 1), float(learning_rate) / 64)  # small first: the start is already good
    target, history, accepted = smooth_target(problem), [], np.zeros(len(unit), int)
    initial_u = None if problem.data.voltage is None else float(problem.data.voltage[0])
    for step in range(steps):
        loss, grad = _loss_and_gradient(problem, space.values(unit), columns, target, options, initial_u)
        grad = grad * space.derivative(unit)
        better = loss < best_loss
        best_unit[better], best_loss[better] = unit[better], loss[better]
        rate[better] = np.minimum(rate[better] * 2.0, learning_rate)
        rate[~better] *= 0.5
        history.append(loss)
        if report is not None:
            leader = int(np.argmin(best_loss))
            values = space.values(best_unit[leader:leader + 1])[0]
            report(step + 1, float(best_loss[leader]), dict(zip(space.names, map(float, values))))
        accepted += better
        moment[better] = ADAM_BETAS[0] * moment[better] + (1 - ADAM_BETAS[0]) * grad[better]
        second[better] = ADAM_BETAS[1] * second[better] + (1 - ADAM_BETAS[1]) * grad[better] ** 2
        m_hat = moment / (1 - ADAM_BETAS[0] ** np.maximum(accepted, 1))[:, None]
        v_hat = second / (1 - ADAM_BETAS[1] ** np.maximum(accepted, 1))[:, None]
        proposal = np.clip(best_unit - rate * m_hat / (np.sqrt(v_hat) + 1e-12), 0.0, 1.0)
        ok = problem.valid(space.values(proposal))  # keep the threshold above the reset
        unit = np.where(ok[:, None], proposal, best_unit)
    return RefineResult(space.values(best_unit), best_loss, np.array(history).reshape(len(history), -1), steps)


def _loss_and_gradient(problem: Problem, values, columns, target, options, initial_u):
    """The smooth loss of every row of ``values`` and its gradient, shape (R, d) (zero for
    parameters without a gradient)."""
    from .gradients import gradients  # TensorFlow: loaded when a refinement runs

    data = problem.data
    config = RunConfig(name="fit", n_neurons=len(values), model=problem.model(values), duration_ms=data.duration_ms,
                       dt_ms=data.dt_ms, method=problem.method, precision=problem.precision, engine="numpy",
                       stimuli=(RecordedCurrent(samples=data.current, sample_dt_ms=data.dt_ms),))
    names = [problem.space.names[j] for j in columns]
    result = gradients(config, names, target, options, initial_u=initial_u)
    grad = np.zeros_like(values)
    for j, name in zip(columns, names):
        grad[:, j] = result.gradients[name]
    return result.loss, np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)
