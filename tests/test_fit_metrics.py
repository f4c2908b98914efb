"""Fit scores: voltage MSE, the gamma coincidence factor and the van Rossum distance."""

import math

import numpy as np
import pytest

from lifsim.errors import ParameterError
from lifsim.fit import metrics
from lifsim.fit.metrics import (METRICS, coincidences, gamma_factor, gamma_factors, score_direction,
                                van_rossum_distance, voltage_mse)


# ------------------------------------------------------------------ MSE

def test_mse_value_and_shapes():
    data = np.array([0.0, 1.0, 2.0, 3.0])
    assert voltage_mse(data + 2.0, data) == 4.0
    assert isinstance(voltage_mse(data, data), float) and voltage_mse(data, data) == 0.0
    # (1² + 0 + 1² + 2²)/4 = 1.5
    candidates = np.stack([data, data + [1.0, 0.0, -1.0, 2.0], data - 3.0])
    scores = voltage_mse(candidates, data)
    assert scores.shape == (3,)
    np.testing.assert_array_equal(scores, [0.0, 1.5, 9.0])


def test_mse_diverged_candidate_scores_worst():
    data = np.zeros(5)
    candidates = np.stack([np.ones(5), np.array([0.0, np.nan, 0.0, 0.0, 0.0]), np.full(5, np.inf)])
    scores = voltage_mse(candidates, data)
    np.testing.assert_array_equal(scores, [1.0, np.inf, np.inf])
    assert np.argmin(scores) == 0


@pytest.mark.parametrize("model, data", [(np.zeros(4), np.zeros(5)), (np.zeros((2, 4)), np.zeros(5)),
                                         (np.zeros((2, 2, 5)), np.zeros(5)), (np.zeros(5), np.zeros((1, 5))),
                                         (np.zeros(0), np.zeros(0))])
def test_mse_refuses_mismatched_shapes(model, data):
    with pytest.raises(ParameterError, match="model_mV must have shape"):
        voltage_mse(model, data)


def test_mse_refuses_non_finite_data():
    with pytest.raises(ParameterError, match="data_mV must be finite"):
        voltage_mse(np.zeros(3), np.array([0.0, np.nan, 0.0]))


# ------------------------------------------------------------------ gamma factor

def test_gamma_by_hand():
    # data 10, 20, 30, 40 ms; model 11, 25, 39.5 ms; Δ = 2 ms; T = 100 ms.
    # Coincidences: 10↔11 and 40↔39.5 (20 and 30 have no model spike within 2 ms): N_coinc = 2.
    # ν_model = 3/100, ν_data = 4/100 per ms. <N_coinc> = 2·0.03·2·4 = 0.48; 𝒩 = 1 − 2·0.04·2 = 0.84.
    # Γ = (2 − 0.48) / (½·(4 + 3)·0.84) = 1.52 / 2.94 = 0.51700680...
    gamma = gamma_factor([11.0, 25.0, 39.5], [10.0, 20.0, 30.0, 40.0], duration_ms=100.0, window_ms=2.0)
    assert gamma == pytest.approx(1.52 / 2.94, rel=1e-12)
    # model and data swapped: N_coinc = 2 still, <N_coinc> = 2·0.04·2·3 = 0.48, 𝒩 = 1 − 2·0.03·2 = 0.88
    swapped = gamma_factor([10.0, 20.0, 30.0, 40.0], [11.0, 25.0, 39.5], duration_ms=100.0, window_ms=2.0)
    assert swapped == pytest.approx(1.52 / (3.5 * 0.88), rel=1e-12)


def test_identical_trains_score_one():
    rng = np.random.default_rng(5)
    for _ in range(20):
        train = np.sort(rng.uniform(0.0, 1000.0, rng.integers(1, 40)))
        assert gamma_factor(train, train, 1000.0, 2.0) == pytest.approx(1.0, abs=1e-12)
    # unsorted input is sorted first
    assert gamma_factor([30.0, 10.0, 20.0], [10.0, 20.0, 30.0], 100.0) == pytest.approx(1.0)


def test_gamma_edge_cases():
    assert gamma_factor([], [], 100.0) == 1.0  # a silent model of a silent recording
    assert gamma_factor([5.0, 50.0], [], 100.0) == 0.0
    assert gamma_factor([], [5.0, 50.0], 100.0) == 0.0


def test_window_edges_and_shifts():
    data = np.arange(10.0, 1000.0, 20.0)  # ISIs of 20 ms, far above 2Δ
    rate = data.size / 1000.0
    assert gamma_factor(data + 1.99, data, 1000.0, 2.0) == pytest.approx(1.0)
    assert gamma_factor(data - 2.0, data, 1000.0, 2.0) == pytest.approx(1.0)  # the window is closed
    # just outside the window no spike coincides: Γ = −<N_coinc>/(N·𝒩) = −2νΔ/(1 − 2νΔ)
    assert gamma_factor(data + 2.01, data, 1000.0, 2.0) == pytest.approx(-2 * rate * 2.0 / (1 - 2 * rate * 2.0))
    # a wider window takes the shifted spikes back
    assert gamma_factor(data + 2.01, data, 1000.0, 3.0) == pytest.approx(1.0)


def test_invariant_to_moves_within_the_window():
    rng = np.random.default_rng(11)
    data = np.sort(rng.choice(np.arange(5.0, 995.0, 10.0), 40, replace=False))  # >= 10 ms apart
    # copies of 30 data spikes, and 5 spikes anywhere (they keep their place below)
    model = np.concatenate([data[:30], rng.uniform(0, 1000, 5)])
    reference = gamma_factor(model, data, 1000.0, 2.0)
    for _ in range(10):
        jittered = model.copy()
        jittered[:30] += rng.uniform(-1.9, 1.9, 30)  # each stays within Δ of its data spike
        rng.shuffle(jittered)  # and the order given does not matter
        assert gamma_factor(jittered, data, 1000.0, 2.0) == pytest.approx(reference, abs=1e-12)


def test_each_model_spike_counts_once():
    # one model spike between two data spikes 1 ms apart: one coincidence, not two
    assert coincidences(np.array([10.5]), np.array([10.0, 11.0]), 1.0) == 1
    # a model burst on one data spike: one coincidence
    assert coincidences(np.array([9.5, 10.0, 10.5]), np.array([10.0]), 1.0) == 1
    # greedy pairing finds the larger matching: 10↔11 and 11.5↔12.2, though 11 is nearer to 11.5
    assert coincidences(np.array([11.0, 12.2]), np.array([10.0, 11.5]), 1.0) == 2


def test_coincidences_is_a_maximum_matching():
    scipy = pytest.importorskip("scipy")
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    rng = np.random.default_rng(3)
    contested = 0
    for _ in range(200):
        data = np.sort(rng.uniform(0, 50, rng.integers(0, 15)))
        model = np.sort(rng.uniform(0, 50, rng.integers(0, 15)))
        close = np.abs(data[:, None] - model[None, :]) <= 2.0
        best = 0
        if close.any():
            best = int(np.sum(maximum_bipartite_matching(csr_matrix(close.astype(np.int8)), perm_type="column") >= 0))
        assert coincidences(model, data, 2.0) == best
        contested += int(np.any(close.sum(axis=0) > 1) or np.any(close.sum(axis=1) > 1))
    assert contested > 50 and scipy  # the slow path ran, not only the uncontested one


def test_independent_poisson_trains_score_about_zero():
    # Data at 20 Hz, model at 60 Hz, independent, T = 10 s, Δ = 1 ms. With the model's rate in
    # <N_coinc> the mean is ≈ 0 (the linear chance count 2νΔ vs 1 − e^(−2νΔ) biases it by ≈ −0.004);
    # the data's rate there would give ≈ +0.04. Per-trial sd ≈ 0.012, so the mean of 300 has sd ≈ 0.0007.
    rng = np.random.default_rng(2026)
    duration, window = 10_000.0, 1.0

    def poisson(rate_per_ms):
        return np.sort(rng.uniform(0.0, duration, rng.poisson(rate_per_ms * duration)))

    scores = [gamma_factor(poisson(0.06), poisson(0.02), duration, window) for _ in range(300)]
    assert abs(np.mean(scores)) < 0.015
    assert np.std(scores) < 0.05
    # a jittered copy of the data is far above chance
    data = poisson(0.02)
    assert gamma_factor(data + rng.uniform(-0.5, 0.5, data.size), data, duration, window) > 0.9


def test_gamma_factors_one_per_candidate():
    data = [10.0, 20.0, 30.0, 40.0]
    candidates = [[11.0, 25.0, 39.5], data, [], np.array([70.0])]
    scores = gamma_factors(candidates, data, 100.0, 2.0)
    assert scores.shape == (4,) and scores.dtype == np.float64
    np.testing.assert_allclose(scores, [gamma_factor(c, data, 100.0, 2.0) for c in candidates], rtol=0, atol=0)
    assert gamma_factors([], data, 100.0).shape == (0,)


@pytest.mark.parametrize("kwargs, words", [
    ({"duration_ms": 0.0}, "duration_ms must be > 0"),
    ({"window_ms": -1.0}, "window_ms must be > 0"),
    ({"window_ms": 13.0}, "window_ms must be < 1/(2·data rate) = 12.5 ms"),  # 4 spikes in 100 ms
    ({"model_ms": [1.0, np.nan]}, "model_ms must hold finite"),
    ({"data_ms": [[1.0]]}, "data_ms must be a one-dimensional"),
])
def test_gamma_refusals(kwargs, words):
    arguments = {"model_ms": [1.0], "data_ms": [10.0, 20.0, 30.0, 40.0], "duration_ms": 100.0, "window_ms": 2.0}
    arguments.update(kwargs)
    with pytest.raises(ParameterError, match=words.replace("(", r"\(").replace(")", r"\)")):
        gamma_factor(**arguments)


def test_gamma_factors_names_the_candidate():
    with pytest.raises(ParameterError, match=r"model_spike_lists\[1\] must hold finite"):
        gamma_factors([[1.0], [np.inf]], [10.0], 100.0)


# ------------------------------------------------------------------ van Rossum

def test_van_rossum_by_hand():
    # one spike against none: D² = ½[1 + 0 − 0] = ½
    assert van_rossum_distance([5.0], [], tau_ms=10.0) == pytest.approx(1 / math.sqrt(2), rel=1e-15)
    assert van_rossum_distance([], [], tau_ms=10.0) == 0.0
    # two spikes far apart against none: D² = ½[2 + 2e^(−100)] ≈ 1
    assert van_rossum_distance([0.0, 1000.0], [], tau_ms=10.0) == pytest.approx(1.0, rel=1e-12)
    # one spike each, d apart: D² = ½[1 + 1 − 2e^(−d/τ)] = 1 − e^(−d/τ); d = τ ln 2 gives ½
    assert van_rossum_distance([0.0], [10.0 * math.log(2)], tau_ms=10.0) == pytest.approx(math.sqrt(0.5))
    assert van_rossum_distance([3.0], [8.0], tau_ms=4.0) == pytest.approx(math.sqrt(1 - math.exp(-5 / 4)))


def test_van_rossum_is_a_symmetric_distance():
    rng = np.random.default_rng(8)
    a, b = np.sort(rng.uniform(0, 500, 30)), np.sort(rng.uniform(0, 500, 25))
    assert van_rossum_distance(a, b) == pytest.approx(van_rossum_distance(b, a), rel=1e-12)
    assert van_rossum_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert van_rossum_distance(a[::-1], b) == pytest.approx(van_rossum_distance(a, b), rel=1e-12)


def test_van_rossum_agrees_with_elephant():
    elephant = pytest.importorskip("elephant.spike_train_dissimilarity")
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    rng = np.random.default_rng(21)
    for tau in (2.0, 10.0, 50.0):
        for n, m in ((0, 3), (1, 1), (40, 25), (200, 180)):
            a, b = np.sort(rng.uniform(0, 2000, n)), np.sort(rng.uniform(0, 2000, m))
            trains = [neo.SpikeTrain(x, units="ms", t_stop=2000.0) for x in (a, b)]
            theirs = elephant.van_rossum_distance(trains, time_constant=tau * pq.ms)[0, 1]
            # elephant omits the ½ of van Rossum (2001): its distance is √2 times ours
            assert van_rossum_distance(a, b, tau_ms=tau) == pytest.approx(theirs / math.sqrt(2), rel=1e-9, abs=1e-12)


def test_van_rossum_to_the_end_of_the_recording():
    # one spike at s against none, integrated to T: D² = ½(1 − e^(−2(T−s)/τ))
    assert van_rossum_distance([90.0], [], tau_ms=10.0, duration_ms=100.0) == pytest.approx(
        math.sqrt(0.5 * (1 - math.exp(-2.0))))
    assert van_rossum_distance([100.0], [], tau_ms=10.0, duration_ms=100.0) == 0.0
    # against the integral itself, on a fine grid: (1/τ) ∫_0^T (f_a − f_b)² dt
    a, b, tau, end = np.array([5.0, 40.0, 92.0]), np.array([7.0, 61.0, 97.0]), 8.0, 100.0
    t = np.linspace(0.0, end, 400_001)

    def filtered(train):  # Σ_i e^(−(t − t_i)/τ) H(t − t_i)
        return np.sum(np.where(t >= train[:, None], np.exp(-(t - train[:, None]) / tau), 0.0), axis=0)

    squared = np.trapezoid((filtered(a) - filtered(b)) ** 2, t) / tau
    assert van_rossum_distance(a, b, tau_ms=tau, duration_ms=end) == pytest.approx(math.sqrt(squared), rel=1e-4)
    with pytest.raises(ParameterError, match=r"b_ms must lie within \[0, 100\] ms"):
        van_rossum_distance([1.0], [101.0], duration_ms=100.0)


def test_van_rossum_blocks_and_reach_sum_to_the_whole(monkeypatch):
    rng = np.random.default_rng(4)
    a, b = np.sort(rng.uniform(0, 3000, 370)), np.sort(rng.uniform(0, 3000, 290))  # spans 3000/7 ≫ 60 τ
    cut = van_rossum_distance(a, b, tau_ms=7.0, duration_ms=3000.0)
    monkeypatch.setattr(metrics, "_REACH_TAUS", 1e9)  # every pair
    whole = van_rossum_distance(a, b, tau_ms=7.0, duration_ms=3000.0)
    assert cut == pytest.approx(whole, rel=1e-12)
    monkeypatch.setattr(metrics, "_BLOCK_ENTRIES", 500)  # one or two rows a block
    assert van_rossum_distance(a, b, tau_ms=7.0, duration_ms=3000.0) == pytest.approx(whole, rel=1e-12)


def test_van_rossum_refusals():
    with pytest.raises(ParameterError, match="tau_ms must be > 0"):
        van_rossum_distance([1.0], [2.0], tau_ms=0.0)
    with pytest.raises(ParameterError, match="a_ms must hold finite"):
        van_rossum_distance([np.nan], [2.0])


# ------------------------------------------------------------------ the table

def test_metric_table():
    assert set(METRICS) == {"mse", "gamma", "van_rossum"}
    assert METRICS["mse"].units == "mV²" and METRICS["gamma"].units == METRICS["van_rossum"].units == "1"
    assert [score_direction(name) for name in ("mse", "gamma", "van_rossum")] == ["lower", "higher", "lower"]
    assert all(info.name == name for name, info in METRICS.items())
    with pytest.raises(ParameterError, match="metric must be one of mse, gamma, van_rossum"):
        score_direction("rmse")
