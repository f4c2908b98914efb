"""Synapse types (receptors) and their per-run constants."""
