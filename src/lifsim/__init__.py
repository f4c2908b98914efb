"""lifsim: leaky integrate-and-fire neurons, exact, fast and reproducible.

Units everywhere: time ms, potential mV, current mA, resistance Ω, rate Hz, charge mA·ms.
"""

from .errors import ParameterError, PoissonApproximationWarning
from .inputs import ConstantCurrent, NoiseCurrent, PoissonSynapses, SpikeTimes, SquarePulses
from .model import METHODS, Coefficients, coefficients, refractory_steps, synapse_step
from .params import LIFParams
from .recording import Record
from .result import Result
from .run import DEFAULT_SEED, RunConfig, simulate
from .state import LIFState

__version__ = "0.1.0"

__all__ = [
    "Coefficients",
    "ConstantCurrent",
    "DEFAULT_SEED",
    "LIFParams",
    "LIFState",
    "METHODS",
    "NoiseCurrent",
    "ParameterError",
    "PoissonApproximationWarning",
    "PoissonSynapses",
    "Record",
    "Result",
    "RunConfig",
    "SpikeTimes",
    "SquarePulses",
    "coefficients",
    "refractory_steps",
    "simulate",
    "synapse_step",
]
