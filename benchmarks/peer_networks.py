"""The CUBA and Brunel networks on the peers: Brian2 (C++ standalone) and NEST.

Run by ``benchmarks/networks.py`` inside the peers' own virtual environment (Python >= 3.12),
one network, simulator and seed per process; prints one JSON object with ``loop_s`` (the
simulation loop alone), ``build_s`` (creating and connecting, for NEST), ``spikes``, and
per population its mean rate (Hz) and mean CV of the inter-spike intervals (over neurons
with at least two intervals, population standard deviation, as lifsim computes it).

Both networks are built as their reference scripts build them:

- CUBA: Brian2's ``examples/CUBA.py`` (4,000 neurons, p = 0.02, exact integration, dt 0.1 ms);
  in NEST with ``iaf_psc_exp`` (C_m = tau_m, so that 1 pA drives 1 mV, as Brian2's volt-valued
  currents do), ``pairwise_bernoulli`` and a delay of one step. ``--neurons N`` keeps the
  expected in-degree (p = 80/N).
- Brunel: NEST's ``brunel_delta_nest.py`` (``iaf_psc_delta``, fixed in-degree with multapses,
  a 20 kHz ``poisson_generator``, delay 1.5 ms); in Brian2 with the same connectivity law
  (sources drawn with replacement), input discarded while refractory, a ``PoissonInput``
  of C_E sources at eta·nu_th (binomial counts per step, mean 2 spikes per step), and NEST's
  order within a step (input before the threshold test, 20 refractory steps after the
  spike's step). With Brian2's default schedule the rates come out about 0.5 % lower
  (31.85 against 32.0 Hz over 10 seeds), a real difference of the discrete models.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

CUBA = {"tau_m": 20.0, "tau_e": 5.0, "tau_i": 10.0, "v_t": -50.0, "v_r": -60.0, "e_l": -49.0, "t_ref": 5.0,
        "w_e": 1.62, "w_i": -9.0, "p": 0.02, "neurons": 4000}
BRUNEL = {"tau_m": 20.0, "theta": 20.0, "t_ref": 2.0, "j": 0.1, "g": 5.0, "eta": 2.0, "epsilon": 0.1,
          "delay": 1.5}


def statistics(times_ms, neurons, sizes, duration_ms) -> dict:
    """Mean rate (Hz) and mean ISI CV per population (populations end to end)."""
    times_ms, neurons = np.asarray(times_ms, float), np.asarray(neurons, np.int64)
    order = np.lexsort((times_ms, neurons))
    t, n = times_ms[order], neurons[order]
    same = n[1:] == n[:-1]
    isi, owner = np.diff(t)[same], n[1:][same]
    total = sum(sizes.values())
    count = np.bincount(owner, minlength=total)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(owner, weights=isi, minlength=total) / count
        std = np.sqrt(np.bincount(owner, weights=(isi - mean[owner]) ** 2, minlength=total) / count)
        cv = np.where(count >= 2, std / mean, np.nan)
    spikes = np.bincount(neurons, minlength=total)
    out, first = {}, 0
    for name, size in sizes.items():
        part = cv[first:first + size]
        out[name] = {"rate_hz": float(spikes[first:first + size].sum() / size / (duration_ms * 1e-3)),
                     "cv_isi": float(np.nanmean(part)) if np.isfinite(part).any() else None}
        first += size
    return out


def cuba_sizes(neurons: int) -> dict:
    excitatory = round(0.8 * neurons)
    return {"E": excitatory, "I": neurons - excitatory}


def brunel_sizes(order: int) -> dict:
    return {"E": 4 * order, "I": order}


def brian2_cuba(neurons, duration_ms, seed, build_dir):
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    ms, mV = b2.ms, b2.mV
    c = CUBA
    sizes = cuba_sizes(neurons)
    namespace = {"taum": c["tau_m"] * ms, "taue": c["tau_e"] * ms, "taui": c["tau_i"] * ms, "Vt": c["v_t"] * mV,
                 "Vr": c["v_r"] * mV, "El": c["e_l"] * mV}
    eqs = """
dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
    P = b2.NeuronGroup(neurons, eqs, threshold="v>Vt", reset="v = Vr", refractory=c["t_ref"] * ms, method="linear",
                       namespace=namespace)
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = 0 * mV
    P.gi = 0 * mV
    p = c["p"] * c["neurons"] / neurons
    Ce = b2.Synapses(P, P, on_pre=f"ge += {c['w_e']}*mV")
    Ci = b2.Synapses(P, P, on_pre=f"gi += {c['w_i']}*mV")
    Ce.connect(f"i<{sizes['E']}", p=p)
    Ci.connect(f"i>={sizes['E']}", p=p)
    monitor = b2.SpikeMonitor(P)
    b2.run(duration_ms * ms)
    b2.device.build(directory=build_dir, compile=True, run=True, debug=False, clean=False)
    return {"loop_s": b2.device._last_run_time, "spikes": int(monitor.num_spikes),
            "populations": statistics(monitor.t / ms, monitor.i[:], sizes, duration_ms)}


def brian2_brunel(order, duration_ms, seed, build_dir):
    import brian2 as b2

    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    c = BRUNEL
    sizes = brunel_sizes(order)
    n = sum(sizes.values())
    c_e, c_i = int(c["epsilon"] * sizes["E"]), int(c["epsilon"] * sizes["I"])
    nu_th = c["theta"] / (c["j"] * c_e * c["tau_m"])  # 1/ms
    namespace = {"tau": c["tau_m"] * ms, "theta": c["theta"] * mV}
    dt = float(b2.defaultclock.dt / ms)
    # NEST's iaf_psc_delta order: input that arrives at a step joins v before the threshold
    # test, and the membrane is clamped for t_ref/dt steps after the spike's step. Brian2's
    # default schedule adds synaptic input after the test (one step later, decayed by one
    # step) and frees the membrane one step earlier; these settings give NEST's order.
    group = b2.NeuronGroup(n, "dv/dt = -v/tau : volt (unless refractory)", threshold="v >= theta", reset="v = 0*mV",
                           refractory=(c["t_ref"] + dt) * ms, method="exact", namespace=namespace)
    rng = np.random.default_rng(seed)
    synapses = []
    for name, first, size, indegree, weight in (("E", 0, sizes["E"], c_e, c["j"]),
                                                ("I", sizes["E"], sizes["I"], c_i, -c["g"] * c["j"])):
        s = b2.Synapses(group, group, on_pre=f"v += {weight}*mV*int(not_refractory)", delay=(c["delay"] - dt) * ms)
        s.pre.when = "before_thresholds"  # it pushes the previous step's spikes: hence delay - dt
        sources = first + rng.integers(0, size, size=(n, indegree))  # with replacement, as NEST's default
        s.connect(i=sources.ravel(), j=np.repeat(np.arange(n), indegree))
        synapses.append(s)
    external = b2.PoissonInput(group, "v", c_e, c["eta"] * nu_th * 1000.0 * Hz,
                               weight=f"{c['j']}*mV*int(not_refractory)", when="before_thresholds")
    monitor = b2.SpikeMonitor(group)
    # an explicit Network: the magic one collects named objects only, not those in a list
    b2.Network(group, *synapses, external, monitor).run(duration_ms * ms)
    b2.device.build(directory=build_dir, compile=True, run=True, debug=False, clean=False)
    return {"loop_s": b2.device._last_run_time, "spikes": int(monitor.num_spikes),
            "populations": statistics(monitor.t / ms, monitor.i[:], sizes, duration_ms)}


def _nest(seed):
    import nest

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1, "rng_seed": seed + 1})
    return nest


def _nest_result(nest, recorder, sizes, duration_ms, build_s, loop_s):
    events = recorder.get("events")
    first_id = 1
    return {"loop_s": loop_s, "build_s": build_s, "spikes": int(recorder.n_events),
            "populations": statistics(events["times"], np.asarray(events["senders"]) - first_id, sizes, duration_ms)}


def nest_cuba(neurons, duration_ms, seed, build_dir):
    start = time.perf_counter()
    nest = _nest(seed)
    c = CUBA
    sizes = cuba_sizes(neurons)
    params = {"C_m": c["tau_m"], "tau_m": c["tau_m"], "E_L": c["e_l"], "V_reset": c["v_r"], "V_th": c["v_t"],
              "t_ref": c["t_ref"], "tau_syn_ex": c["tau_e"], "tau_syn_in": c["tau_i"], "I_e": 0.0}
    cells = nest.Create("iaf_psc_exp", neurons, params=params)
    cells.V_m = nest.random.uniform(c["v_r"], c["v_t"])
    p = c["p"] * c["neurons"] / neurons
    rule = {"rule": "pairwise_bernoulli", "p": p}
    nest.Connect(cells[:sizes["E"]], cells, rule, {"weight": c["w_e"], "delay": 0.1})
    nest.Connect(cells[sizes["E"]:], cells, rule, {"weight": c["w_i"], "delay": 0.1})
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    built = time.perf_counter()
    nest.Simulate(duration_ms)
    return _nest_result(nest, recorder, sizes, duration_ms, built - start, time.perf_counter() - built)


def nest_brunel(order, duration_ms, seed, build_dir):
    start = time.perf_counter()
    nest = _nest(seed)
    c = BRUNEL
    sizes = brunel_sizes(order)
    c_e, c_i = int(c["epsilon"] * sizes["E"]), int(c["epsilon"] * sizes["I"])
    nu_th = c["theta"] / (c["j"] * c_e * c["tau_m"])
    params = {"C_m": 1.0, "tau_m": c["tau_m"], "t_ref": c["t_ref"], "E_L": 0.0, "V_reset": 0.0, "V_m": 0.0,
              "V_th": c["theta"]}
    cells = nest.Create("iaf_psc_delta", sum(sizes.values()), params=params)
    noise = nest.Create("poisson_generator", params={"rate": 1000.0 * c["eta"] * nu_th * c_e})
    excitatory = {"synapse_model": "static_synapse", "weight": c["j"], "delay": c["delay"]}
    inhibitory = {"synapse_model": "static_synapse", "weight": -c["g"] * c["j"], "delay": c["delay"]}
    nest.Connect(noise, cells, syn_spec=excitatory)
    nest.Connect(cells[:sizes["E"]], cells, {"rule": "fixed_indegree", "indegree": c_e}, excitatory)
    nest.Connect(cells[sizes["E"]:], cells, {"rule": "fixed_indegree", "indegree": c_i}, inhibitory)
    recorder = nest.Create("spike_recorder")
    nest.Connect(cells, recorder)
    built = time.perf_counter()
    nest.Simulate(duration_ms)
    return _nest_result(nest, recorder, sizes, duration_ms, built - start, time.perf_counter() - built)


RUNS = {("brian2-standalone", "cuba"): brian2_cuba, ("brian2-standalone", "brunel"): brian2_brunel,
        ("nest", "cuba"): nest_cuba, ("nest", "brunel"): nest_brunel}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("simulator", choices=["brian2-standalone", "nest"])
    parser.add_argument("network", choices=["cuba", "brunel"])
    parser.add_argument("--scale", type=int, default=None,
                        help="CUBA: neurons (default 4000); Brunel: order (default 2500)")
    parser.add_argument("--duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--build-dir", default=os.path.join(os.getcwd(), "brian2-network"))
    args = parser.parse_args()
    scale = args.scale or (CUBA["neurons"] if args.network == "cuba" else 2500)
    row = RUNS[args.simulator, args.network](scale, args.duration, args.seed, args.build_dir)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
