"""Sweep throughput: in this process and on a 2-worker Dask LocalCluster, against one population.

    python benchmarks/sweeps.py                                   # 10,000 points × 10 trials, 1 s
    python benchmarks/sweeps.py --points 20 --noise-points 10 --trials 2 --duration 20   # a quick check

The sweep is benchmark case A's neuron (the article's parameters, exact method, float32,
dt 0.1 ms) under a constant current, swept over ``--points`` currents in [0, 2) mA with
``--trials`` trials each: ``points × trials`` neurons. The reference is one run of a single
population of as many neurons (``lifsim bench A``'s run: the same neuron, currents uniform
in [0, 2] mA), timed by `simulate` from its call to its return. Figures are neuron-steps per
second of wall time; "in-process" runs the sweep in this process (the engine's threads:
all cores), "dask" on a LocalCluster of two single-threaded worker processes on the same
cores (its start-up reported apart, and the per-task overhead: the time of a task that
does nothing, round trip). A second, noisy experiment (a noise current, each member drawing
its own noise from its own seed; ``--noise-points`` points, swept over the noise's sd) shows
the cost of per-member random streams.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import lifsim
from lifsim.bench import case_config
from lifsim.sweep import sweep

EXPERIMENT = """
name = "sweep-bench"
duration_ms = {duration}
dt_ms = 0.1
method = "exact"
engine = "numba"
precision = "float32"
[model]
u_rest = 0.0
u_thresh = 1.0
tau_rest = 4.0
R = 1.0
tau_m = 10.0
[[stimulus]]
kind = "{kind}"
{stimulus}
[record]
neurons = "none"
[plot]
panels = ["raster"]
"""


def experiment_file(folder: Path, kind: str, duration: float) -> Path:
    stimulus = "amplitude = 1.0" if kind == "constant" else "mean = 1.0\nsd = 0.5"
    path = folder / f"{kind}.toml"
    path.write_text(EXPERIMENT.format(duration=duration, kind=kind, stimulus=stimulus))
    return path


def population_rate(n: int, duration: float, kind: str) -> float:
    """Neuron-steps per second of one population run of ``n`` neurons (the sweep's neuron)."""
    config = case_config("A", neurons=n, duration_ms=duration)
    if kind == "noise":
        config = config.replace(stimuli=(lifsim.stimuli.NoiseCurrent(mean=1.0, sd=0.5),))
    lifsim.simulate(config.replace(duration_ms=10 * config.dt_ms))  # kernels loaded, not counted
    tick = time.perf_counter()
    lifsim.simulate(config)
    return n * config.steps / (time.perf_counter() - tick)


def sweep_rate(path: Path, points: int, trials: int, folder: Path, steps: int, amplitude: bool, **where) -> dict:
    """Neuron-steps per second of the sweep's runs (its batches, from the first sent to the
    last written) and of the whole call (checks, runs, the table, NetCDF and figure written),
    a Dask cluster's start-up left out of both."""
    axis = f"stimulus.0.amplitude=0:2:{2 / points!r}" if amplitude else f"stimulus.0.sd=0.1:2.1:{2 / points!r}"
    result = sweep(str(path), [axis], trials=trials, out=folder, **where)
    t, work = result.timings, result.table.num_rows * steps
    return {"runs": work / t["runs_s"], "whole": work / (t["total_s"] - t["dask_start_s"]), **t}


def task_overhead_s(workers: int = 2, tasks: int = 200) -> tuple[float, float]:
    """Dask LocalCluster start-up (s) and the round trip of a task that does nothing (s)."""
    from distributed import Client, LocalCluster

    tick = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        start = time.perf_counter() - tick
        client.gather([client.submit(int, i, pure=False) for i in range(10)])  # warm
        tick = time.perf_counter()
        for i in range(tasks):
            client.submit(int, i, pure=False).result()
        return start, (time.perf_counter() - tick) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kinds", default="constant,noise")
    parser.add_argument("--noise-points", type=int, default=1000,
                        help="points of the noisy sweep (each member draws its own noise: slower)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    steps = round(args.duration / 0.1)
    report = {"points": args.points, "noise_points": args.noise_points, "trials": args.trials,
              "duration_ms": args.duration}
    start, per_task = task_overhead_s()
    report.update(dask_start_s=start, dask_task_round_trip_s=per_task)
    print(f"Dask LocalCluster (2 workers): start-up {start:.2f} s, a task's round trip {per_task * 1e3:.2f} ms")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for kind in args.kinds.split(","):
            points = args.points if kind == "constant" else args.noise_points
            n = points * args.trials
            path = experiment_file(work, kind, args.duration)
            rows = {"population": [], "in-process": [], "dask 2 workers": []}
            sweep_rate(path, max(2, points // 100), 1, work / f"{kind}-warm", steps, kind == "constant")
            for r in range(args.repeats):  # interleaved, so that a slow spell falls on all of them
                rows["population"].append(population_rate(n, args.duration, kind))
                rows["in-process"].append(sweep_rate(path, points, args.trials, work / f"{kind}-{r}", steps,
                                                     kind == "constant"))
                rows["dask 2 workers"].append(sweep_rate(path, points, args.trials, work / f"{kind}-d{r}",
                                                         steps, kind == "constant", workers=2))
            population = statistics.median(rows["population"])
            report[kind] = {"points": points, "neurons": n, "runs": rows, "population": population}
            print(f"\n{kind}: {points} points × {args.trials} trials ({n} neurons) × {steps} steps; "
                  f"neuron-steps/s, medians of {args.repeats}")
            print(f"  one population of {n} neurons: {population:.3e}")
            medians = {}
            for label in ("in-process", "dask 2 workers"):
                runs = statistics.median(x["runs"] for x in rows[label])
                whole = statistics.median(x["whole"] for x in rows[label])
                medians[label] = runs
                print(f"  sweep, {label:15s} runs {runs:.3e} ({runs / population:.0%} of one population); "
                      f"whole call {whole:.3e} ({whole / population:.0%})")
            print(f"  dask / in-process (runs): {medians['dask 2 workers'] / medians['in-process']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float) + "\n")
    np.seterr()


if __name__ == "__main__":
    main()
