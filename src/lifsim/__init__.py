"""lifsim: leaky integrate-and-fire neurons and networks, exact, fast and reproducible.

Units everywhere: time ms, potential mV, current mA, resistance Ω, rate Hz, charge mA·ms.
"""

from .distributions import Normal, Uniform
from .errors import NonFiniteError, ParameterError, PoissonApproximationWarning
from .io.experiment_file import Experiment
from .io.experiment_file import load as load_experiment
from .io.neo_io import load_nix, save_nix
from .io.stream import StreamError
from .network.population import Population
from .network.projection import CONNECTION_RULES, Projection
from .neuron.params import LIFParams
from .neuron.rule import METHODS, Coefficients, coefficients, refractory_steps, synapse_step
from .neuron.state import LIFState
from .recording import Record
from .result import Result
from .simulation.config import DEFAULT_SEED, RunConfig
from .simulation.simulate import simulate
from .stimuli import (
    ConstantCurrent, NoiseCurrent, PoissonInput, PoissonSynapses, RecordedCurrent, SpikeTimes, SquarePulses,
)
from .synapses.receptor import Receptor

__version__ = "0.2.0"

__all__ = [
    "CONNECTION_RULES",
    "Coefficients",
    "ConstantCurrent",
    "DEFAULT_SEED",
    "Experiment",
    "LIFParams",
    "LIFState",
    "METHODS",
    "NoiseCurrent",
    "NonFiniteError",
    "Normal",
    "ParameterError",
    "PoissonApproximationWarning",
    "PoissonInput",
    "PoissonSynapses",
    "Population",
    "Projection",
    "Receptor",
    "Record",
    "RecordedCurrent",
    "Result",
    "RunConfig",
    "SpikeTimes",
    "SquarePulses",
    "StreamError",
    "Uniform",
    "coefficients",
    "load_experiment",
    "load_nix",
    "refractory_steps",
    "save_nix",
    "simulate",
    "synapse_step",
]
