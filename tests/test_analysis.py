"""Spike-train analysis against hand counts and straightforward loops."""

import numpy as np
import pytest

import lifsim
from lifsim import analysis

# neuron 0: 10, 20, 40 ms; neuron 1: nothing; neuron 2: 5, 15, 25, 35 ms (sorted by time, as runs keep them)
TIMES = np.array([5.0, 10.0, 15.0, 20.0, 25.0, 35.0, 40.0])
NEURONS = np.array([2, 0, 2, 0, 2, 2, 0])


def test_counts_and_rates():
    np.testing.assert_array_equal(analysis.spike_counts(TIMES, NEURONS, 3), [3, 0, 4])
    np.testing.assert_array_equal(analysis.spike_counts(TIMES, NEURONS, 3, 10.0, 25.0), [2, 0, 2])  # closed
    np.testing.assert_allclose(analysis.firing_rates(TIMES, NEURONS, 3, 0.0, 50.0), [60.0, 0.0, 80.0])


def test_intervals_grouped_by_neuron():
    isi, owner = analysis.interspike_intervals(TIMES, NEURONS)
    np.testing.assert_array_equal(owner, [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(isi, [10.0, 20.0, 10.0, 10.0, 10.0])


def test_cv_and_interval_rates():
    cv = analysis.coefficient_of_variation(TIMES, NEURONS, 3)
    assert cv[0] == pytest.approx(np.std([10.0, 20.0]) / 15.0)
    assert np.isnan(cv[1]) and cv[2] == 0.0
    rates = analysis.interval_rates(TIMES, NEURONS, 3)
    np.testing.assert_allclose(rates[[0, 2]], [1000 / 15.0, 100.0])
    assert np.isnan(rates[1])


def test_psth():
    edges, rate = analysis.psth(TIMES, 3, 20.0, 0.0, 50.0)
    np.testing.assert_array_equal(edges, [0.0, 20.0, 40.0, 50.0])
    # bins: [0,20): 3 spikes, [20,40): 3, [40,50]: 1 — per neuron, per second
    np.testing.assert_allclose(rate, [3 / (3 * 0.02), 3 / (3 * 0.02), 1 / (3 * 0.01)])


def test_matches_loops_on_a_real_population():
    result = lifsim.simulate(stimuli=[lifsim.NoiseCurrent(1.3, 1.5)], n_neurons=200, duration_ms=300.0,
                             dt_ms=0.5, engine="numpy", record=lifsim.Record(neurons="none"))
    cv = result.cv()
    for n in range(0, 200, 17):
        own = result.spikes_of(n)
        intervals = np.diff(own)
        expected = np.std(intervals) / np.mean(intervals) if intervals.size >= 2 else np.nan
        np.testing.assert_allclose(cv[n], expected, equal_nan=True)
        assert result.spike_counts()[n] == own.size
    assert result.firing_rates().mean() == pytest.approx(result.spike_times_ms.size / 200 / 0.3)
    edges, rate = result.psth(10.0)
    assert rate.sum() * 10.0 * 1e-3 * 200 == pytest.approx(result.spike_times_ms.size)


def test_raster_draws_every_spike():
    result = lifsim.simulate(stimuli=[lifsim.NoiseCurrent(1.5, 1.0)], n_neurons=5, duration_ms=100.0,
                             engine="numpy")
    ax = result.raster()
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, result.spike_times_ms)
    np.testing.assert_array_equal(y, result.spike_neurons)


def test_predicted_rate():
    params = lifsim.LIFParams()
    rate = analysis.predicted_rate([0.5, 1.0, 2.0], params)
    np.testing.assert_allclose(rate, [0.0, 0.0, 1000.0 / (4.0 + 10.0 * np.log(2.0))])


def test_no_spikes_and_a_stop_on_the_bin_grid():
    np.testing.assert_array_equal(analysis.spike_counts([], [], 3), [0, 0, 0])
    edges, rate = analysis.psth([2.1], 1, 0.3, 0.0, 2.1)  # 2.1 / 0.3 is 7 up to rounding
    assert edges.size == 8 and np.all(np.diff(edges) > 0.29)
    assert np.all(np.isfinite(rate)) and rate[-1] == pytest.approx(1 / 0.3e-3)


def test_a_spike_on_the_last_instant_of_an_exact_run_is_counted_and_exported():
    result = lifsim.simulate(stimuli=[lifsim.ConstantCurrent(50.0)], model=lifsim.LIFParams(tau_rest=0.0),
                             duration_ms=0.3, dt_ms=0.1, method="exact", engine="numpy")
    assert result.spike_times_ms[-1] > 0.3  # (2 + 1) · 0.1 in floats
    assert result.spike_counts()[0] == result.spike_times_ms.size
    train = result.to_neo().segments[0].spiketrains[0]
    assert len(train) == result.spike_times_ms.size and float(train.t_stop) == result.config.end_ms
