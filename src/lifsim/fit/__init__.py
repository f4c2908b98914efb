"""Fitting a LIF neuron to a recording: loading recordings (`lifsim.fit.data`) and the
scores that compare a model's output to them (`lifsim.fit.metrics`)."""
