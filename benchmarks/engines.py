"""lifsim's engines side by side on one benchmark case, each run a process pinned to the same cores.

    python benchmarks/engines.py                       # case A, numba and tensorflow, one core
    python benchmarks/engines.py --case B --engines numpy,numba,tensorflow --repeats 3
    python benchmarks/engines.py --device gpu --neurons 1000000,10000000 --engines tensorflow
    python benchmarks/engines.py --case brunel --engines numba,tensorflow --device gpu   # a GPU machine

Each configuration runs once to warm its caches (numba's kernels on disk), then
``--repeats`` times; the table shows medians of ``lifsim bench --json``: the simulation's
wall time, neuron-steps per second, the whole call with start-up and compilation, and each
engine's speed against the first engine listed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def bench(case, engine, neurons, cores, threads, device, order=None, duration=None):
    command = ["taskset", "-c", cores, sys.executable, "-m", "lifsim", "bench", case, "--engine", engine,
               "--threads", str(threads), "--json"]
    if neurons:
        command += ["--neurons", str(neurons)]
    if order:
        command += ["--order", str(order)]
    if duration:
        command += ["--duration", str(duration)]
    if device:
        command += ["--device", device]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", default="A", choices=["A", "B", "cuba", "brunel"])
    parser.add_argument("--order", type=int, default=None, help="brunel's order (default: 2500)")
    parser.add_argument("--duration", type=float, default=None, help="simulated ms (default: the case's, 1000)")
    parser.add_argument("--engines", default="numba,tensorflow", help="comma-separated (default: %(default)s)")
    parser.add_argument("--neurons", default="", help="comma-separated sizes (default: the case's)")
    parser.add_argument("--cores", default="0", help="taskset core list (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="threads per engine (default: %(default)s)")
    parser.add_argument("--device", default=None, choices=["cpu", "gpu"], help="tensorflow device")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    engines = args.engines.split(",")
    sizes = [int(n) for n in args.neurons.split(",") if n] or [0]
    print(f"| case | neurons | engine | wall (s) | neuron-steps/s | total (s) | vs {engines[0]} |")
    print("|---|---|---|---|---|---|---|")
    for neurons in sizes:
        rows = {}
        for engine in engines:
            device = args.device if engine == "tensorflow" else None
            options = (args.case, engine, neurons, args.cores, args.threads, device, args.order, args.duration)
            bench(*options)  # warm caches
            runs = [bench(*options) for _ in range(args.repeats)]
            rows[engine] = {"wall_s": statistics.median(r["wall_s"] for r in runs),
                            "total_s": statistics.median(r["total_s"] for r in runs), "first": runs[0]}
        base = rows[engines[0]]["wall_s"]
        for engine, row in rows.items():
            first = row["first"]
            print(f"| {args.case} | {first['neurons']} | {engine} | {row['wall_s']:.3f} | "
                  f"{first['neurons'] * first['steps'] / row['wall_s']:.3g} | {row['total_s']:.2f} | "
                  f"{base / row['wall_s']:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
