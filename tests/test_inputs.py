"""Input generation: windows, synaptic currents, Poisson statistics, seeds."""

import numpy as np
import pytest
from scipy import stats

import lifsim
from lifsim.simulation.simulate import input_generator
from lifsim.stimuli import window_steps


def generator(stimuli, n=1, dt=1.0, seed=0, tau_syn=10.0, precision="float64", record=True):
    config = lifsim.RunConfig(model=lifsim.LIFParams(tau_syn=tau_syn), stimuli=stimuli, n_neurons=n, dt_ms=dt,
                              seed=seed, precision=precision, record=lifsim.Record(input_spikes=record))
    return input_generator(config)


def test_open_windows_do_not_depend_on_float_rounding():
    assert window_steps(10.0, 30.0, 1.0) == (11, 30)
    assert window_steps(10.0, 180.0, 0.1) == (101, 1800)  # 100·0.1 is 10.000000000000002
    assert window_steps(-np.inf, np.inf, 1.0)[0] == 0


def test_single_synaptic_spike_current_and_charge():
    w, q, tau, dt = 0.8, 1.5, 10.0, 1.0
    result = lifsim.simulate(stimuli=[lifsim.SpikeTimes([20.0], weight=w, q=q)], duration_ms=400, dt_ms=dt,
                             precision="float64", record=lifsim.Record(("i_syn",)))
    i_syn = result.traces["i_syn"][:, 0]
    assert np.all(i_syn[:20] == 0.0)
    assert i_syn[20] == w * q / tau  # exactly w·q/tau_syn in the spike's own step
    np.testing.assert_allclose(i_syn[21:60] / i_syn[20:59], np.exp(-dt / tau), rtol=1e-12)
    charge = i_syn.sum() * dt
    x = dt / tau  # the step sum of the exponential: w q x / (1 - e^-x)
    assert charge == pytest.approx(w * q * x / -np.expm1(-x), rel=1e-9)
    assert charge == pytest.approx(w * q, rel=x)


def test_charge_converges_to_wq_as_dt_shrinks():
    result = lifsim.simulate(stimuli=[lifsim.SpikeTimes([5.0], weight=1.0)], duration_ms=300, dt_ms=0.01,
                             precision="float64", record=lifsim.Record(("i_syn",)))
    assert result.traces["i_syn"].sum() * 0.01 == pytest.approx(1.5, rel=1e-3)


def count_per_synapse(stimulus, seeds, duration=200.0, dt=1.0):
    counts = []
    steps = int(duration / dt)
    for seed in seeds:
        chunk = generator([stimulus], seed=seed, dt=dt).chunk(0, steps)
        counts.append(np.bincount(chunk.input_spikes.synapse, minlength=stimulus.synapses))
    return np.concatenate(counts)


@pytest.mark.parametrize("generation", ["per_step", "event"])
def test_poisson_counts_are_binomial(generation):
    stim = lifsim.PoissonSynapses(25, 20.0, 10.0, 180.0, generation=generation)
    counts = count_per_synapse(stim, range(200))  # 5000 synapse trials
    n, p = 169, 0.02  # steps with 10 < t < 180, and rate·dt
    se_mean = np.sqrt(n * p * (1 - p) / counts.size)
    assert abs(counts.mean() - n * p) < 4 * se_mean
    assert counts.var(ddof=1) == pytest.approx(n * p * (1 - p), rel=0.08)
    observed = np.bincount(counts, minlength=12)[:12]
    expected = stats.binom.pmf(np.arange(12), n, p) * counts.size
    expected[-1] += stats.binom.sf(11, n, p) * counts.size
    observed[-1] += (counts > 11).sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("generation", ["per_step", "event"])
def test_poisson_intervals_are_geometric(generation):
    stim = lifsim.PoissonSynapses(50, 20.0, generation=generation)
    chunk = generator([stim], seed=7).chunk(0, 20_000)
    spikes = chunk.input_spikes
    order = np.lexsort((spikes.step, spikes.synapse))
    step, syn = spikes.step[order], spikes.synapse[order]
    isi = np.diff(step)[np.diff(syn) == 0]
    p = 0.02
    assert isi.mean() == pytest.approx(1 / p, rel=0.03)
    assert isi.min() >= 1
    edges = np.array([1, 10, 20, 35, 50, 75, 100, 150, 10**9])
    observed = np.histogram(isi, edges)[0]
    cdf = 1 - (1 - p) ** (edges - 1)  # P(isi < e) for a geometric law on 1, 2, ...
    expected = np.diff(cdf) * isi.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_same_seed_same_output_and_other_seed_other_output():
    from lifsim.io import experiment_file as experiment

    config = experiment.load("synaptic").config
    a, b = lifsim.simulate(config), lifsim.simulate(config)
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.traces["u"], b.traces["u"])
    np.testing.assert_array_equal(a.input_spikes["times_ms"], b.input_spikes["times_ms"])
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    c = lifsim.simulate(config.replace(seed=config.seed + 1))
    assert not np.array_equal(a.input_spikes["times_ms"], c.input_spikes["times_ms"])


@pytest.mark.parametrize("stimulus", [
    lifsim.NoiseCurrent(1.5, 1.0, 10.0, 180.0),
    lifsim.PoissonSynapses(5, 20.0, 10.0, 180.0, generation="per_step"),
])
def test_per_step_draws_do_not_depend_on_chunking(stimulus):
    one = generator([stimulus], n=3).chunk(0, 200)
    gen = generator([stimulus], n=3)
    parts = [gen.chunk(k, min(k + 37, 200)) for k in range(0, 200, 37)]
    current = np.concatenate([np.broadcast_to(p.current, (p.steps, 3)) for p in parts])
    np.testing.assert_array_equal(np.broadcast_to(one.current, (200, 3)), current)
    if one.input_spikes is not None:
        np.testing.assert_array_equal(one.input_spikes.step, np.concatenate([p.input_spikes.step for p in parts]))


def test_each_stimulus_has_its_own_random_stream():
    noise = lifsim.NoiseCurrent(0.0, 1.0)
    alone = generator([noise], seed=3).chunk(0, 50).current
    beside = generator([lifsim.PoissonSynapses(5, 20.0), noise], seed=3)
    assert not np.array_equal(alone, beside.chunk(0, 50).current)  # position 1, another stream
    first = generator([noise, lifsim.PoissonSynapses(5, 20.0)], seed=3).chunk(0, 50).current
    np.testing.assert_array_equal(alone, first)  # adding a later stimulus does not change it


def test_population_neurons_get_their_own_input():
    result = lifsim.simulate(stimuli=[lifsim.NoiseCurrent(1.5, 1.0)], n_neurons=4, duration_ms=50,
                             record=lifsim.Record(("i_in",)))
    i_in = result.traces["i_in"]
    assert i_in.shape == (50, 4)
    assert len({tuple(col) for col in i_in.T}) == 4


def test_overlapping_pulses_add_and_per_neuron_amplitudes():
    stim = lifsim.SquarePulses(((0.0, 10.0, 1.0), (5.0, 20.0, [0.5, 2.0])))
    current = generator([stim], n=2).chunk(0, 25).current
    np.testing.assert_array_equal(current[3], [1.0, 1.0])
    np.testing.assert_array_equal(current[7], [1.5, 3.0])
    np.testing.assert_array_equal(current[12], [0.5, 2.0])
    np.testing.assert_array_equal(current[20], [0.0, 0.0])


def test_event_generation_gives_the_per_step_output_statistics():
    # 3000 neurons, each its own trial of the article's synaptic experiment.
    def counts(generation, seed):
        stim = lifsim.PoissonSynapses(25, 20.0, 10.0, 180.0, generation=generation)
        result = lifsim.simulate(stimuli=[stim], n_neurons=3000, seed=seed, engine="numpy",
                                 record=lifsim.Record(neurons="none", input_spikes=True))
        out = np.bincount(result.spike_neurons, minlength=3000)
        inputs = np.bincount(result.input_spikes["neuron"], minlength=3000)
        return out, inputs

    out_step, in_step = counts("per_step", 11)
    out_event, in_event = counts("event", 12)
    # input events per neuron: 25 synapses × Binomial(169, 0.02)
    for sample in (in_step, in_event):
        assert sample.mean() == pytest.approx(25 * 169 * 0.02, rel=0.01)
        assert sample.var() == pytest.approx(25 * 169 * 0.02 * 0.98, rel=0.1)
    assert stats.ttest_ind(in_step, in_event).pvalue > 1e-3
    assert stats.levene(in_step, in_event).pvalue > 1e-3
    # output spike counts: same distribution (chi-square test of homogeneity)
    top = 4
    table = [np.bincount(np.minimum(c, top), minlength=top + 1) for c in (out_step, out_event)]
    assert out_step.mean() > 0.3
    assert stats.chi2_contingency(table).pvalue > 1e-3
    assert stats.ks_2samp(out_step, out_event).pvalue > 1e-3


def test_event_generation_does_not_depend_on_chunking_or_other_stimuli():
    stim = lifsim.PoissonSynapses(25, 20.0, 5.0, 250.0, generation="event")

    def input_spikes(chunk, stimuli):
        gen = generator(stimuli, n=300, dt=0.1, seed=5)
        parts = [gen.chunk(k, min(k + chunk, 3000)) for k in range(0, 3000, chunk)]
        step = np.concatenate([p.input_spikes.step for p in parts])
        key = np.concatenate([p.input_spikes.neuron * 100 + p.input_spikes.synapse for p in parts])
        order = np.argsort(step, kind="stable")  # events of one step keep the order they were handed out in
        return step[order], key[order]

    whole = input_spikes(3000, [stim])
    assert whole[0].size > 30_000
    for chunk in (37, 1000):
        np.testing.assert_array_equal(input_spikes(chunk, [stim]), whole)
    beside = input_spikes(1000, [stim, lifsim.NoiseCurrent(0.0, 1.0)])  # another stimulus, other chunks
    np.testing.assert_array_equal(beside, whole)


def test_spike_times_need_whole_neuron_indices():
    with pytest.raises(lifsim.ParameterError, match="neuron must be whole neuron indices"):
        lifsim.simulate(stimuli=[lifsim.SpikeTimes([1.0], neuron=0.5)], n_neurons=2)


@pytest.mark.parametrize("generation", ["per_step", "event"])
def test_silent_synapses_send_nothing(generation):
    chunk = generator([lifsim.PoissonSynapses(25, 0.0, generation=generation)], n=10).chunk(0, 500)
    assert chunk.events.step.size == 0 and chunk.input_spikes.step.size == 0
