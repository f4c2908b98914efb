"""Stimuli: external currents and input spikes, each targeting a population.

Every stimulus follows `lifsim.stimuli.base.Stimulus`; `STIMULUS_KINDS` maps the
``kind`` names of experiment files to the classes.
"""

from .base import Stimulus, Target, steps_in, window_steps
from .currents import ConstantCurrent, NoiseCurrent, RecordedCurrent, SquarePulses
from .generator import InputChunk, InputGenerator, InputSpikes, Placement, SynapticEvents
from .poisson import PoissonInput, PoissonSynapses
from .spikes import SpikeTimes

STIMULUS_KINDS = {cls.kind: cls for cls in (ConstantCurrent, SquarePulses, NoiseCurrent, RecordedCurrent,
                                            PoissonSynapses, SpikeTimes, PoissonInput)}

__all__ = ["STIMULUS_KINDS", "ConstantCurrent", "InputChunk", "InputGenerator", "InputSpikes", "NoiseCurrent",
           "Placement", "PoissonInput", "PoissonSynapses", "RecordedCurrent", "SpikeTimes", "Stimulus",
           "SynapticEvents", "Target",
           "steps_in", "window_steps"]
