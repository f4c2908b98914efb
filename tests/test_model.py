"""The update rule: hand-computed steps, the step order, refractoriness, propagators."""

import numpy as np
import pytest

import lifsim
from lifsim.neuron.rule import RULES, coefficients, exprel, refractory_steps, synapse_step


def run_constant(current, duration=30.0, dt=1.0, method="article", precision="float32", **kw):
    return lifsim.simulate(stimuli=[lifsim.ConstantCurrent(current)], duration_ms=duration, dt_ms=dt,
                           method=method, precision=precision, record=lifsim.Record(("u", "i_in")), **kw)


def test_first_steps_by_hand():
    # u_{k} = u_{k-1} + dt (R I - u_{k-1}) / tau_m with I = 1.2 mA, dt = 1 ms, tau_m = 10 ms
    u = run_constant(1.2, duration=4).traces["u"][:, 0]
    np.testing.assert_allclose(u, [0.12, 0.228, 0.3252, 0.41268], rtol=2e-7)


def test_input_current_is_recorded_per_step():
    i_in = run_constant(1.2, duration=4).traces["i_in"][:, 0]
    np.testing.assert_array_equal(i_in, np.float32(1.2))


def test_step_order_and_one_step_above_threshold():
    # I = 5 mA: u = 0.5, 0.95, 1.355 (above threshold, shown), then the firing step resets.
    result = run_constant(5.0, duration=34)
    u = result.traces["u"][:, 0]
    np.testing.assert_allclose(u[:4], [0.5, 0.95, 1.355, 0.0], rtol=1e-6)
    spike_steps = np.rint(result.spike_times_ms).astype(int)
    np.testing.assert_array_equal(spike_steps, [3, 11, 19, 27])
    above = np.flatnonzero(u > 1.0)
    np.testing.assert_array_equal(above, spike_steps - 1)  # exactly one step above, just before each spike
    for k in spike_steps:
        np.testing.assert_array_equal(u[k:k + 5], 0.0)  # firing step, then tau_rest/dt = 4 resting steps
        assert u[k + 5] == pytest.approx(0.5)  # integrating again


def test_resting_is_tested_before_firing():
    # A neuron above threshold but refractory rests: no spike while ref > 0.
    state = lifsim.LIFState(np.array([2.0], np.float32), np.array([2], np.int32), np.zeros(1, np.float32))
    result = run_constant(0.0, duration=5, initial_state=state)
    np.testing.assert_array_equal(result.traces["u"][:, 0], 0.0)
    assert result.spike_times_ms.size == 0


def test_firing_uses_the_potential_left_by_the_previous_step():
    state = lifsim.LIFState(np.array([1.5], np.float32), np.array([0], np.int32), np.zeros(1, np.float32))
    result = run_constant(0.0, duration=3, initial_state=state)
    np.testing.assert_array_equal(result.spike_times_ms, [0.0])


@pytest.mark.parametrize("tau_rest, dt, held", [(4.0, 1.0, 4), (4.0, 0.5, 8), (2.0, 0.1, 20), (0.0, 1.0, 0)])
def test_held_for_tau_rest_over_dt_steps(tau_rest, dt, held):
    params = lifsim.LIFParams(tau_rest=tau_rest)
    result = lifsim.simulate(model=params, stimuli=[lifsim.ConstantCurrent(200.0)], duration_ms=60 * dt,
                             dt_ms=dt, record=lifsim.Record(("u",)))
    steps = np.rint(result.spike_times_ms / dt).astype(int)
    u = result.traces["u"][:, 0]
    first = steps[0]
    assert np.all(u[first:first + held + 1] == 0.0)
    assert u[first + held + 1] > 0.0
    # with I = 200 mA one integrating step crosses: period = 1 firing + held resting + 1 integrating
    np.testing.assert_array_equal(np.diff(steps), held + 2)


def test_refractory_steps_are_whole_and_robust_to_rounding():
    assert refractory_steps(4.0, 0.1) == 40
    assert refractory_steps(4.0, 1.0) == 4
    np.testing.assert_array_equal(refractory_steps([4.0, 2.5, 0.0], 1.0), [4, 3, 0])
    assert refractory_steps(4.0, 0.1).dtype == np.int32


def test_leak_relaxes_towards_RI_not_u_rest():
    params = lifsim.LIFParams(u_rest=-0.5, u_thresh=5.0)
    u = lifsim.simulate(model=params, stimuli=[lifsim.ConstantCurrent(0.3)], duration_ms=200,
                        record=lifsim.Record(("u",))).traces["u"][:, 0]
    assert u[-1] == pytest.approx(0.3, abs=1e-4)


def test_rule_is_one_function_for_arrays():
    coef = coefficients(lifsim.LIFParams(), 1.0, "article", "float64")
    u = np.array([0.0, 0.5, 1.2, 0.3])
    ref = np.array([0, 0, 0, 2], np.int32)
    u_new, ref_new, spiked, shown = RULES["article"](u, ref, np.full(4, 1.0), np.zeros(4), coef)
    np.testing.assert_allclose(u_new, [0.1, 0.55, 0.0, 0.0])
    np.testing.assert_array_equal(ref_new, [0, 0, 4, 1])
    np.testing.assert_array_equal(spiked, [False, False, True, False])
    np.testing.assert_array_equal(shown, u_new)


def test_synapse_step():
    assert synapse_step(2.0, 0.5, 0.25) == 1.0


def test_exprel():
    np.testing.assert_allclose(exprel([0.0, 1e-12, 1.0]), [1.0, 1.0 + 5e-13, np.e - 1.0], rtol=1e-15)


def test_per_neuron_parameters():
    params = lifsim.LIFParams(tau_m=[10.0, 20.0])
    coef = coefficients(params, 1.0, "article")
    np.testing.assert_allclose(coef.a, [0.9, 0.95])
    assert coef.a.dtype == np.float32
