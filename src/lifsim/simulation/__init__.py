"""Running a simulation: its configuration, its plan, and the loop that drives an engine."""
