"""The article's three experiments, as lifsim ships them."""

import numpy as np
import pytest
from conftest import euler_steps_to_threshold

import lifsim
from lifsim.io import experiment_file as experiment


@pytest.fixture(scope="module")
def square():
    return lifsim.simulate(experiment.load("square").config)


def spikes_in(result, start, stop):
    t = result.spike_times_ms
    return t[(t > start) & (t <= stop)]


def test_square_windows(square):
    assert spikes_in(square, 10, 50).size == 0  # 0.5 mA never reaches threshold
    low, high = spikes_in(square, 50, 100), spikes_in(square, 120, 180)
    assert low.size >= 2 and high.size >= 2  # repeated spikes at 1.2 and 1.5 mA
    assert high.size > low.size  # faster at 1.5 mA
    assert np.mean(np.diff(high)) < np.mean(np.diff(low))


@pytest.mark.parametrize("window, current", [((50, 100), 1.2), ((120, 180), 1.5)])
def test_square_intervals_match_the_euler_map(square, window, current):
    # After a spike: n_ref resting steps, then integrating from u_rest until u > u_thresh,
    # then the firing step: ISI = n_ref + n + 1 steps.
    n = euler_steps_to_threshold(current)
    expected = 4 + n + 1
    intervals = np.diff(spikes_in(square, *window))
    assert intervals.size >= 1
    np.testing.assert_array_equal(intervals, expected)
    assert (current, expected) in ((1.2, 23), (1.5, 16))  # also derived by hand: 1.2(1-0.9^18) > 1


def test_square_current_follows_strict_windows(square):
    i_in = square.traces["i_in"][:, 0]
    t = square.t_ms
    expected = np.select([(t > 10) & (t < 30), (t > 50) & (t < 100), (t > 120) & (t < 180)], [0.5, 1.2, 1.5], 0.0)
    np.testing.assert_array_equal(i_in, expected.astype(np.float32))


def test_noise_experiment_is_regular_and_saturating():
    config = experiment.load("noise").config
    result = lifsim.simulate(config)
    isi = np.diff(result.spike_times_ms)
    assert result.spike_times_ms.size >= 8
    assert np.all(isi >= 1 + 4 + 1)  # firing + refractory + at least one integrating step
    assert np.std(isi) / np.mean(isi) < 0.5  # fairly regular
    i_in = result.traces["i_in"][:, 0]
    active = (result.t_ms > 10) & (result.t_ms < 180)
    assert np.all(i_in[~active] == 0.0)
    assert i_in[active].mean() == pytest.approx(1.5, abs=0.25)  # N(1.5, 1.0): 169 draws
    assert i_in[active].std() == pytest.approx(1.0, abs=0.2)


def test_synaptic_experiment_records_everything_the_article_shows():
    exp = experiment.load("synaptic")
    result = lifsim.simulate(exp.config)
    spikes = result.input_spikes
    assert spikes["times_ms"].size > 0
    assert np.all((spikes["times_ms"] > 10) & (spikes["times_ms"] < 180))
    assert set(spikes["synapse"].tolist()) <= set(range(25))
    assert result.weights[0].shape == (1, 25)
    assert exp.panels == ("input_spikes", "i_in", "u")


def test_synaptic_current_is_the_sum_over_all_past_input_spikes():
    # The recursive current equals the explicit sum over every past spike (no window).
    result = lifsim.simulate(experiment.load("synaptic").config.replace(precision="float64"))
    spikes, w = result.input_spikes, result.weights[0][0]
    t = result.t_ms[:, None]
    ages = t - spikes["times_ms"][None, :]
    kernel = np.where(ages >= 0, 1.5 / 10.0 * np.exp(-np.maximum(ages, 0) / 10.0), 0.0)
    explicit = (kernel * w[spikes["synapse"]][None, :]).sum(axis=1)
    np.testing.assert_allclose(result.traces["i_syn"][:, 0], explicit, rtol=1e-9, atol=1e-12)


def test_the_neuron_fires_when_synaptic_current_is_high():
    results = [lifsim.simulate(experiment.load("synaptic", seed=s).config) for s in range(20)]
    before = [r.traces["i_in"][int(t) - 1, 0] for r in results for t in r.spike_times_ms]
    overall = np.concatenate([r.traces["i_in"][:, 0] for r in results])
    assert len(before) >= 5
    assert np.mean(before) > 1.0 > np.mean(overall)  # spikes need I above R·I = u_thresh
