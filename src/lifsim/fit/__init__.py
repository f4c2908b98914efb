"""Fitting a LIF neuron to a recording: loading recordings (`lifsim.fit.data`), the scores that
compare a model with them (`lifsim.fit.metrics`), differentiable runs (`lifsim.fit.gradients`).
"""
