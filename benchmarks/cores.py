"""What a second thread can give on this machine: the same work on one thread, then on two.

    python benchmarks/cores.py                 # about 2 s
    python benchmarks/cores.py --scale 0.01    # a quick look

Two loops, compiled by numba, each run by one thread and then by two threads at once (each
thread its own copy of the work, so two threads do twice the work):

- vector arithmetic: a multiply-add over 1,024 float32 numbers held in registers and the L1
  cache, again and again — it keeps the core's vector units busy, as stepping a block of
  neurons whose state stays in cache does;
- dependent scalar chain: a square root that needs the previous one — each step waits for the
  last, as a scattered addition into memory waits for its cache line.

"two threads / one" is the work done per second with two threads against one: 2 when the
two logical CPUs are two cores; about 1 for vector arithmetic when they are two hardware
threads of one core (SMT, "hyper-threads"), which share the core's vector units and gain
only where the work waits. Virtual machines may not say which they are (`lscpu` can report
one thread per core either way); this measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="work per thread, 1 = about 0.2 s per loop")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 100:
        parser.error(f"--scale must be in (0, 100] (got {args.scale})")
    rows = measure(args.scale)
    print("| loop | one thread (s) | two threads, twice the work (s) | two threads / one |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['loop']} | {row['one_thread_s']:.3f} | {row['two_threads_s']:.3f} | "
              f"{row['speed_up']:.2f}× |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"cpus": os.cpu_count(), "rows": rows}, out, indent=1)
    return {"rows": rows}


def measure(scale: float) -> list[dict]:
    import numba
    import numpy as np

    from numba import njit, prange

    @njit(fastmath=True)
    def multiply_add(x, reps):
        for _ in range(reps):
            for i in range(x.shape[0]):
                x[i] = x[i] * np.float32(0.999999) + np.float32(1e-6)

    @njit(parallel=True, fastmath=True)
    def vector(work, reps, threads):
        for t in prange(threads):
            multiply_add(work[t], reps)

    @njit
    def square_roots(n, x):
        for _ in range(n):
            x = np.sqrt(x * 0.9999999 + 1e-7)
        return x

    @njit(parallel=True)
    def chain(n, threads, out):
        for t in prange(threads):
            out[t] = square_roots(n, 1.0 + t * 1e-9)

    work = np.ones((2, 1024), np.float32)
    out = np.zeros(2)
    loops = {"vector arithmetic": lambda threads: vector(work, max(1, int(2_000_000 * scale)), threads),
             "dependent scalar chain": lambda threads: chain(max(1, int(30_000_000 * scale)), threads, out)}
    rows = []
    for name, loop in loops.items():
        loop(2)  # compile, start the threads
        times = {}
        for threads in (1, 2):
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                loop(threads)
                best = min(best, time.perf_counter() - start)
            times[threads] = best
        rows.append({"loop": name, "one_thread_s": times[1], "two_threads_s": times[2],
                     "speed_up": 2 * times[1] / times[2]})
    return rows


if __name__ == "__main__":
    main()
