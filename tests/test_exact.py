"""Method "exact": exact propagators, checked against closed forms."""

import numpy as np
import pytest

import lifsim
from lifsim.synapses.receptor import receptor_coefficients


def run(stimuli, model=lifsim.LIFParams(), duration=200.0, dt=0.1, precision="float64", engine="numpy", **kw):
    return lifsim.simulate(model=model, stimuli=stimuli, duration_ms=duration, dt_ms=dt, method="exact",
                           precision=precision, engine=engine, record=lifsim.Record(("u", "i_syn")), **kw)


@pytest.mark.parametrize("u_rest", [0.0, -0.7])
def test_constant_current_response_equals_the_closed_form(u_rest):
    params = lifsim.LIFParams(u_rest=u_rest, u_thresh=u_rest + 5.0, R=2.0)
    result = run([lifsim.ConstantCurrent(0.9)], model=params, duration=100.0, dt=0.25)
    t = result.t_ms
    closed = u_rest + 2.0 * 0.9 * -np.expm1(-t / 10.0)
    # the trace at t_k is u(t_k): 400 steps of the exact map, float64 rounding only
    np.testing.assert_allclose(result.traces["u"][:, 0], closed, rtol=0, atol=64 * np.finfo(float).eps)


@pytest.mark.parametrize("current", [1.05, 1.2, 1.5, 2.0, 4.0])
@pytest.mark.parametrize("dt", [0.1, 0.05])
def test_firing_rate_matches_the_f_I_curve_within_one_step(current, dt):
    result = run([lifsim.ConstantCurrent(current)], duration=2000.0, dt=dt)
    period = np.diff(result.spike_times_ms)
    predicted = 4.0 + 10.0 * np.log(current / (current - 1.0))  # tau_rest + tau_m ln(RI/(RI - u_thresh))
    assert period.size >= 10
    # crossing is detected at the end of its step, so each period exceeds the prediction by less than dt
    assert np.all(period >= predicted - 1e-9) and np.all(period < predicted + dt)
    rate = 1000.0 * period.size / (result.spike_times_ms[-1] - result.spike_times_ms[0])
    assert abs(rate - 1000.0 / predicted) <= 1000.0 / predicted - 1000.0 / (predicted + dt)


def test_refractory_clamp_is_exactly_n_steps_while_the_synapse_keeps_summing():
    result = run([lifsim.ConstantCurrent(5.0), lifsim.SpikeTimes([10.0, 10.5], weight=1.0)], duration=30.0)
    first = int(round(result.spike_times_ms[0] / 0.1))
    u = result.traces["u"][:, 0]
    np.testing.assert_array_equal(u[first:first + 40], 0.0)  # 4 ms / 0.1 ms = 40 clamped samples
    assert u[first + 41] > 0.0
    i_syn = result.traces["i_syn"][:, 0]
    assert i_syn[105] == pytest.approx(0.15 * np.exp(-0.05) + 0.15, rel=1e-12)  # both spikes, during the clamp


def psp(tau_syn, tau_m=10.0, dt=0.1, engine="numpy"):
    model = lifsim.LIFParams(tau_m=tau_m, tau_syn=tau_syn, u_thresh=50.0)
    return run([lifsim.SpikeTimes([5.0], weight=1.0)], model=model, duration=80.0, dt=dt, engine=engine)


def test_psp_at_equal_time_constants_is_smooth_and_exact():
    t0 = 5.0
    equal = psp(10.0)
    s = np.maximum(equal.t_ms - t0, 0.0)
    expected = 1.5 * s / 10.0 ** 2 * np.exp(-s / 10.0)  # R w q s/tau^2 e^(-s/tau) for tau_m = tau_syn
    np.testing.assert_allclose(equal.traces["u"][:, 0], expected, rtol=0, atol=1e-14)
    for nearby in (10.0 + 1e-9, 10.0 - 1e-9):
        np.testing.assert_allclose(psp(nearby).traces["u"][:, 0], expected, rtol=0, atol=1e-10)


def test_psp_with_distinct_time_constants():
    result = psp(4.0)
    s = np.maximum(result.t_ms - 5.0, 0.0)
    expected = 1.5 * (np.exp(-s / 10.0) - np.exp(-s / 4.0)) / (10.0 - 4.0)
    np.testing.assert_allclose(result.traces["u"][:, 0], expected, rtol=0, atol=1e-14)


def test_current_to_voltage_factor_is_continuous_across_tau_m_equal_tau_syn():
    values = [receptor_coefficients(lifsim.RunConfig(model=lifsim.LIFParams(tau_syn=10.0 + d)).layout, 0.1, "exact",
                                    "float64").s[0] for d in (-1e-6, -1e-12, 0.0, 1e-12, 1e-6)]
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values, values[2], rtol=1e-7)


def test_float32_by_default_float64_on_request():
    model, stim = lifsim.LIFParams(), [lifsim.ConstantCurrent(1.5)]
    default = lifsim.simulate(model=model, stimuli=stim, method="exact", record=lifsim.Record(("u",)))
    assert default.traces["u"].dtype == np.float32
    assert default.final_state.u.dtype == np.float32
    assert run(stim).traces["u"].dtype == np.float64


def test_large_steps_are_allowed_with_the_exact_method():
    result = run([lifsim.ConstantCurrent(0.5)], duration=100.0, dt=20.0)
    np.testing.assert_allclose(result.traces["u"][:, 0], 0.5 * -np.expm1(-result.t_ms / 10.0), atol=1e-15)
