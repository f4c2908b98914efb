"""Fitting a LIF neuron to a recording: lifsim's `fit` against Brian2's brian2modelfitting.

    python benchmarks/fitting.py                      # the whole benchmark (about 15 min)
    python benchmarks/fitting.py --quick --lifsim-only   # tiny sizes, no peers (seconds)

Run it with the Python that has lifsim installed; Brian2's side (`fit_peer.py`) runs in the
peers' venv (``--peers-venv``, as ``benchmarks/peers.py`` sets it up) with
``brian2modelfitting`` 0.4 installed beside Brian2 >= 2.10. Its pins need nevergrad 0.3.0,
which needs ``bayesian-optimization<2``; numpy 2 removed aliases both still use, so
`fit_peer.py` puts them back before importing them. Set-up:
``.peers-venv/bin/pip install brian2modelfitting "bayesian-optimization<2"``.

The task (the same file for both sides): an Ornstein-Uhlenbeck current (tau 10 ms, mean
1.1 mA, sd 0.6 mA, seeded) drives a LIF neuron (tau_m 15 ms, R 1.3 Ω, u_thresh 1.2 mV,
u_rest = u_reset = 0, refractory 2 ms) for 3 s at dt 0.1 ms, integrated by lifsim's
``exact`` method in float32; its voltage (and spikes) are the recording. Both sides fit
tau_m in [2, 50] ms, R in [0.1, 10] Ω and u_thresh in [0.5, 3] mV (refractory fixed) to
the first 2/3 by voltage MSE (mV²), with differential evolution, one population of
candidates simulated per generation as one group of neurons, on one core (``taskset``):

- lifsim: ``lifsim.fit.fit`` (DE over the unit box, tau_m and R on a log scale, numba
  engine, 1 thread; then ``--refine-steps`` Adam steps through the TensorFlow engine);
- Brian2: ``TraceFitter`` with ``MSEMetric`` and ``NevergradOptimizer("DE")``,
  ``n_samples`` = the population per round, cython code generation, method ``exact``,
  threshold ``v >= u_thresh``, reset ``v = u_reset``, ``(unless refractory)``.

The sides' models agree to float32 rounding (the true parameters give a train MSE of
~1e-13 mV² on Brian2): the one semantic difference is the spike's time stamp (Brian2 the
start of the crossing step, lifsim its end), so Brian2's refractory period is given as
2 ms + dt, which holds the same samples as lifsim's 2 ms.

Measured, per run (a fresh process each; one warm-up run per side first, not counted, so
that numba's and Brian2's compiled code is cached; then ``--repeats`` runs with seeds
``--seed`` + 0, 1, ...; medians; ``--quick``: one run, no warm-up):

- fit: the fit call's wall time (lifsim: ``fit`` from call to return, restarts and
  refinement included; Brian2: ``TraceFitter`` built, ``fit`` run);
- process: the whole process, start to exit (imports, the task file read, the fit, the
  held-out run);
- to test MSE <= ``--target`` (mV²): seconds from the start of the fit until the
  held-out MSE of the search's best-so-far candidate (lowest training MSE so far) reached
  the target and stayed there to the end; "—" if the fit ended above it. Candidates are
  taken from the per-generation history and scored afterwards, all by lifsim's run of the
  whole recording (the same scorer for both sides); the fit's final model counts at the
  fit's end;
- to Brian2's final held-out MSE: the same, with Brian2's final held-out MSE (median over
  its runs) as the target for lifsim's runs, and each Brian2 run's own final score for
  that run: the time each side takes to the same held-out score, and their ratio;
- simulations: candidates simulated by the search (lifsim adds gradient steps, listed
  apart: each is one forward and backward run of the restarts' bests);
- train / test MSE: the fitted model run once over the whole recording from its first
  sample (lifsim: by ``fit``; Brian2: a NeuronGroup of one), scored on the first 2/3 and on
  the held-out last 1/3; "test MSE, lifsim's run" scores the final parameters of either
  side by lifsim's run.

The machine's load average before and after goes into the JSON: the figures are wall
times on a shared core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TRUE = {"tau_m": 15.0, "R": 1.3, "u_thresh": 1.2}
FIXED = {"u_rest": 0.0, "u_reset": 0.0, "tau_rest": 2.0}
BOUNDS = {"tau_m": (2.0, 50.0), "R": (0.1, 10.0), "u_thresh": (0.5, 3.0)}
DT_MS = 0.1


def ou_current(steps: int, seed: int, dt=DT_MS, tau=10.0, mean=1.1, sd=0.6) -> np.ndarray:
    """An Ornstein-Uhlenbeck current, mA, by its exact update, starting at its mean."""
    decay = np.exp(-dt / tau)
    kicks = sd * np.sqrt(1 - decay ** 2) * np.random.default_rng(seed).standard_normal(steps)
    current, x = np.empty(steps), mean
    for k in range(steps):
        current[k] = x
        x = mean + (x - mean) * decay + kicks[k]
    return current


def simulate_neuron(current: np.ndarray, parameters: dict):
    """One neuron with ``parameters`` (and `FIXED`) driven by ``current``: (u in mV, spike times in ms)."""
    from lifsim import LIFParams, Population, Record, RunConfig, simulate
    from lifsim.stimuli.currents import RecordedCurrent

    model = LIFParams(**parameters, **FIXED)
    config = RunConfig(name="task", duration_ms=len(current) * DT_MS, dt_ms=DT_MS, method="exact", engine="numba",
                       precision="float32", populations=(Population("neuron", 1, model, u_init=0.0),),
                       stimuli=(RecordedCurrent(samples=current, sample_dt_ms=DT_MS),),
                       record=Record(variables=("u",), neurons="all"))
    result = simulate(config)
    return result.traces["u"][:, 0].astype(float), result.spike_times_ms


def write_task(path: Path, seconds: float, seed: int) -> dict:
    """The synthetic recording, written as an NPZ both sides read."""
    current = ou_current(int(round(seconds * 1000 / DT_MS)), seed)
    u, spikes = simulate_neuron(current, TRUE)
    np.savez(path, dt_ms=np.array(DT_MS), current_mA=current, u_mV=u, spike_times_ms=spikes)
    steps = len(current)
    train_steps = steps - int(np.floor(steps / 3 + 0.5))  # where Recording.split(1/3) cuts
    return {"path": str(path), "steps": steps, "train_steps": train_steps, "spikes": len(spikes),
            "seconds": seconds, "seed": seed}


# The lifsim side, run as its own process: ``fitting.py --worker TASK.npz ...``.

def lifsim_worker(args) -> dict:
    started = time.perf_counter()
    from lifsim import LIFParams
    from lifsim.fit.fitting import fit

    history, clock = [], {}

    def report(stage, restart, count, score, best):
        history.append({"t_s": time.perf_counter() - clock["start"], "stage": stage, "restart": restart,
                        "count": int(count), "best_train_mse": float(score), "best": best})

    model = LIFParams(**TRUE, **FIXED)  # the fitted fields are replaced; the fixed ones are FIXED
    clock["start"] = time.perf_counter()
    result = fit(args.worker, BOUNDS, model=model, optimizer="de", population=args.population,
                 evaluations=args.evaluations, restarts=args.restarts, refine_steps=args.refine_steps,
                 seed=args.seed, threads=1, test_fraction=1 / 3, report=report)
    fit_s = time.perf_counter() - clock["start"]
    return {"fit_s": fit_s, "evaluations": result.evaluations, "gradient_steps": result.gradient_steps,
            "parameters": result.parameters, "train_mse": result.train_score, "test_mse": result.test_score,
            "timings": result.timings, "history": history, "spikes": int(len(result.result.spike_times_ms)),
            "import_s": clock["start"] - started}


# The driver.

def lifsim_command(task, args, seed, warm=False):
    """The lifsim worker's command; the warm-up fits one generation and takes one gradient step."""
    evaluations, restarts = (args.population, 1) if warm else (args.evaluations, args.restarts)
    refine_steps = min(args.refine_steps, 1) if warm else args.refine_steps
    return [sys.executable, str(Path(__file__).resolve()), "--worker", task["path"], "--population",
            str(args.population), "--evaluations", str(evaluations), "--restarts", str(restarts), "--refine-steps",
            str(refine_steps), "--seed", str(seed)]


def peer_command(peer_python, task, args, seed, warm=False):
    return [str(peer_python), str(HERE / "fit_peer.py"), task["path"], "--train-steps", str(task["train_steps"]),
            "--population", str(args.peer_population), "--rounds", str(1 if warm else args.rounds),
            "--seed", str(seed)]


def held_out_curve(task: dict, row: dict) -> list:
    """(seconds into the fit, test MSE) of the best-so-far candidate after each generation
    (lowest training MSE so far, over restarts), and of the final model at the fit's end; every
    candidate scored by lifsim's run of the whole recording, whichever side found it."""
    data = np.load(task["path"])
    cache, curve, best = {}, [], None
    points = [e for e in row["history"] if "best" in e]
    points.append({"t_s": row["fit_s"], "best_train_mse": -1.0, "best": row["parameters"]})
    for entry in points:
        if best is None or entry["best_train_mse"] <= best["best_train_mse"]:
            best = entry
        key = tuple(best["best"][name] for name in BOUNDS)
        if key not in cache:
            u, _ = simulate_neuron(data["current_mA"], best["best"])
            cache[key] = float(((u - data["u_mV"])[task["train_steps"]:] ** 2).mean())
        curve.append((entry["t_s"], cache[key]))
    return curve


def time_to(curve: list, target: float) -> float | None:
    """The time from which the held-out MSE of the best-so-far candidate stayed at or
    below ``target`` to the end of the fit (None if it ends above)."""
    reached = None
    for t, score in reversed(curve):
        if score > target:
            break
        reached = t
    return reached


def run_side(label, command, task, args, repeats) -> list:
    from peers import measure

    if not args.no_warm:
        measure(command(warm=True), args.cores, HERE)
    rows = []
    for r in range(repeats):
        row = measure(command(warm=False, repeat=r), args.cores, HERE)
        row["curve"] = held_out_curve(task, row)
        row["test_mse_lifsim"] = row["curve"][-1][1]
        row["time_to_target_s"] = time_to(row["curve"], args.target)
        rows.append(row)
        print(f"{label} run {r + 1}: fit {row['fit_s']:.1f} s, process {row['process_s']:.1f} s, "
              f"to test MSE <= {args.target:g}: {_s(row['time_to_target_s'])} s, test MSE {row['test_mse']:.3g}",
              flush=True)
    return rows


def _median_or_none(values: list, runs: int):
    return statistics.median(values) if len(values) == runs else None


def summary(label, rows) -> dict:
    """Medians over the runs, and the median run's parameters (the run of median fit time)."""
    middle = sorted(rows, key=lambda r: r["fit_s"])[len(rows) // 2]
    reached = [r["time_to_target_s"] for r in rows if r["time_to_target_s"] is not None]
    return {"label": label, "runs": len(rows), "fit_s": statistics.median(r["fit_s"] for r in rows),
            "process_s": statistics.median(r["process_s"] for r in rows),
            "time_to_target_s": _median_or_none(reached, len(rows)), "reached_target": f"{len(reached)}/{len(rows)}",
            "evaluations": statistics.median(r["evaluations"] for r in rows),
            "gradient_steps": statistics.median(r.get("gradient_steps", 0) for r in rows),
            "train_mse": statistics.median(r["train_mse"] for r in rows),
            "test_mse": statistics.median(r["test_mse"] for r in rows),
            "test_mse_lifsim": statistics.median(r["test_mse_lifsim"] for r in rows),
            "test_mse_max": max(r["test_mse_lifsim"] for r in rows), "parameters": middle["parameters"]}


def same_score(lifsim_rows, brian2_rows) -> dict:
    """Time for each side to reach Brian2's final held-out score (median over its runs):
    lifsim's runs from their curves, Brian2's each to its own final score."""
    score = statistics.median(r["test_mse_lifsim"] for r in brian2_rows)
    ours = [time_to(r["curve"], score) for r in lifsim_rows]
    theirs = [time_to(r["curve"], r["test_mse_lifsim"]) for r in brian2_rows]
    ours_s = _median_or_none([t for t in ours if t is not None], len(ours))
    theirs_s = statistics.median(theirs)
    return {"score": score, "lifsim_s": ours_s, "lifsim_runs_s": ours, "brian2_s": theirs_s, "brian2_runs_s": theirs,
            "ratio": theirs_s / ours_s if ours_s else None}


def table(task, rows, target, same=None) -> str:
    lines = [f"\nFit of tau_m, R, u_thresh: {task['steps']} steps ({task['seconds']:g} s, {task['spikes']} spikes), "
             f"train {task['train_steps']} / held out {task['steps'] - task['train_steps']}",
             "| side | runs | fit (s) | process (s) | simulations | gradient steps | train MSE (mV²) "
             f"| test MSE (mV²) | test MSE, lifsim's run | to test MSE <= {target:g} (s) "
             "| tau_m (ms) | R (Ω) | u_thresh (mV) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        p = row["parameters"]
        lines.append(f"| {row['label']} | {row['runs']} | {row['fit_s']:.1f} | {row['process_s']:.1f} | "
                     f"{row['evaluations']:.0f} | {row['gradient_steps']:.0f} | {row['train_mse']:.3g} | "
                     f"{row['test_mse']:.3g} | {row['test_mse_lifsim']:.3g} | {_s(row['time_to_target_s'])} "
                     f"({row['reached_target']}) | {p['tau_m']:.4f} | {p['R']:.4f} | {p['u_thresh']:.4f} |")
    if same:
        ratio = "—" if same["ratio"] is None else f"{same['ratio']:.1f}×"
        lines.append(f"\nTo Brian2's final held-out MSE ({same['score']:.3g} mV², median): lifsim "
                     f"{_s(same['lifsim_s'])} s, Brian2 {_s(same['brian2_s'])} s; Brian2 / lifsim: {ratio}")
    return "\n".join(lines)


def _s(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def main_driver(args):
    from peers import _cpu

    if args.quick:
        args.seconds, args.population, args.evaluations, args.restarts = 0.3, 40, 400, 1
        args.refine_steps, args.peer_population, args.rounds, args.repeats = 2, 40, 5, 1
        args.peer_repeats, args.no_warm = 1, True
    peer_python = None if args.lifsim_only else args.peers_venv / "bin" / "python"
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        task = write_task(Path(folder) / "task.npz", args.seconds, args.task_seed)
        raw = {"lifsim": run_side("lifsim", lambda warm, repeat=0: lifsim_command(task, args, args.seed + repeat, warm),
                                  task, args, args.repeats)}
        rows = [summary(f"lifsim DE {args.population}, {args.restarts} restart(s)", raw["lifsim"])]
        same = None
        if peer_python is not None:
            raw["brian2"] = run_side("brian2", lambda warm, repeat=0: peer_command(peer_python, task, args,
                                                                                  args.seed + repeat, warm),
                                     task, args, args.peer_repeats)
            rows.append(summary(f"Brian2 brian2modelfitting DE {args.peer_population}", raw["brian2"]))
            same = same_score(raw["lifsim"], raw["brian2"])
    print(table(task, rows, args.target, same), flush=True)
    report = {"date": date.today().isoformat(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
              "versions": _versions(peer_python), "cpu": _cpu(), "cores": args.cores,
              "load_average_before_after": [load_before, os.getloadavg()], "task": task, "true": TRUE, "fixed": FIXED,
              "bounds": BOUNDS, "target_test_mse": args.target, "rows": rows, "same_score": same, "runs": raw}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({"rows": rows, "same_score": same}))


def _versions(peer_python) -> dict:
    from peers import versions

    try:
        import scipy

        found = {"scipy (lifsim)": scipy.__version__}
        if peer_python is None:
            return {**versions(None), **found}
        import subprocess

        code = ("import json, brian2, sys, numpy, scipy; from importlib.metadata import version as v; "
                "print(json.dumps({'python (peers)': sys.version.split()[0], 'brian2': brian2.__version__, "
                "'brian2modelfitting': v('brian2modelfitting'), 'nevergrad': v('nevergrad'), "
                "'numpy (peers)': numpy.__version__}))")
        out = subprocess.run([str(peer_python), "-c", code], capture_output=True, text=True, check=True).stdout
        return {**versions(None), **found, **json.loads(out.strip().splitlines()[-1])}
    except Exception as error:  # versions are a note, not the benchmark
        return {"error": repr(error)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="recording length, s (default: %(default)s)")
    parser.add_argument("--task-seed", type=int, default=1, help="the current's seed (default: %(default)s)")
    parser.add_argument("--population", type=int, default=300, help="lifsim: DE population (default: %(default)s)")
    parser.add_argument("--evaluations", type=int, default=30_000,
                        help="lifsim: candidates per restart, at most (default: %(default)s)")
    parser.add_argument("--restarts", type=int, default=1, help="lifsim: restarts (default: %(default)s)")
    parser.add_argument("--refine-steps", type=int, default=20, help="lifsim: Adam steps (default: %(default)s)")
    parser.add_argument("--peer-population", type=int, default=300,
                        help="Brian2: n_samples per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=100, help="Brian2: rounds (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="lifsim: measured runs (default: %(default)s)")
    parser.add_argument("--peer-repeats", type=int, default=3, help="Brian2: measured runs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the fits' seed, + the repeat's index (default: %(default)s)")
    parser.add_argument("--target", type=float, default=1e-3, help="target held-out MSE, mV² (default: %(default)s)")
    parser.add_argument("--cores", default="1", help="taskset core list for every run (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: 0.3 s recording, small populations")
    parser.add_argument("--no-warm", action="store_true", help="no warm-up run before the measured ones")
    parser.add_argument("--lifsim-only", action="store_true", help="no Brian2 side")
    parser.add_argument("--peers-venv", type=Path, default=HERE / ".peers-venv")
    parser.add_argument("--json", type=Path, default=None, help="also write all figures to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(lifsim_worker(args)))
    else:
        main_driver(args)


if __name__ == "__main__":
    main()
