"""Cross-engine: every engine gives the reference engine's spikes and traces for the same input."""

import json
import subprocess
import sys

import numpy as np
import pytest

import lifsim
from helpers import assert_same
from lifsim import engines
from lifsim.io import experiment_file as experiment

FAST_ENGINES = [name for name in engines.engine_names() if name != "numpy"]


def available(name):
    try:
        engines.load_engine(name)
        return True
    except lifsim.ParameterError:
        return False


ENGINES = [pytest.param(name, marks=pytest.mark.skipif(not available(name), reason=f"{name} not installed"))
           for name in FAST_ENGINES]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("method", ["article", "exact"])
@pytest.mark.parametrize("name", ["square", "noise", "synaptic"])
def test_article_experiments_on_every_engine(engine, method, name):
    config = experiment.load(name, method=method).config
    for seed in range(config.seed, config.seed + 20):  # a seed whose run spikes, for a stronger check
        reference = lifsim.simulate(config.replace(engine="numpy", seed=seed))
        if reference.spike_times_ms.size > 0:
            break
    config = config.replace(seed=seed)
    assert reference.spike_times_ms.size > 0
    assert_same(reference, lifsim.simulate(config.replace(engine=engine)), exact=engine == "numba")


def population(method, precision, **changes):
    n = 5000  # more than two of the numba engine's blocks, the last one partial
    rng = np.random.default_rng(1)
    settings = dict(
        model=lifsim.LIFParams(tau_m=rng.uniform(8.0, 12.0, n), u_thresh=1.0, tau_rest=2.0),
        stimuli=(lifsim.NoiseCurrent(0.6, 0.8, 5.0, 150.0),
                 lifsim.PoissonSynapses(10, 40.0, 20.0, 200.0, generation="event"),
                 lifsim.SquarePulses(((50.0, 120.0, rng.uniform(0.0, 1.0, n)),))),
        n_neurons=n, duration_ms=200.0, dt_ms=0.5, method=method, precision=precision,
        record=lifsim.Record(("u", "i_syn", "i_in"), neurons=[0, 1, 2047, 2048, 4095, 4999], every=3))
    settings.update(changes)
    return lifsim.RunConfig(**settings)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("method, precision", [("article", "float32"), ("exact", "float32"), ("exact", "float64")])
def test_population_with_per_neuron_parameters(engine, method, precision):
    config = population(method, precision)
    reference = lifsim.simulate(config.replace(engine="numpy"))
    assert reference.spike_times_ms.size > 1000
    assert_same(reference, lifsim.simulate(config.replace(engine=engine)), exact=engine == "numba")


@pytest.mark.parametrize("engine", ENGINES)
def test_spike_buffers_grow_without_losing_spikes(engine):
    # No refractory period and a strong current: every neuron fires every other step.
    config = lifsim.RunConfig(model=lifsim.LIFParams(tau_rest=0.0), stimuli=[lifsim.ConstantCurrent(30.0)],
                              n_neurons=3000, duration_ms=100.0, record=lifsim.Record(neurons="none"))
    reference = lifsim.simulate(config.replace(engine="numpy"))
    assert reference.spike_times_ms.size == 3000 * 50
    assert_same(reference, lifsim.simulate(config.replace(engine=engine)))


@pytest.mark.parametrize("engine", ENGINES)
def test_thread_count_does_not_change_results(engine):
    config = population("exact", "float32", engine=engine)
    one, two = lifsim.simulate(config.replace(threads=1)), lifsim.simulate(config.replace(threads=2))
    assert_same(one, two)


def test_numba_kernels_are_cached_on_disk(tmp_path):
    code = (
        "import json, lifsim\n"
        "from lifsim.engines import numba_engine as e\n"
        "lifsim.simulate(stimuli=[lifsim.ConstantCurrent(1.5)], n_neurons=10, duration_ms=5, engine='numba')\n"
        "print(json.dumps({'hits': sum(e._run_chunk.stats.cache_hits.values()),"
        " 'misses': sum(e._run_chunk.stats.cache_misses.values())}))\n")
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout) for _ in range(2)]
    assert runs[1] == {"hits": 1, "misses": 0}  # the second process loads, it does not compile


@pytest.mark.parametrize("engine", ENGINES)
def test_a_synaptic_current_left_in_the_initial_state_decays_on_every_engine(engine):
    state = lifsim.LIFState(np.zeros(3), np.zeros(3, np.int64), np.array([5.0, 0.5, 0.0]))  # cast to the run types
    config = lifsim.RunConfig(duration_ms=40.0, record=lifsim.Record(("i_syn", "u")), n_neurons=3)
    reference = lifsim.simulate(config.replace(engine="numpy"), initial_state=state)
    decay = np.float32(np.exp(-0.1))
    assert reference.traces["i_syn"][1, 0] == np.float32(np.float32(reference.traces["i_syn"][0, 0]) * decay)
    assert reference.spike_times_ms.size > 0  # 5 mA decaying from the start drives neuron 0 over threshold
    assert_same(reference, lifsim.simulate(config.replace(engine=engine), initial_state=state))
