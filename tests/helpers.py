"""Assertions shared by the test modules."""

import numpy as np


def assert_same(reference, other, exact=True):
    """The same spikes, and traces bit for bit (or within 4 ulp); with ``exact``, the same
    final state too."""
    np.testing.assert_array_equal(other.spike_times_ms, reference.spike_times_ms)
    np.testing.assert_array_equal(other.spike_neurons, reference.spike_neurons)
    assert set(other.traces) == set(reference.traces)
    for name, trace in reference.traces.items():
        if exact:
            np.testing.assert_array_equal(other.traces[name], trace, err_msg=name)
        else:
            eps = 4 * np.finfo(trace.dtype).eps
            np.testing.assert_allclose(other.traces[name], trace, rtol=eps, atol=eps, err_msg=name)
    if exact:
        for name in ("u", "ref", "i_syn"):
            np.testing.assert_array_equal(getattr(other.final_state, name), getattr(reference.final_state, name),
                                          err_msg=f"final_state.{name}")
