"""The neuron: its parameters, its state between steps, and the one update rule."""
