"""Shared fixtures: the article's parameters and small helpers."""

import numpy as np
import pytest

import lifsim

ARTICLE = lifsim.LIFParams()


@pytest.fixture
def article_params():
    return ARTICLE


def euler_steps_to_threshold(current_mA, params=ARTICLE, dt_ms=1.0, u0=0.0, dtype=np.float32):
    """Integrating steps from u0 until u > u_thresh, iterating the Euler map by hand."""
    u, n = dtype(u0), 0
    k = dtype(dt_ms / params.tau_m)
    while not u > params.u_thresh:
        u = dtype(u + k * (dtype(params.R * current_mA) - u))
        n += 1
        assert n < 100_000, "never reaches threshold"
    return n
