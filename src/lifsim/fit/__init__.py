"""Fitting neurons to recordings: differentiable runs, metrics, search and refinement."""
