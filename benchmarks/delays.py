"""Heterogeneous delays against one delay: the built-in Brunel network with every projection's
delay constant (1.5 ms) or drawn per synapse, uniform in [0.5, 2.5] ms (the same mean).

    python benchmarks/delays.py                         # order 2500, 1 s, medians of 3
    python benchmarks/delays.py --order 200 --duration 100 --repeats 1

Every run is a fresh process pinned with ``taskset`` (one thread on ``--cores``, two on
``--cores-2``); each configuration runs once to warm numba's caches, then the configurations
take turns ``--repeats`` times. "loop" is input generation and the engine's loop, "build" the
synapses (per-synapse delays are drawn and rounded there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

DELAYS = {"constant 1.5 ms": None, "uniform [0.5, 2.5] ms": (0.5, 2.5)}


def run_one(order: int, duration_ms: float, threads: int, delays) -> dict:
    """One run in this process: the figures of `lifsim.bench.run_case`."""
    import dataclasses

    from lifsim import Uniform
    from lifsim.bench import case_config, run_case

    config = case_config("brunel", order=order, duration_ms=duration_ms, threads=threads)
    if delays is not None:
        projections = tuple(dataclasses.replace(p, delay_ms=Uniform(*delays)) for p in config.projections)
        config = config.replace(projections=projections)
    return run_case(config, "brunel")


def measure(args, label: str, threads: int) -> dict:
    cores = args.cores if threads == 1 else args.cores_2
    command = ["taskset", "-c", cores, sys.executable, __file__, "--one", label, "--threads", str(threads),
               "--order", str(args.order), "--duration", str(args.duration)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--order", type=int, default=2500)
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated ms (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", default="0", help="cores for one thread (default: %(default)s)")
    parser.add_argument("--cores-2", default="0,1", help="cores for two threads (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--one", choices=list(DELAYS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.order, args.duration, args.threads, DELAYS[args.one])))
        return
    configs = [(label, threads) for label in DELAYS for threads in (1, 2)]
    for label, threads in configs:
        measure(args, label, threads)  # warm-up
    runs = {config: [] for config in configs}
    for _ in range(args.repeats):
        for config in configs:
            runs[config].append(measure(args, *config))
    print(f"Brunel order {args.order}, {args.duration:g} ms; medians of {args.repeats}")
    print("| delays | threads | loop (s) | build (s) | synapses | rates (Hz) | loop against constant, same threads |")
    print("|---|---|---|---|---|---|---|")
    for label, threads in configs:
        rows = runs[(label, threads)]
        loop = statistics.median(r["wall_s"] for r in rows)
        base = statistics.median(r["wall_s"] for r in runs[(next(iter(DELAYS)), threads)])
        rates = ", ".join(f"{k} {v:.2f}" for k, v in rows[0]["rates_hz"].items())
        print(f"| {label} | {threads} | {loop:.3f} | {statistics.median(r['build_s'] for r in rows):.3f} | "
              f"{rows[0]['synapses']} | {rates} | {loop / base:.2f}× |")


if __name__ == "__main__":
    main()
