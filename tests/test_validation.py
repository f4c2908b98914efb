"""Bad input is refused before any work, with the parameter and the allowed range named."""

import math
import warnings

import numpy as np
import pytest

import lifsim
from lifsim import ParameterError


def refused(match, **settings):
    with pytest.raises(ParameterError, match=match):
        lifsim.simulate(**settings)


@pytest.mark.parametrize("dt", [0.0, -0.1, math.nan, math.inf])
def test_dt_must_be_positive_and_finite(dt):
    refused(r"^dt must be", dt_ms=dt)


def test_dt_above_tau_m_is_refused_for_euler_only():
    refused(r"dt must be in \(0, 10\] ms with method 'article'", dt_ms=10.5, duration_ms=100)
    lifsim.simulate(dt_ms=10.5, duration_ms=100, method="exact")


def test_duration_at_least_one_step():
    refused(r"duration must be >= 1 ms", duration_ms=0.5)


@pytest.mark.parametrize("field", ["u_rest", "u_thresh", "tau_rest", "R", "tau_m", "tau_syn"])
def test_non_finite_model_values(field):
    with pytest.raises(ParameterError, match=f"model.{field} must be a finite number"):
        lifsim.LIFParams(**{field: math.nan})


@pytest.mark.parametrize("field, value, allowed", [("tau_m", 0.0, "> 0 ms"), ("tau_rest", -1.0, ">= 0 ms"),
                                                    ("R", -2.0, "> 0 Ω"), ("tau_syn", 0.0, "> 0 ms")])
def test_model_ranges(field, value, allowed):
    with pytest.raises(ParameterError, match=f"model.{field} must be {allowed}"):
        lifsim.LIFParams(**{field: value})


def test_threshold_above_rest():
    with pytest.raises(ParameterError, match="u_thresh must be > model.u_rest"):
        lifsim.LIFParams(u_rest=1.0, u_thresh=1.0)


def test_nan_currents():
    refused(r"stimulus\[0\].amplitude must be a finite number", stimuli=[lifsim.ConstantCurrent(math.nan)])
    refused(r"stimulus\[0\].mean must be a finite number", stimuli=[lifsim.NoiseCurrent(math.nan, 1.0)])
    refused(r"stimulus\[0\].pulses\[1\] amplitude must be a finite number",
            stimuli=[lifsim.SquarePulses(((1, 2, 0.5), (3, 4, math.inf)))])


def test_mismatched_shapes():
    refused(r"model.tau_m must be a scalar or have one value per neuron \(3\); got shape \(2,\)",
            model=lifsim.LIFParams(tau_m=[10.0, 12.0]), n_neurons=3)
    refused(r"stimulus\[0\].amplitude must be a scalar or have one value per neuron \(2\)",
            stimuli=[lifsim.ConstantCurrent([1.0, 2.0, 3.0])], n_neurons=2)
    refused(r"stimulus\[0\].weights must have shape \(3,\) or \(2, 3\)",
            stimuli=[lifsim.PoissonSynapses(3, 10.0, weights=np.ones(4))], n_neurons=2)


def test_poisson_probability_and_synapse_count():
    refused(r"rate_hz \(1000 Hz at dt = 1 ms\): rate·dt·1e-3 must be < 1",
            stimuli=[lifsim.PoissonSynapses(25, 1000.0)])
    refused(r"stimulus\[0\].synapses must be a whole number >= 0", stimuli=[lifsim.PoissonSynapses(-1, 20.0)])
    refused(r"stimulus\[0\].rate_hz must be >= 0 Hz", stimuli=[lifsim.PoissonSynapses(2, -5.0)])
    with pytest.warns(lifsim.PoissonApproximationWarning, match="no longer approximates a Poisson process"):
        lifsim.simulate(stimuli=[lifsim.PoissonSynapses(2, 150.0)], duration_ms=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lifsim.simulate(stimuli=[lifsim.PoissonSynapses(2, 100.0)], duration_ms=10)  # exactly 0.1: no warning


def test_recording_spec():
    with pytest.raises(ParameterError, match="record.variables must be among u, i_syn, i_in"):
        lifsim.Record(("v",))
    with pytest.raises(ParameterError, match="record.every must be a whole number >= 1"):
        lifsim.Record(every=0)
    refused(r"record.neurons must be in \[0, 1\]", n_neurons=2, record=lifsim.Record(neurons=[5]))


def test_a_run_that_does_not_fit_in_memory_is_refused_with_the_estimate():
    with pytest.raises(ParameterError, match=r"memory: the run needs an estimated [0-9.]+ GiB \(.*traces"):
        lifsim.simulate(n_neurons=1000, duration_ms=1000, dt_ms=0.1, memory_limit=10**7)


def test_refusal_happens_before_input_is_drawn(monkeypatch):
    from lifsim import stimuli

    def fail(*args, **kwargs):
        raise AssertionError("input generation started")

    monkeypatch.setattr(stimuli.InputGenerator, "__post_init__", fail)
    refused("memory", n_neurons=1000, duration_ms=1000, dt_ms=0.1, memory_limit=10**6)


def test_malformed_pulses_are_refused_by_name():
    refused(r"stimulus\[0\].pulses\[0\] must be \(start_ms, stop_ms, amplitude_mA\)",
            stimuli=[lifsim.SquarePulses(((1.0, 2.0),))])
