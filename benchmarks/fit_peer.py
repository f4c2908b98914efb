"""Brian2's side of benchmarks/fitting.py: brian2modelfitting's TraceFitter on the task file.

    .peers-venv/bin/python benchmarks/fit_peer.py TASK.npz --population 300 --rounds 100 --seed 0

Runs in the peers' venv (Brian2 >= 2.10, brian2modelfitting 0.4 and its pins: nevergrad
0.3.0, which needs bayesian-optimization < 2). Fits tau_m, R and u_thresh to the first
``--train-steps`` samples by voltage MSE with nevergrad's differential evolution
(``NevergradOptimizer("DE")``, ``--population`` candidates per round, one NeuronGroup of
that many neurons per round, Brian2's cython target), then runs the best model once over
the whole recording and scores the training and held-out parts. Prints one JSON line.

brian2modelfitting 0.4 imports ``numpy.NaN``, which numpy 2 removed: the alias is put
back before the import (the only change to the tool).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

# Aliases numpy 2 removed, which brian2modelfitting 0.4 and nevergrad 0.3.0 still use.
for _name, _value in {"NaN": np.nan, "float": float, "int": int, "object": object}.items():
    if _name not in vars(np):
        setattr(np, _name, _value)

import brian2 as b2  # noqa: E402
from brian2 import mV, ms, ohm  # noqa: E402

EQUATIONS = """
dv/dt = (-(v - {u_rest}*mV) + R*I)/tau_m : volt (unless refractory)
tau_m : second (constant)
R : ohm (constant)
u_thresh : volt (constant)
"""
THRESHOLD, RESET = "v >= u_thresh", "v = {u_reset}*mV"
BOUNDS = {"tau_m": (2.0, 50.0), "R": (0.1, 10.0), "u_thresh": (0.5, 3.0)}
UNITS = {"tau_m": ms, "R": ohm, "u_thresh": mV}


def refractory(tau_rest_ms: float, dt_ms: float):
    """Brian2 stamps a spike at the start of the step whose update crossed the threshold
    (lifsim at its end, one step later) and holds for ``timestep(t - lastspike) <
    timestep(refractory)``: ``tau_rest + dt`` holds the same samples as lifsim's ``tau_rest``."""
    return (tau_rest_ms + dt_ms) * ms


def fit(task, args) -> dict:
    from brian2modelfitting import MSEMetric, NevergradOptimizer, TraceFitter

    dt, steps = float(task["dt_ms"]), args.train_steps
    current, voltage = task["current_mA"], task["u_mV"]
    history, started = [], time.perf_counter()

    def callback(params, errors, best_params, best_error, index):
        history.append({"t_s": time.perf_counter() - started, "evaluations": (index + 1) * args.population,
                        "best_train_mse": float(best_error) * 1e6, "best": _plain(best_params)})
        return False

    np.random.seed(args.seed)  # nevergrad 0.3 draws from numpy's global generator
    fitter = TraceFitter(model=EQUATIONS.format(u_rest=args.u_rest), input_var="I", output_var="v",
                         input=current[None, :steps] * b2.mA, output=voltage[None, :steps] * mV, dt=dt * ms,
                         n_samples=args.population, method="exact", threshold=THRESHOLD,
                         reset=RESET.format(u_reset=args.u_reset), refractory=refractory(args.tau_rest, dt),
                         param_init={"v": float(voltage[0]) * mV})
    optimizer = NevergradOptimizer("DE", budget=args.rounds * args.population)
    best, error = fitter.fit(optimizer=optimizer, metric=MSEMetric(), n_rounds=args.rounds, callback=callback,
                             **{k: [lo * UNITS[k], hi * UNITS[k]] for k, (lo, hi) in BOUNDS.items()})
    fit_s = time.perf_counter() - started
    return {"fit_s": fit_s, "evaluations": len(history) * args.population, "history": history,
            "parameters": _plain(best), "best_train_mse_search": float(error) * 1e6}


def _plain(params) -> dict:
    return {k: float(v / UNITS[k]) for k, v in params.items()}


def score(task, parameters: dict, args) -> dict:
    """The fitted model over the whole recording (one neuron, from the first sample): its
    MSE on the training part and on the held-out part, and its spike count."""
    b2.start_scope()
    dt = float(task["dt_ms"])
    b2.defaultclock.dt = dt * ms
    stimulus = b2.TimedArray(task["current_mA"] * b2.mA, dt=dt * ms)
    group = b2.NeuronGroup(1, EQUATIONS.format(u_rest=args.u_rest) + "I = stimulus(t) : amp",
                           threshold=THRESHOLD, reset=RESET.format(u_reset=args.u_reset),
                           refractory=refractory(args.tau_rest, dt), method="exact",
                           namespace={"stimulus": stimulus})
    for name, value in parameters.items():
        setattr(group, name, value * UNITS[name])
    group.v = float(task["u_mV"][0]) * mV
    trace, spikes = b2.StateMonitor(group, "v", record=0), b2.SpikeMonitor(group)
    b2.run(len(task["current_mA"]) * dt * ms)
    u = trace.v[0] / mV
    error = (u - task["u_mV"]) ** 2
    return {"train_mse": float(error[:args.train_steps].mean()), "test_mse": float(error[args.train_steps:].mean()),
            "spikes": int(spikes.num_spikes)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", help="the task's .npz (dt_ms, current_mA, u_mV)")
    parser.add_argument("--train-steps", type=int, required=True)
    parser.add_argument("--population", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tau-rest", type=float, default=2.0)
    parser.add_argument("--u-rest", type=float, default=0.0)
    parser.add_argument("--u-reset", type=float, default=0.0)
    args = parser.parse_args()
    b2.prefs.codegen.target = "cython"
    b2.BrianLogger.log_level_error()
    task = dict(np.load(args.task))
    row = fit(task, args)
    row.update(score(task, row["parameters"], args))
    row.update(brian2=b2.__version__, target="cython")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
