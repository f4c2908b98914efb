"""Fitting a LIF neuron to a recording.

- `lifsim.fit.data`: recordings (CSV, NPZ, NIX) as `Recording` objects;
- `lifsim.fit.metrics`: the scores (voltage MSE, gamma coincidence factor, van Rossum);
- `lifsim.fit.search`: the global search over vectorised populations of candidates;
- `lifsim.fit.gradients`: differentiable runs through the TensorFlow engine (imported
  on its own: it loads TensorFlow);
- `lifsim.fit.refine`: gradient descent from the search's best;
- `fit`: both stages, the held-out score and the spread over restarts;
  `lifsim.fit.report.save` writes its files.
"""

from .data import Recording, load_recording, recording_from_arrays
from .fitting import FitResult, FitSettings, fit
from .metrics import METRICS, gamma_factor, van_rossum_distance, voltage_mse
from .options import GradientOptions, Target

__all__ = ["METRICS", "FitResult", "FitSettings", "GradientOptions", "Recording", "Target", "fit", "gamma_factor",
           "load_recording", "recording_from_arrays", "van_rossum_distance", "voltage_mse"]
