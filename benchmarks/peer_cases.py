"""Benchmark cases A and B on the peers: Brian2 (C++ standalone, cython) and NEST.

Run by ``benchmarks/peers.py`` inside the peers' own virtual environment (Python >= 3.12),
one case and one simulator per process; prints one JSON object:
``{"loop_s": ..., "spikes": ...}`` where ``loop_s`` is the simulation loop alone.

Both models are lifsim's, in the peers' units: time ms, potential mV, current mA for
Brian2 (R in ohm, so R·I is in mV); NEST takes pA and pF, so C_m = tau_m/R with R = 1 GΩ
keeps every number equal (1 pA · 1 GΩ = 1 mV). Integration is exact (NEST's iaf_psc_exp,
Brian2's "exact"), except Brian2 in case B (see ``brian2_case``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

U_THRESH, U_REST, TAU_REST, TAU_M, TAU_SYN, Q = 1.0, 0.0, 4.0, 10.0, 10.0, 1.5  # mV, mV, ms, ms, ms, mA·ms
SYNAPSES, RATE_HZ = 25, 20.0


def brian2_case(case, n, duration_ms, dt_ms, target, build_dir, seed):
    import brian2 as b2

    if target == "standalone":
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = dt_ms * b2.ms
    b2.seed(seed)
    mV, ms, mA, ohm = b2.mV, b2.ms, b2.mA, b2.ohm
    namespace = {"tau_m": TAU_M * ms, "tau_syn": TAU_SYN * ms, "R": 1 * ohm, "u_thresh": U_THRESH * mV,
                 "u_rest": U_REST * mV, "q_over_tau": Q / TAU_SYN * mA}
    if case == "A":
        eqs = "du/dt = (R*I - u)/tau_m : volt (unless refractory)\nI : amp (constant)"
    else:
        eqs = ("du/dt = (R*I_syn - u)/tau_m : volt (unless refractory)\n"
               "dI_syn/dt = -I_syn/tau_syn : amp")
    # Brian2's symbolic exact solution of the coupled case divides by tau_m - tau_syn, which is 0
    # here (NaN at run time); exponential Euler is exact for u over a step with I_syn held, same cost.
    method = "exact" if case == "A" else "exponential_euler"
    group = b2.NeuronGroup(n, eqs, threshold="u >= u_thresh", reset="u = u_rest",
                           refractory=TAU_REST * ms, method=method, namespace=namespace)
    group.u = U_REST * mV
    objects = [group]
    if case == "A":
        group.I = np.random.default_rng(seed).uniform(0.0, 2.0, n) * mA
    else:
        sources = b2.PoissonGroup(n * SYNAPSES, RATE_HZ * b2.Hz)
        synapses = b2.Synapses(sources, group, "w : 1", on_pre="I_syn += w*q_over_tau", namespace=namespace)
        synapses.connect(j=f"i // {SYNAPSES}")
        synapses.w = np.random.default_rng(seed).normal(1.0, 0.5, n * SYNAPSES)
        objects += [sources, synapses]
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(*objects, monitor)
    start = time.perf_counter()
    net.run(duration_ms * ms, report=None)
    if target == "standalone":
        b2.device.build(directory=build_dir, compile=True, run=True, debug=False, clean=False)
        loop = b2.device._last_run_time
    else:
        loop = time.perf_counter() - start
    return {"loop_s": loop, "spikes": int(monitor.num_spikes)}


def nest_case(case, n, duration_ms, dt_ms, seed):
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": 1, "rng_seed": seed + 1})
    params = {"C_m": TAU_M, "tau_m": TAU_M, "E_L": U_REST, "V_reset": U_REST, "V_th": U_THRESH,
              "t_ref": TAU_REST, "V_m": U_REST, "tau_syn_ex": TAU_SYN, "tau_syn_in": TAU_SYN}
    neurons = nest.Create("iaf_psc_exp", n, params=params)
    if case == "A":
        neurons.I_e = np.random.default_rng(seed).uniform(0.0, 2.0, n).tolist()
    else:
        # A poisson_generator sends an independent train to each target: 25 generators, each to all.
        generators = nest.Create("poisson_generator", SYNAPSES, params={"rate": RATE_HZ})
        nest.Connect(generators, neurons, "all_to_all",
                     {"weight": nest.random.normal(mean=Q / TAU_SYN, std=0.5 * Q / TAU_SYN), "delay": dt_ms})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    start = time.perf_counter()
    nest.Simulate(duration_ms)
    loop = time.perf_counter() - start
    return {"loop_s": loop, "spikes": int(recorder.n_events)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("simulator", choices=["brian2-standalone", "brian2-cython", "nest"])
    parser.add_argument("case", choices=["A", "B"])
    parser.add_argument("--neurons", type=int, required=True)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--dt", type=float, default=0.1, help="ms")
    parser.add_argument("--build-dir", default=os.path.join(os.getcwd(), "brian2-standalone"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.simulator == "nest":
        row = nest_case(args.case, args.neurons, args.duration, args.dt, args.seed)
    else:
        row = brian2_case(args.case, args.neurons, args.duration, args.dt, args.simulator.split("-")[1],
                          args.build_dir, args.seed)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
