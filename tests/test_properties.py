"""Property-based tests (hypothesis).

1. Any valid run (model, step, duration, stimuli, populations and projections, both methods,
   both precisions) gives finite traces and a finite final state, spikes that respect the
   refractory period, and the same spikes on every engine.
2. Any invalid parameter, shape or experiment file is refused with `ParameterError`, whose
   message names the parameter; any value lifsim accepts runs to a finite state.
3. The command line never prints a traceback: exit status 0 or 2, and for 2 one line
   ``lifsim: error: ...`` on stderr and nothing written.

Every test runs under one reproducible profile (derandomized, no example database), with
small runs so that the file takes about a minute on two cores.
"""

import itertools
import json
import math
import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import lifsim
from helpers import assert_same
from lifsim import ParameterError, engines
from lifsim.cli import EXIT_BAD_INPUT, main
from lifsim.io import experiment_file
from lifsim.simulation.plan import available_cores

PROFILE = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                   suppress_health_check=list(HealthCheck))
#: Tests whose examples run simulations (seconds each on a failure) do not shrink a failure
#: unless LIFSIM_SHRINK=1: the file stays fast while lifsim fails them.
SLOW = settings(PROFILE, phases=[Phase.explicit, Phase.reuse, Phase.generate]
                + ([Phase.shrink] if os.environ.get("LIFSIM_SHRINK") else []))
INF, NAN = math.inf, math.nan


def available(name):
    try:
        engines.load_engine(name)
        return True
    except ParameterError:
        return False


needs_numba = pytest.mark.skipif(not available("numba"), reason="numba not installed")
needs_tensorflow = pytest.mark.skipif(not available("tensorflow"), reason="tensorflow not installed")


# ============================================================== 1. valid runs


def finite_floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def scalar_or_per_neuron(n, elements):
    return st.one_of(elements, st.lists(elements, min_size=n, max_size=n))


@st.composite
def lif_params(draw, n, dt, method, heterogeneous, offset=0.0):
    """A valid `LIFParams` for ``n`` neurons: every field one value per neuron (heterogeneous,
    the values of tau_m and tau_syn distinct) or every field a scalar; ``offset`` is added to
    every value (populations of a network then differ in every field)."""

    def values(low, high):
        if not heterogeneous:
            return draw(finite_floats(low, high)) + offset
        drawn = draw(st.lists(finite_floats(low, high), min_size=n, max_size=n))
        return [v + offset for v in drawn]

    def distinct(low, high):
        drawn = values(low, high)
        return [v + 1e-3 * i for i, v in enumerate(drawn)] if heterogeneous else drawn

    tau_m_low = max(dt if method == "article" else 0.5, 0.5)
    fields = dict(tau_m=distinct(tau_m_low, 50.0), R=values(0.1, 10.0), u_rest=values(-10.0, 10.0),
                  tau_rest=values(0.0, 10.0), tau_syn=distinct(0.5, 50.0))
    if draw(st.booleans()):  # grid-aligned refractory periods, halves included
        steps = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5, 4.0]))
        fields["tau_rest"] = [steps * dt] * n if heterogeneous else steps * dt
    if draw(st.booleans()):
        fields["u_reset"] = values(-10.0, 10.0)
    reset = np.asarray(fields.get("u_reset", fields["u_rest"]), dtype=float)
    thresh = reset + np.asarray(values(0.05, 20.0), dtype=float) - offset
    fields["u_thresh"] = thresh.tolist() if heterogeneous else float(thresh)
    return lifsim.LIFParams(**fields)


@st.composite
def windows(draw, duration):
    start = draw(st.one_of(st.just(-INF), finite_floats(-5.0, duration)))
    stop = draw(st.one_of(st.just(INF), finite_floats(max(start, -5.0), duration + 5.0)))
    return start, stop


@st.composite
def stimulus(draw, n, dt, duration, population=None, receptor=None, kinds=None):
    """One valid stimulus reaching ``n`` neurons (of ``population``, through ``receptor``)."""
    kind = draw(st.sampled_from(kinds or ["constant", "square", "noise", "poisson", "spikes", "poisson_input"]))
    amplitude = scalar_or_per_neuron(n, finite_floats(-5.0, 5.0))
    if kind == "constant":
        start, stop = draw(windows(duration))
        return lifsim.ConstantCurrent(draw(amplitude), start, stop, population=population)
    if kind == "square":
        pulses = draw(st.lists(st.tuples(windows(duration), amplitude), max_size=3))
        return lifsim.SquarePulses(tuple((a, b, amp) for (a, b), amp in pulses), population=population)
    if kind == "noise":
        start, stop = draw(windows(duration))
        return lifsim.NoiseCurrent(draw(finite_floats(-3.0, 5.0)), draw(finite_floats(0.0, 5.0)), start, stop,
                                   population=population)
    if kind == "poisson":
        m = draw(st.integers(0, 30))
        # rate·dt·1e-3 < 1; lower rates are valid too, but event generation costs time and
        # memory in proportion to 1/rate (test_low_poisson_rates_run below)
        probability = draw(st.one_of(st.just(0.0), finite_floats(0.02, 0.95)))
        start, stop = draw(windows(duration))
        weights = draw(st.one_of(st.none(), st.lists(finite_floats(-2.0, 3.0), min_size=m, max_size=m),
                                 st.lists(st.lists(finite_floats(-2.0, 3.0), min_size=m, max_size=m),
                                          min_size=n, max_size=n)))
        return lifsim.PoissonSynapses(
            m, probability / (dt * 1e-3), start, stop, weight_mean=draw(finite_floats(-1.0, 2.0)),
            weight_sd=draw(finite_floats(0.0, 1.0)), weights=None if weights is None else np.asarray(weights),
            q=draw(finite_floats(-3.0, 3.0)), generation=draw(st.sampled_from(["per_step", "event"])),
            population=population, receptor=receptor)
    if kind == "spikes":
        k = draw(st.integers(0, 20))
        times = draw(st.lists(finite_floats(0.0, duration + 2.0), min_size=k, max_size=k))
        neuron = draw(st.one_of(st.integers(0, n - 1), st.lists(st.integers(0, n - 1), min_size=k, max_size=k)))
        weight = draw(st.one_of(finite_floats(-2.0, 3.0), st.lists(finite_floats(-2.0, 3.0), min_size=k,
                                                                    max_size=k)))
        return lifsim.SpikeTimes(tuple(times), neuron, weight, q=draw(finite_floats(-3.0, 3.0)),
                                 population=population, receptor=receptor)
    start, stop = draw(windows(duration))
    rate = draw(st.one_of(st.just(0.0), finite_floats(1e-3, 20000.0)))  # rate·dt·1e-3 >= 1e-18 or 0
    return lifsim.PoissonInput(rate, draw(finite_floats(-1.0, 1.0)), start, stop,
                               population=population, receptor=receptor)


def step_sizes(limit):
    return st.one_of(st.sampled_from([d for d in (0.1, 0.25, 0.5, 1.0) if d <= limit]),
                     finite_floats(0.05, min(2.0, limit)))


@st.composite
def record(draw, n):
    variables = draw(st.permutations(["u", "i_syn", "i_in"]).flatmap(
        lambda names: st.integers(1, 3).map(lambda k: tuple(names[:k]))))
    neurons = draw(st.one_of(st.just("all"), st.sets(st.integers(0, n - 1), min_size=1).map(sorted)))
    return lifsim.Record(variables, neurons, every=draw(st.integers(1, 4)))


CURRENT_KINDS, SPIKE_KINDS = ["constant", "square", "noise"], ["poisson", "spikes"]


def inputs(n, dt, duration, population=None, receptor=None):
    """0 to 2 currents, 1 or 2 spike inputs, and one Poisson input: every run drives the
    compiled kernels through the same types (each combination of types is compiled once)."""
    def some(kinds, low, high):
        return st.lists(stimulus(n, dt, duration, population, receptor, kinds), min_size=low, max_size=high)

    return st.tuples(some(CURRENT_KINDS, 0, 2), some(SPIKE_KINDS, 1, 2), some(["poisson_input"], 1, 1)).flatmap(
        lambda parts: st.permutations(parts[0] + parts[1] + parts[2])).map(tuple)


@st.composite
def single_population_runs(draw, max_neurons=20):
    """A valid `RunConfig` of one population of 1 to ``max_neurons`` neurons."""
    heterogeneous = draw(st.booleans())
    n = draw(st.integers(2 if heterogeneous else 1, max_neurons))
    method = draw(st.sampled_from(lifsim.METHODS))
    dt = draw(step_sizes(2.0))
    duration = draw(finite_floats(max(dt, 5.0), 50.0))
    return lifsim.RunConfig(
        model=draw(lif_params(n, dt, method, heterogeneous)), stimuli=draw(inputs(n, dt, duration)),
        n_neurons=n, duration_ms=duration, dt_ms=dt, method=method, engine="numpy",
        precision=draw(st.sampled_from(["float32", "float64"])), seed=draw(st.integers(0, 2**63 - 1)),
        record=draw(record(n)))


@st.composite
def network_runs(draw):
    """A valid network: 1 to 3 populations (at most 20 neurons), receptors of both kinds,
    projections with every rule, weights and delays constant, drawn or per synapse."""
    method = draw(st.sampled_from(lifsim.METHODS))
    dt = draw(step_sizes(1.0))
    duration = draw(finite_floats(max(dt, 5.0), 40.0))
    populations = []
    # every population has the receptors r0 (exponential, its tau_syn) and maybe r1 (either kind):
    # the compiled kernels then see the same types in every network
    second = draw(st.sampled_from([None, "exponential", "delta"]))
    receptors = (lifsim.Receptor("r0"),) + (() if second is None else (lifsim.Receptor(
        "r1", second, None if second == "delta" else draw(st.one_of(st.none(), finite_floats(0.5, 20.0)))),))
    for i in range(draw(st.integers(2, 3))):
        size = draw(st.integers(1, 7))
        u_init = draw(st.one_of(st.none(), finite_floats(-1.0, 1.0),
                                st.lists(finite_floats(-1.0, 1.0), min_size=size, max_size=size),
                                st.builds(lifsim.Normal, finite_floats(-1.0, 1.0), finite_floats(0.0, 1.0)),
                                st.builds(lifsim.Uniform, st.just(-1.0), finite_floats(-1.0, 1.0))))
        model = draw(lif_params(size, dt, method, draw(st.booleans()), offset=1e-3 * i))
        populations.append(lifsim.Population(f"P{i}", size, model, receptors, u_init))
    projections = []
    for _ in range(draw(st.integers(1, 4))):
        source, target = draw(st.sampled_from(populations)), draw(st.sampled_from(populations))
        same = source is target
        autapses, multapses = draw(st.booleans()), draw(st.booleans())
        rules = ["all_to_all", "fixed_probability", "fixed_indegree", "fixed_outdegree", "explicit"]
        if source.size == target.size and (autapses or not same):
            rules.append("one_to_one")
        rule = draw(st.sampled_from(rules))
        keys = {}
        if rule == "fixed_probability":
            keys["p"] = draw(finite_floats(0.0, 1.0))
        elif rule in ("fixed_indegree", "fixed_outdegree"):
            pool = (source.size if rule == "fixed_indegree" else target.size) - (same and not autapses)
            keys["k"] = draw(st.integers(0, pool))
        elif rule == "explicit":
            pairs = [(a, b) for a in range(source.size) for b in range(target.size) if autapses or not same or a != b]
            chosen = draw(st.lists(st.sampled_from(pairs), max_size=12, unique=not multapses)) if pairs else []
            keys["pre"], keys["post"] = [a for a, _ in chosen], [b for _, b in chosen]
        weights = [finite_floats(-3.0, 3.0), st.builds(lifsim.Normal, finite_floats(-1.0, 2.0), finite_floats(0.0, 1.0)),
                   st.builds(lifsim.Uniform, st.just(-1.0), finite_floats(-1.0, 3.0))]
        delays = [st.none(), finite_floats(dt, 5.0), st.builds(lifsim.Uniform, st.just(dt), finite_floats(dt, 5.0))]
        if rule == "explicit":
            count = len(keys["pre"])
            weights.append(st.lists(finite_floats(-3.0, 3.0), min_size=count, max_size=count))
            delays.append(st.lists(finite_floats(dt, 5.0), min_size=count, max_size=count))
        receptor = draw(st.sampled_from([None] + [r.name for r in target.receptors]))
        projections.append(lifsim.Projection(source.name, target.name, rule, receptor, weight=draw(st.one_of(weights)),
                                             delay_ms=draw(st.one_of(delays)), autapses=autapses,
                                             multapses=multapses, **keys))
    stimuli = []
    for kinds, low, high in ((CURRENT_KINDS, 0, 2), (SPIKE_KINDS, 1, 2), (["poisson_input"], 1, 1)):
        for _ in range(draw(st.integers(low, high))):
            population = draw(st.sampled_from(populations))
            receptor = draw(st.sampled_from([None] + [r.name for r in population.receptors]))
            stimuli.append(draw(stimulus(population.size, dt, duration, population.name, receptor, kinds)))
    total = sum(p.size for p in populations)
    return lifsim.RunConfig(
        stimuli=tuple(stimuli), duration_ms=duration, dt_ms=dt, method=method, engine="numpy",
        precision=draw(st.sampled_from(["float32", "float64"])), seed=draw(st.integers(0, 2**63 - 1)),
        record=draw(record(total)), populations=tuple(populations), projections=tuple(projections))


def run(config, **changes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lifsim.PoissonApproximationWarning)
        return lifsim.simulate(config.replace(**changes))


def assert_finite_and_refractory(result):
    """Recorded traces and the final state finite; each neuron's spikes apart by more than
    its refractory hold (docs/model.md, docs/methods.md)."""
    config = result.config
    for name, trace in result.traces.items():
        assert np.all(np.isfinite(trace)), f"recorded {name} is not finite"
    state = result.final_state
    assert np.all(np.isfinite(state.u)), "final u is not finite"
    assert np.all(np.isfinite(state.i_syn)), "final i_syn is not finite"
    assert state.pending is None or np.all(np.isfinite(state.pending)), "final pending input is not finite"
    assert np.all(state.ref >= 0)
    times, neurons = result.spike_times_ms, result.spike_neurons
    assert np.all(np.isfinite(times))
    assert np.all((neurons >= 0) & (neurons < config.n_neurons))
    offset = 0 if config.method == "article" else 1  # "exact" labels a spike with the end of its step
    steps = np.rint(times / config.dt_ms).astype(np.int64) - offset
    assert np.all((steps >= 0) & (steps < config.steps))
    assert np.all(np.diff(steps) >= 0), "spikes are not sorted by time"
    tau_rest = np.broadcast_to(np.asarray(config.layout.model.tau_rest, dtype=float), (config.n_neurons,))
    hold = np.broadcast_to(lifsim.refractory_steps(tau_rest, config.dt_ms), (config.n_neurons,))
    ratio = tau_rest / config.dt_ms
    assert np.all(np.abs(hold - ratio) <= 0.5 + 1e-6 * np.maximum(1.0, ratio)), (
        f"refractory hold {hold} steps is not round(tau_rest/dt) = round({ratio})")
    # "article": after a spike at step k the neuron rests for n_ref steps, then integrates at least
    # one step before its u can be tested again: next spike at k + n_ref + 2 at the earliest.
    # "exact": it rests n_ref steps and may cross again in step k + n_ref + 1.
    extra = 2 if config.method == "article" else 1
    for neuron in np.unique(neurons):
        gaps = np.diff(steps[neurons == neuron])
        assert np.all(gaps >= hold[neuron] + extra), (
            f"neuron {neuron} spiked {int(gaps.min())} steps after its previous spike; refractory hold "
            f"{int(hold[neuron])} steps, method {config.method}")


@needs_numba
@settings(SLOW, max_examples=60)
@given(config=single_population_runs(), threads=st.integers(1, available_cores()))
def test_valid_population_runs_are_finite_refractory_and_the_same_on_numpy_and_numba(config, threads):
    reference = run(config, engine="numpy")
    assert_finite_and_refractory(reference)
    other = run(config, engine="numba", threads=threads)
    assert_finite_and_refractory(other)
    assert_same(reference, other)


@needs_numba
@settings(SLOW, max_examples=30)
@given(config=network_runs(), threads=st.integers(1, available_cores()))
def test_valid_networks_are_finite_refractory_and_the_same_on_numpy_and_numba(config, threads):
    reference = run(config, engine="numpy")
    assert_finite_and_refractory(reference)
    other = run(config, engine="numba", threads=threads)
    assert_finite_and_refractory(other)
    assert_same(reference, other)


@settings(PROFILE, max_examples=8)
@given(rate_hz=st.sampled_from([1e-12, 1e-6, 1e-2]), synapses=st.integers(1, 3),
       generation=st.sampled_from(["event", "per_step"]))
def test_low_poisson_rates_run(rate_hz, synapses, generation):
    # valid rates (rate·dt·1e-3 >= 1e-18), so low that no spike arrives in 5 ms
    config = lifsim.RunConfig(stimuli=[lifsim.PoissonSynapses(synapses, rate_hz, generation=generation)],
                              duration_ms=5.0, engine="numpy", record=lifsim.Record(("u", "i_syn")))
    result = run(config)
    assert_finite_and_refractory(result)
    assert result.spike_times_ms.size == 0 and not np.any(result.traces["i_syn"])


@needs_tensorflow
@settings(SLOW, max_examples=5)
@given(config=single_population_runs(max_neurons=8))
def test_valid_population_runs_on_tensorflow_give_the_reference_spikes(config):
    reference = run(config, engine="numpy")
    other = run(config, engine="tensorflow")
    assert_finite_and_refractory(other)
    assert_same(reference, other, exact=False)


# ============================================================== 2. invalid input

NON_NUMBERS = ["abc", "", "1.0", 1j, complex(2.0, 0.0), b"1", {"a": 1}]
NON_FINITE = [NAN, INF, -INF]
BOOLS = [True, False]
NESTED = [[[1.0]], [[1.0, 2.0, 3.0]], [[1.0], [2.0], [3.0]]]


def refused_naming(names, call):
    """``call()`` raises ParameterError (nothing else) whose message names one of ``names``."""
    names = (names,) if isinstance(names, str) else names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lifsim.PoissonApproximationWarning)
        with pytest.raises(ParameterError) as refusal:
            call()
    message = str(refusal.value)
    assert any(name in message for name in names), f"{message!r} names none of {names}"
    assert "\n" not in message


def simulate_small(**settings_):
    """A run of 3 neurons, 5 ms, on the reference engine, with ``settings_``."""
    return lifsim.simulate(**{"n_neurons": 3, "duration_ms": 5.0, "engine": "numpy", **settings_})


POSITIVE_FIELDS = ("tau_m", "tau_syn", "R")
MODEL_DEFAULTS = {"u_rest": 0.0, "u_thresh": 1.0, "tau_rest": 4.0, "R": 1.0, "tau_m": 10.0, "tau_syn": 10.0,
                  "u_reset": -1.0}


def invalid_model_values(field):
    default = MODEL_DEFAULTS[field]
    bad = NON_FINITE + NON_NUMBERS + BOOLS + NESTED + [[default] * 2, [default] * 4, [default, "x", default]]
    if field != "u_reset":
        bad.append(None)
    if field in POSITIVE_FIELDS:
        bad += [0.0, -0.0, -1.0, -1e-300, -1e308]
    if field == "tau_rest":
        bad += [-1.0, -1e-300, -1e308]
    if field == "u_thresh":
        bad += [0.0, -1.0, -1e308]  # not above u_rest = 0
    if field in ("u_rest", "u_reset"):
        bad += [1.0, 2.0, 1e308]  # not below u_thresh = 1
    strategies = [st.sampled_from(bad)]
    if field in POSITIVE_FIELDS:
        strategies.append(st.floats(max_value=0.0, allow_nan=False))
    return st.one_of(strategies)


@settings(PROFILE, max_examples=150)
@given(data=st.data())
def test_invalid_model_values_are_refused_by_name(data):
    field = data.draw(st.sampled_from(sorted(MODEL_DEFAULTS)))
    value = data.draw(invalid_model_values(field))
    refused_naming(field, lambda: simulate_small(model=lifsim.LIFParams(**{field: value})))


RUN_FIELDS = {  # RunConfig field -> (the name its messages use, invalid values)
    "dt_ms": ("dt", NON_FINITE + NON_NUMBERS + BOOLS + NESTED + [0.0, -0.1, -1e308, [1.0], (0.5,), None]),
    "duration_ms": ("duration", NON_FINITE + NON_NUMBERS + BOOLS + NESTED + [0.0, 0.5, -1.0, -1e308, [5.0], None]),
    "n_neurons": ("neurons", NON_FINITE + NON_NUMBERS + BOOLS + [0, -1, 1.5, [3], "3", 2**63, -2**63]),
    "seed": ("seed", NON_FINITE + NON_NUMBERS + BOOLS + [-1, 1.5, 2**63, 2**64, [1], None]),
    "method": ("method", ["Article", "euler", "", None, 0, ["article"], ("exact",), True]),
    "engine": ("engine", ["NUMPY", "cuda", "", None, 0, ["numpy"], True]),
    "precision": ("precision", ["float16", "double", "", None, 32, np.float32, ["float32"], True]),
    "threads": ("threads", NON_FINITE + NON_NUMBERS + BOOLS + [0, -1, 1.5, 10**6, [1], "2"]),
}


@settings(PROFILE, max_examples=120)
@given(data=st.data())
def test_invalid_run_settings_are_refused_by_name(data):
    field = data.draw(st.sampled_from(sorted(RUN_FIELDS)))
    name, values = RUN_FIELDS[field]
    value = data.draw(st.sampled_from(values))
    refused_naming(name, lambda: simulate_small(**{field: value}))


WINDOW_BAD = [NAN, "abc", 1j, None, [1.0], b"1"]  # +-inf are valid window ends

STIMULUS_FIELDS = {  # class -> (valid base keywords, {field: invalid values}); base window (1, 4) ms
    lifsim.ConstantCurrent: (
        dict(amplitude=1.0, start_ms=1.0, stop_ms=4.0),
        dict(amplitude=NON_FINITE + NON_NUMBERS + BOOLS + NESTED + [None, [1.0, 2.0], [1.0] * 4, [1.0, "x", 1.0]],
             start_ms=WINDOW_BAD + [4.5, INF], stop_ms=WINDOW_BAD + [0.5, -INF], population=["nope", 5, ""])),
    lifsim.SquarePulses: (
        dict(pulses=((1.0, 4.0, 1.0),)),
        dict(pulses=[5, None, "abc", (1.0, 4.0, 1.0), ((1.0, 4.0),), ((1.0, 4.0, 1.0, 2.0),), ((1.0, NAN, 1.0),),
                     ((4.0, 1.0, 1.0),), (("a", 4.0, 1.0),), ((1.0, 4.0, "a"),), ((1.0, 4.0, 1j),),
                     ((1.0, 4.0, NAN),), ((1.0, 4.0, [1.0, 2.0]),), ((1.0, 4.0, [[1.0, 1.0, 1.0]]),),
                     ((1.0, 4.0, None),), ((None, 4.0, 1.0),), (((1.0,), 4.0, 1.0),)])),
    lifsim.NoiseCurrent: (
        dict(mean=1.0, sd=1.0, start_ms=1.0, stop_ms=4.0),
        dict(mean=NON_FINITE + NON_NUMBERS + BOOLS + [None, [1.0, 2.0], [[1.0]]],
             sd=NON_FINITE + NON_NUMBERS + BOOLS + [None, -1.0, -1e-300, [1.0, 2.0], [[1.0]]],
             start_ms=WINDOW_BAD + [4.5], stop_ms=WINDOW_BAD + [0.5], population=["nope"])),
    lifsim.PoissonSynapses: (
        dict(synapses=3, rate_hz=20.0, start_ms=1.0, stop_ms=4.0),
        dict(synapses=NON_FINITE + NON_NUMBERS + BOOLS + [None, -1, 1.5, [3], "3"],
             rate_hz=NON_FINITE + NON_NUMBERS + BOOLS + [None, -1.0, 1000.0, 1e308, [20.0]],
             weight_mean=NON_FINITE + NON_NUMBERS + BOOLS + [None, [1.0, 2.0]],
             weight_sd=NON_FINITE + NON_NUMBERS + BOOLS + [None, -0.5, [0.5]],
             weights=NON_FINITE + NON_NUMBERS + [5.0, [1.0] * 4, [1.0] * 2, [[1.0] * 3] * 2, [NAN] * 3, ["a"] * 3,
                                                 [[1.0, 1.0, "a"]] * 3, [[[1.0] * 3]] * 3],
             q=NON_FINITE + NON_NUMBERS + BOOLS + [None, [1.5, 1.5]],
             generation=["", "PER_STEP", "events", None, 1, ["event"]],
             start_ms=WINDOW_BAD + [4.5], stop_ms=WINDOW_BAD + [0.5],
             population=["nope"], receptor=["nope", 5, ""])),
    lifsim.SpikeTimes: (
        dict(times_ms=(1.0,), neuron=0, weight=1.0),
        dict(times_ms=NON_FINITE + NON_NUMBERS + [None, (-1.0,), (NAN,), (INF,), ("a",), [[1.0, 2.0]], -1e-300],
             neuron=NON_FINITE + NON_NUMBERS + BOOLS + [None, 3, -1, 1.5, [0, 1], [[0]], 2**70],
             weight=NON_FINITE + NON_NUMBERS + BOOLS + [None, [1.0, 2.0], [[1.0]]],
             q=NON_FINITE + NON_NUMBERS + BOOLS + [None, [1.5]],
             population=["nope"], receptor=["nope"])),
    lifsim.PoissonInput: (
        dict(rate_hz=1000.0, weight=0.1, start_ms=1.0, stop_ms=4.0),
        dict(rate_hz=NON_FINITE + NON_NUMBERS + BOOLS + [None, -1.0, 2e7, 1e308, [1000.0]],
             weight=NON_FINITE + NON_NUMBERS + BOOLS + [None, [0.1, 0.1], [[0.1]]],
             start_ms=WINDOW_BAD + [4.5], stop_ms=WINDOW_BAD + [0.5], population=["nope"], receptor=["nope"])),
}


@settings(PROFILE, max_examples=250)
@given(data=st.data())
def test_invalid_stimulus_values_are_refused_by_name(data):
    cls = data.draw(st.sampled_from(list(STIMULUS_FIELDS)), label="stimulus")
    base, invalid = STIMULUS_FIELDS[cls]
    field = data.draw(st.sampled_from(sorted(invalid)), label="field")
    value = data.draw(st.sampled_from(invalid[field]), label="value")
    refused_naming(field, lambda: simulate_small(stimuli=[cls(**{**base, field: value})]))


RECORD_FIELDS = {
    "variables": ["v", ("u", "u"), ("U",), 5, None, ("u", 5), [["u"]]],
    "neurons": [[3], [-1], [1.5], "some", [0, 0], 5, [NAN], ["a"], [[0]], [True]],
    "every": NON_FINITE + NON_NUMBERS + BOOLS + [None, 0, -1, 1.5, [2]],
    "input_spikes": ["yes", 1, None, NAN],
}


@settings(PROFILE, max_examples=60)
@given(data=st.data())
def test_invalid_recording_is_refused_by_name(data):
    field = data.draw(st.sampled_from(sorted(RECORD_FIELDS)))
    value = data.draw(st.sampled_from(RECORD_FIELDS[field]))
    refused_naming(field, lambda: simulate_small(record=lifsim.Record(**{field: value})))


NETWORK_FIELDS = {  # (what, field) -> invalid values; the network: E (4 neurons) -> I (2 neurons)
    ("population", "name"): ["", "1E", "E F", 5, None, "x" * 65, "E/F"],
    ("population", "size"): NON_FINITE + NON_NUMBERS + BOOLS + [None, 0, -1, 1.5, [4]],
    ("population", "u_init"): NON_FINITE + ["abc", 1j, [0.0] * 3, [[0.0] * 4]],
    ("population", "receptors"): [(), ("syn",), (None,), 5, None],
    ("population", "model"): [None, 5, {"tau_m": 10.0}],
    ("receptor", "name"): ["", "1r", None, 5],
    ("receptor", "kind"): ["", "exp", None, 5],
    ("receptor", "tau_ms"): NON_FINITE + NON_NUMBERS + BOOLS + [0.0, -1.0, [5.0]],
    ("projection", "source"): ["nope", None, 5],
    ("projection", "target"): ["nope", None, 5],
    ("projection", "rule"): ["", "random", None, 5],
    ("projection", "receptor"): ["nope", 5],
    ("projection", "p"): NON_FINITE + NON_NUMBERS + BOOLS + [None, -0.1, 1.5, [0.5]],
    ("projection", "k"): NON_FINITE + NON_NUMBERS + BOOLS + [None, -1, 5, 1.5, [2]],
    ("projection", "weight"): NON_FINITE + NON_NUMBERS + BOOLS + [None, 1e39, -1e39, [1.0, 2.0],
                                                                  lifsim.Uniform(0.0, 1e39)],
    ("projection", "delay_ms"): NON_FINITE + NON_NUMBERS + BOOLS + [0.0, 0.2, -1.0, 1e9, lifsim.Normal(1.0, 0.5),
                                                                    lifsim.Uniform(0.0, 1.0), [1.0, 2.0]],
    ("projection", "autapses"): ["yes", 1, None],
    ("projection", "multapses"): ["yes", 1, None],
}


def network_call(what, field, value):
    population = dict(name="E", size=4, model=lifsim.LIFParams(), receptors=(lifsim.Receptor("syn"),))
    receptor = dict(name="syn", kind="exponential", tau_ms=5.0)
    projection = dict(source="E", target="I", rule="fixed_indegree", k=2, weight=1.0, delay_ms=1.0)
    if field == "p":
        projection = dict(projection, rule="fixed_probability", k=None)
    {"population": population, "receptor": receptor, "projection": projection}[what][field] = value

    def call():
        if what == "receptor":
            population["receptors"] = (lifsim.Receptor(**receptor),)
        other = lifsim.Population("I", 2)
        return lifsim.simulate(populations=(lifsim.Population(**population), other),
                               projections=(lifsim.Projection(**projection),), duration_ms=5.0, engine="numpy")

    return call


@settings(PROFILE, max_examples=150)
@given(data=st.data())
def test_invalid_populations_receptors_and_projections_are_refused_by_name(data):
    what, field = data.draw(st.sampled_from(sorted(NETWORK_FIELDS)))
    value = data.draw(st.sampled_from(NETWORK_FIELDS[(what, field)]))
    refused_naming(field, network_call(what, field, value))


# Any value lifsim accepts must run to a finite state: huge, tiny and extreme values are
# either refused by name or simulated without overflow (in float32 as in float64).

HUGE = st.sampled_from([1e308, -1e308, 1.7e308, 3.5e38, -3.5e38, 1e39, 1e30, 1e-308, 5e-324, 1e-45])
MODEL_EXTREMES = {"u_rest": "u_rest", "u_reset": "u_reset", "u_thresh": "u_thresh", "tau_rest": "tau_rest",
                  "R": "R", "tau_m": "tau_m", "tau_syn": "tau_syn"}


@st.composite
def extreme_runs(draw):
    """(field, keywords of `simulate`): one model or stimulus value extreme, the rest ordinary."""
    value = draw(HUGE)
    where = draw(st.sampled_from(["model", "amplitude", "mean", "sd", "rate_hz", "q", "weight", "weight_mean",
                                  "times_ms", "pulse", "duration", "dt"]))
    model = {"u_thresh": 1.0}
    stimuli = [lifsim.ConstantCurrent(1.5)]
    run_keys = {}
    field = where
    if where == "model":
        field = draw(st.sampled_from(sorted(MODEL_EXTREMES)))
        model[field] = value
        if field in ("u_rest", "u_reset") and value > 0:
            model["u_thresh"] = value * 1.5 if value < 1e307 else 1.7976931348623157e308
        if field == "u_thresh" and value < 0:
            model["u_rest"] = value * 1.5 if value > -1e307 else -1.7976931348623157e308
        stimuli.append(lifsim.PoissonSynapses(5, 100.0))
    elif where == "amplitude":
        stimuli = [lifsim.ConstantCurrent(value)]
    elif where == "pulse":
        stimuli = [lifsim.SquarePulses(((0.0, 3.0, value), (1.0, 4.0, value)))]
    elif where in ("mean", "sd"):
        stimuli = [lifsim.NoiseCurrent(**{"mean": 1.0, "sd": 1.0, where: value})]
    elif where in ("q", "weight_mean"):
        stimuli = [lifsim.PoissonSynapses(5, 100.0, **{where: value})]
    elif where == "rate_hz":
        stimuli = [lifsim.PoissonInput(value, 0.5)]
    elif where == "weight":
        stimuli = [lifsim.PoissonInput(5000.0, value), lifsim.SpikeTimes((1.0, 2.0), 0, value)]
    elif where == "times_ms":
        stimuli = [lifsim.SpikeTimes((1.0, abs(value)), 0, 1.0)]
    elif where == "duration":
        run_keys["duration_ms"] = abs(value)
        run_keys["dt_ms"] = 1.0
    elif where == "dt":
        run_keys["dt_ms"] = abs(value)
        run_keys["duration_ms"] = max(5.0, abs(value))
        run_keys["method"] = "exact"
    keywords = dict(model=model, stimuli=stimuli, n_neurons=2, duration_ms=5.0, engine="numpy",
                    method=draw(st.sampled_from(lifsim.METHODS)),
                    precision=draw(st.sampled_from(["float32", "float64"])),
                    record=lifsim.Record(("u", "i_syn", "i_in")))
    keywords.update(run_keys)
    return {"dt": "dt", "duration": "duration"}.get(field, field), keywords


@settings(PROFILE, max_examples=120)
@given(case=extreme_runs())
def test_extreme_values_are_refused_by_name_or_run_finite(case):
    field, keywords = case
    keywords = dict(keywords)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lifsim.PoissonApproximationWarning)
            result = lifsim.simulate(**{**keywords, "model": lifsim.LIFParams(**keywords["model"])})
    except lifsim.NonFiniteError as error:  # accepted, then overflowed: stopped, saying where
        assert re.search(r"^the run turned non-finite: (u|i_syn|i_in|pending input) of neuron \d+ is "
                         r"(-?inf|nan) at step \d+ \(t = ", str(error)), str(error)
        return
    except ParameterError as error:
        assert field in str(error) or "memory" in str(error), f"{error} does not name {field}"
        return
    assert_finite_and_refractory(result)


# -------------------------------------------------------------- experiment files


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_text(data: dict) -> str:
    """A TOML document: every table inline (TOML reads it as the same dict)."""
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


BASE_EXPERIMENT = {
    "name": "prop", "description": "property test", "duration_ms": 5.0, "dt_ms": 0.5, "method": "article",
    "engine": "numpy", "precision": "float32", "seed": 1, "neurons": 3,
    "model": {"u_rest": 0.0, "u_thresh": 1.0, "tau_rest": 2.0, "R": 1.0, "tau_m": 10.0, "tau_syn": 5.0},
    "stimulus": [{"kind": "constant", "amplitude": 1.5, "start_ms": 1.0, "stop_ms": 4.0},
                 {"kind": "noise", "mean": 1.0, "sd": 0.5},
                 {"kind": "poisson", "synapses": 3, "rate_hz": 20.0, "q": 1.5, "generation": "event"},
                 {"kind": "spikes", "times_ms": [1.0, 2.0], "neuron": [0, 1], "weight": 1.0},
                 {"kind": "poisson_input", "rate_hz": 1000.0, "weight": 0.1},
                 {"kind": "square", "pulses": [[1.0, 2.0, 0.5]]}],
    "record": {"variables": ["u", "i_in"], "neurons": "all", "every": 1, "input_spikes": False},
    "plot": {"title": "t", "panels": ["u"]},
}
BASE_NETWORK = {
    "name": "net", "duration_ms": 5.0, "dt_ms": 0.5, "engine": "numpy", "seed": 1,
    "population": [{"name": "E", "size": 4, "receptors": [{"name": "syn", "kind": "exponential", "tau_ms": 5.0}],
                    "u_init": 0.0, "model": {"tau_m": 10.0}},
                   {"name": "I", "size": 2}],
    "projection": [{"source": "E", "target": "I", "rule": "fixed_indegree", "k": 2, "weight": 1.0,
                    "delay_ms": 1.0}],
    "record": {"variables": ["u"], "neurons": {"E": [0], "I": "all"}},
}

TOML_JUNK = {  # kinds of TOML value, to put where another kind belongs
    "string": ["abc", "", "1.0"], "integer": [-1, 0, 7, 2**63 - 1, -2**63], "float": [NAN, INF, -INF, -1.5, 0.0, 1e308],
    "bool": [True, False], "list": [[], [1, 2], ["a"], [[1.0]], [{"a": 1}]], "table": [{}, {"foo": 1}, {"uniform": "x"}],
}
ALL_JUNK = [v for values in TOML_JUNK.values() for v in values]
#: For each key, values of its own TOML kind that are still invalid (out of range, unknown names).
OUT_OF_RANGE = {
    "duration_ms": [0.0, -1.0, 0.25, NAN, INF, 1e308], "dt_ms": [0.0, -0.5, NAN, INF, -INF, 11.0],
    "method": ["euler", ""], "methods": [[], ["euler"], ["article", "x"]], "engine": ["cuda", ""],
    "precision": ["float16"], "seed": [-1], "neurons": [0, -3, 2], "threads": [0, -1, 1000], "order": [1],
    "tau_m": [0.0, -1.0, NAN, INF, [10.0, 10.0], [[10.0] * 3], {"uniform": [-2.0, -1.0]}, {"normal": [1.0]},
              {"start": 1.0, "stop": 0.0, "step": 1.0}, {"foo": 1}],
    "tau_syn": [0.0, -1.0, NAN, [1.0] * 4], "R": [0.0, -1.0, INF], "tau_rest": [-1.0, NAN, -INF],
    "u_thresh": [0.0, -1.0, NAN], "u_rest": [1.0, 5.0, NAN, INF],
    "kind": ["nope", "", "Constant"], "amplitude": [NAN, [1.0, 2.0], {"uniform": [1.0, 0.0]}],
    "start_ms": [NAN], "stop_ms": [NAN], "mean": [NAN, INF], "sd": [-1.0, NAN],
    "synapses": [-1], "rate_hz": [-1.0, NAN, 1e308, 1e8], "q": [NAN, INF], "generation": ["", "x"],
    "times_ms": [[-1.0], [NAN]], "neuron": [3, -1, [0, 1, 2]], "weight": [NAN, INF, [1.0, 2.0, 3.0]],
    "weight_mean": [NAN], "weight_sd": [-1.0], "weights": [[1.0] * 4, [[1.0] * 3] * 2, [NAN] * 3],
    "pulses": [[[1.0, 2.0]], [[2.0, 1.0, 0.5]], [[1.0, NAN, 0.5]], [[1.0, 2.0, [1.0, 2.0]]]],
    "variables": [["v"], ["u", "u"]], "every": [0, -1], "panels": [["nope"]], "population": ["nope"],
    "receptor": ["nope"],
    "size": [0, -1, {"order": 1.0}, {"order": -1.0}], "rule": ["nope"], "k": [5, -1], "p": [1.5],
    "delay_ms": [0.0, NAN, -1.0, {"normal": [1.0, 1.0]}], "source": ["nope"], "target": ["nope"],
    "name": ["", "1E", "E F"], "u_init": [NAN, [0.0, 0.0]], "receptors": [[], [{"kind": "nope"}],
                                                                         [{"tau_ms": -1.0}]],
}
#: The TOML kinds each key accepts (values of any other kind are invalid).
KINDS = {
    "name": {"string"}, "description": {"string"}, "duration_ms": {"integer", "float"},
    "dt_ms": {"integer", "float"}, "method": {"string"}, "methods": {"list"}, "engine": {"string"},
    "precision": {"string"}, "seed": {"integer"}, "neurons": {"integer"}, "threads": {"integer"},
    "order": {"integer"}, "model": {"table"}, "stimulus": {"list"}, "record": {"table"}, "plot": {"table"},
    "population": {"list"}, "projection": {"list"},
}


def key_paths(data, prefix=()):
    """Every (path, key) in the document: tables and lists of tables are walked into."""
    for key, value in data.items():
        yield prefix + (key,)
        if isinstance(value, dict) and key not in ("neurons",):
            yield from key_paths(value, prefix + (key,))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                yield from key_paths(item, prefix + (key, i))


def set_path(data, path, value):
    data = json.loads(json.dumps(data))  # a deep copy (no NaN in the bases)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


def kind_of(value) -> str:
    return next(kind for kind, check in (("bool", lambda v: isinstance(v, bool)), ("integer", lambda v: isinstance(v, int)),
                                         ("float", lambda v: isinstance(v, float)), ("string", lambda v: isinstance(v, str)),
                                         ("list", lambda v: isinstance(v, list)), ("table", lambda v: isinstance(v, dict)))
                if check(value))


#: Keys added to a document to put an out-of-range value in (they are absent from the bases).
ADDED_KEYS = [("order",), ("threads",), ("methods",)]


@st.composite
def bad_experiment_files(draw):
    """(text of an invalid experiment file, the names its refusal may use)."""
    base = draw(st.sampled_from([BASE_EXPERIMENT, BASE_NETWORK]))
    how = draw(st.sampled_from(["wrong kind", "out of range", "unknown key"]))
    paths = [p for p in key_paths(base) if not isinstance(p[-1], int)]
    if how == "unknown key":
        tables = [()] + [p for p in paths if isinstance(_get(base, p), dict)]
        where = draw(st.sampled_from(tables))
        key = draw(st.sampled_from(["tau", "foo", "Tau_m", "dt", "neuron_count", "kind2", "x y"]))
        return toml_text(set_path(base, where + (key,), draw(st.sampled_from(ALL_JUNK)))), (key,)
    if how == "out of range":
        candidates = [p for p in paths if p[-1] in OUT_OF_RANGE and p != ("name",)]
        if base is BASE_EXPERIMENT:
            candidates += ADDED_KEYS
        path = draw(st.sampled_from(candidates))
        value = draw(st.sampled_from(OUT_OF_RANGE[path[-1]]))
        data = set_path(base, path, value)
        if path == ("neurons",) and value == 2:
            data["model"]["tau_m"] = [10.0, 10.0, 10.0]  # three per-neuron values for two neurons
        if path == ("methods",):
            data.pop("method")
        return toml_text(data), _names(path)
    path = draw(st.sampled_from(paths))
    junk = [v for v in ALL_JUNK if not maybe_valid(base, path, v)]
    value = draw(st.sampled_from(junk or [[[{"x": 1}]]]))
    return toml_text(set_path(base, path, value)), _names(path)


def maybe_valid(base, path, value) -> bool:
    """Whether ``value`` might be valid at ``path`` (then it is not used as a wrong kind)."""
    key, kind = path[-1], kind_of(value)
    if len(path) == 1 and key in KINDS:
        return kind in KINDS[key] or (key in ("description", "name") and kind == "string")
    current = kind_of(_get(base, path))
    if kind == current or (current == "float" and kind == "integer"):
        return True
    if key in ("neurons", "pulses", "variables", "panels", "receptors", "times_ms") and kind == "list":
        return True
    if key == "neurons" and kind == "table":
        return True
    if key in ("neuron",) and kind in ("integer", "list"):
        return True
    if key in MODEL_DEFAULTS or key in ("amplitude", "weight", "u_init", "delay_ms", "weights"):
        return kind == "list" and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) or (
            key == "u_init" and value == {})
    return False


def _get(data, path):
    for part in path:
        data = data[part]
    return data


def _names(path):
    """The names a refusal of the key at ``path`` may use: the key, or its stem (dt for dt_ms)."""
    key = path[-1]
    names = {key, key.removesuffix("_ms")}
    if key in ("u_rest", "u_thresh", "u_reset"):
        names.update({"u_rest", "u_thresh", "u_reset"})
    return tuple(sorted(names))


@settings(PROFILE, max_examples=200)
@given(case=bad_experiment_files())
def test_invalid_experiment_files_are_refused_by_name(case, tmp_path):
    text, names = case
    path = tmp_path / "bad.toml"
    path.write_text(text)
    refused_naming(names, lambda: experiment_file.load(str(path)))


@settings(PROFILE, max_examples=60)
@given(content=st.one_of(st.text(max_size=200), st.binary(max_size=200),
                         st.sampled_from(["[model", "x = ", "model = 5", "stimulus = 5", "stimulus = [1]",
                                          "[[stimulus]]\nkind = 5", "a = 1\na = 2", "\x00", "record = []",
                                          "plot = 'x'", "[[population]]\nname = 'E'", "name = 'a'\n[name]"])))
def test_any_file_content_is_loaded_or_refused_by_name(content, tmp_path):
    path = tmp_path / "any.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    try:
        experiment_file.load(str(path))
    except ParameterError as error:
        assert str(path) in str(error), f"{error} does not name the file"
        assert "\n" not in str(error)


# ============================================================== 3. the command line

OPTION_VALUES = {
    "--seed": ["1", "0", "-1", "abc", "1.5", "", "nan", "9223372036854775808", "1e3"],
    "--engine": ["numpy", "numba", "foo", "", "NUMPY"],
    "--threads": ["1", "2", "0", "-1", "999", "x"],
    "--method": ["article", "exact", "euler", ""],
    "--dt": ["0.5", "1", "0", "-1", "nan", "inf", "-inf", "1e308", "11", "1e-300", "abc", "0x1p-3"],
    "--duration": ["5", "20", "0", "-1", "nan", "inf", "1e308", "abc", "0.1"],
    "--precision": ["float32", "float64", "float16", "double"],
    "--neurons": ["1", "3", "0", "-2", "1.5", "abc", "1000000000000", "99999999999999999999"],
    "--order": ["1", "0", "-1", "x"],
    "--currents": ["0:4:1", "a:b:c", "1:0:1", "0:1:0", "0:1e308:1e-300", "nan:1:1", "0:1e300:1e-10", "1:2",
                   "0:inf:1", "-inf:0:1"],
    "--device": ["cpu", "gpu", "tpu"],
}
FLAGS = ["--no-xla", "--quiet"]
EXPERIMENTS = ["square", "noise", "synaptic", "fi", "all", "nope", "", "square.toml", "-", "cuba --duration"]
#: Options whose presence keeps a run short (built-in experiments can be long at their defaults).
SHORT = ["--duration", "5"]
_outs = itertools.count()


@st.composite
def command_lines(draw, tmp_path):
    """(argv, out folder, files that must not appear on a refusal)."""
    out = tmp_path / f"out{next(_outs)}"
    source = draw(st.sampled_from(["builtin", "bad file", "good file", "folder"]))
    if source == "builtin":
        experiment = draw(st.sampled_from(EXPERIMENTS))
    elif source == "folder":
        experiment = str(tmp_path)
    else:
        path = tmp_path / f"exp{next(_outs)}.toml"
        if source == "bad file":
            text, _ = draw(bad_experiment_files())
        else:
            text = toml_text(draw(st.sampled_from([BASE_EXPERIMENT, BASE_NETWORK])))
        path.write_text(text)
        experiment = str(path)
    argv = ["run", experiment, "--out", str(out)]
    for option in draw(st.lists(st.sampled_from(sorted(OPTION_VALUES)), unique=True, max_size=4)):
        argv += [option, draw(st.sampled_from(OPTION_VALUES[option]))]
    argv += draw(st.lists(st.sampled_from(FLAGS), unique=True, max_size=2))
    save = None
    if draw(st.booleans()):
        save = draw(st.sampled_from([tmp_path / f"run{next(_outs)}.nix", tmp_path / "run.txt",
                                     tmp_path / "missing" / "run.nix"]))
        argv += ["--save", str(save)]
    if "--duration" not in argv and experiment not in ("nope", ""):
        argv += SHORT  # the same refusals, and any run that is accepted stays short
    return argv, out, save


def run_cli(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse leaves by SystemExit with the status
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@settings(SLOW, max_examples=60)
@given(data=st.data())
def test_the_command_line_never_prints_a_traceback(data, tmp_path, capsys):
    argv, out, save = data.draw(command_lines(tmp_path), label="argv")
    status, stdout, stderr = run_cli(argv, capsys)
    assert "Traceback" not in stdout + stderr
    assert status in (0, EXIT_BAD_INPUT), f"exit status {status}: {stderr}"
    if status == EXIT_BAD_INPUT:
        lines = stderr.splitlines()
        assert len(lines) == 1, f"{len(lines)} lines on stderr: {stderr!r}"
        # the prefix of usage errors is checked on its own below, so that other failures show here
        assert re.match(r"lifsim( run)?: error: ", lines[0]), lines[0]
        assert not out.exists(), "a refused run created its --out folder"
        assert save is None or not save.exists(), "a refused run wrote its --save file"


def assert_clean_exit(status, stdout, stderr, out, save=None):
    assert "Traceback" not in stdout + stderr
    assert status in (0, EXIT_BAD_INPUT), f"exit status {status}: {stderr}"
    if status == EXIT_BAD_INPUT:
        lines = stderr.splitlines()
        assert len(lines) == 1, f"{len(lines)} lines on stderr: {stderr!r}"
        assert lines[0].startswith("lifsim: error:"), lines[0]
        assert not out.exists(), "a refused run created its --out folder"
        assert save is None or not save.exists(), "a refused run wrote its --save file"


#: Extreme option values, each tried on its own (the generated command lines above draw them
#: only now and then).
EXTREME_OPTIONS = [("--currents", "0:1e308:1e-300"), ("--currents", "0:1e300:1e-10"), ("--duration", "1e308"),
                   ("--duration", "inf"), ("--dt", "1e-300"), ("--dt", "1e308"), ("--neurons", "1000000000000"),
                   ("--neurons", "99999999999999999999"), ("--seed", "9223372036854775808"),
                   ("--threads", "999"), ("--order", "1"), ("--device", "gpu")]


@pytest.mark.parametrize("option, value", EXTREME_OPTIONS)
def test_the_command_line_refuses_extreme_options_in_one_line(option, value, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "square", "--out", str(out), option, value] + ([] if option == "--duration" else SHORT)
    assert_clean_exit(*run_cli(argv, capsys), out)


@settings(PROFILE, max_examples=30)
@given(option=st.sampled_from(sorted(OPTION_VALUES)), data=st.data())
def test_usage_errors_are_one_line_starting_with_lifsim_error(option, data, tmp_path, capsys):
    value = data.draw(st.sampled_from([v for v in OPTION_VALUES[option]
                                       if not re.fullmatch(r"-?[0-9.e]+|inf|-inf|nan", v)] or ["x"]))
    out = tmp_path / f"out{next(_outs)}"
    status, stdout, stderr = run_cli(["run", "square", "--out", str(out), option, value, "--duration", "5"], capsys)
    assert "Traceback" not in stdout + stderr
    assert status in (0, EXIT_BAD_INPUT), f"exit status {status}: {stderr}"
    if status == EXIT_BAD_INPUT:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("lifsim: error:"), stderr
        assert not out.exists()


@settings(PROFILE, max_examples=40)
@given(text=st.one_of(st.text(max_size=80), st.binary(max_size=80)), data=st.data())
def test_the_command_line_refuses_any_bad_file_in_one_line(text, data, tmp_path, capsys):
    path = tmp_path / f"any{next(_outs)}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    command = data.draw(st.sampled_from(["run", "show"]))
    out = tmp_path / f"out{next(_outs)}"
    argv = ["run", str(path), "--out", str(out), "--duration", "5"] if command == "run" else ["show", str(path)]
    status, stdout, stderr = run_cli(argv, capsys)
    assert "Traceback" not in stdout + stderr
    assert status in (0, EXIT_BAD_INPUT), f"exit status {status}: {stderr}"
    if status == EXIT_BAD_INPUT:
        lines = stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("lifsim: error:"), stderr
        assert not out.exists()
