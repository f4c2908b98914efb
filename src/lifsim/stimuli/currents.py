"""External currents (mA): constant, square pulses, Gaussian white noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, require_finite, require_range
from .base import (
    CurrentDrive, StimulusDefaults, Target, active_rows, check_window, generator_memory, per_neuron, window_steps,
)


@dataclass(frozen=True)
class ConstantCurrent(StimulusDefaults):
    """A constant current, mA, scalar or one value per neuron, active for ``start < t < stop`` (ms).

    ``population``: the population it drives (None: every neuron of the run).
    """

    amplitude: float | tuple = 0.0
    start_ms: float = -math.inf
    stop_ms: float = math.inf
    population: str | None = None

    kind = "constant"
    sends = "current"

    def validate(self, target: Target) -> None:
        per_neuron(f"{target.name}.amplitude", self.amplitude, target.n_neurons)
        check_window(target.name, self.start_ms, self.stop_ms)

    def drive(self, target: Target, rng) -> CurrentDrive:
        amplitude = per_neuron(f"{target.name}.amplitude", self.amplitude, target.n_neurons)
        window = window_steps(self.start_ms, self.stop_ms, target.dt_ms)

        def current(k0, k1):
            lo, hi = active_rows(k0, k1, window)
            if lo == hi:
                return None
            if (lo, hi) == (0, k1 - k0):
                return amplitude[None, :]
            mask = np.zeros((k1 - k0, 1))
            mask[lo:hi] = 1.0
            return mask * amplitude[None, :]

        return CurrentDrive(current)

    def varies(self) -> bool:
        """Whether the current changes during the run (a window switches it on or off)."""
        return math.isfinite(self.start_ms) or math.isfinite(self.stop_ms)

    def per_neuron_size(self) -> int | None:
        return np.size(self.amplitude) if np.ndim(self.amplitude) else None

    def elements_per_step(self) -> float:
        return 0.0


@dataclass(frozen=True)
class SquarePulses(StimulusDefaults):
    """Square current pulses: each ``(start_ms, stop_ms, amplitude_mA)``, on for ``start < t < stop``.

    Overlapping pulses add. An amplitude may be a scalar or one value per neuron.
    ``population``: the population it drives (None: every neuron of the run).
    """

    pulses: tuple = ()
    population: str | None = None

    kind = "square"
    sends = "current"

    def validate(self, target: Target) -> None:
        if not isinstance(self.pulses, (list, tuple)):
            raise ParameterError(f"{target.name}.pulses must be a list of (start_ms, stop_ms, amplitude_mA) "
                                 f"(got {self.pulses!r:.80})")
        for i, pulse in enumerate(self.pulses):
            if not isinstance(pulse, (list, tuple)) or len(pulse) != 3:
                raise ParameterError(f"{target.name}.pulses[{i}] must be (start_ms, stop_ms, amplitude_mA) "
                                     f"(got {pulse!r:.80})")
            start, stop, amplitude = pulse
            check_window(f"{target.name}.pulses[{i}]", start, stop)
            per_neuron(f"{target.name}.pulses[{i}] amplitude", amplitude, target.n_neurons)

    def drive(self, target: Target, rng) -> CurrentDrive:
        windows = [window_steps(float(start), float(stop), target.dt_ms) for start, stop, _ in self.pulses]
        amplitudes = [per_neuron(f"{target.name}.amplitude", a, target.n_neurons) for *_, a in self.pulses]

        def current(k0, k1):
            total = None
            for window, amplitude in zip(windows, amplitudes):
                lo, hi = active_rows(k0, k1, window)
                if lo == hi:
                    continue
                if total is None:
                    total = np.zeros((k1 - k0, target.n_neurons if amplitude.size > 1 else 1))
                elif amplitude.size > total.shape[1]:
                    total = np.repeat(total, amplitude.size, axis=1)
                total[lo:hi] += amplitude[None, :]
            return total

        return CurrentDrive(current)

    def varies(self) -> bool:
        return bool(self.pulses)

    def per_neuron_size(self) -> int | None:
        pulses = self.pulses if isinstance(self.pulses, (list, tuple)) else ()  # refused by validate
        sizes = {np.size(p[2]) for p in pulses if isinstance(p, (list, tuple)) and len(p) == 3 and np.ndim(p[2])}
        return _one_size(sizes)

    def elements_per_step(self) -> float:
        return 1.0

    def windows_ms(self) -> list[tuple[float, float]]:
        return [(p[0], p[1]) for p in self.pulses]


def _one_size(sizes: set) -> int | None:
    if len(sizes) > 1:
        raise ParameterError(f"per-neuron stimulus values must all have the same length (got {sorted(sizes)})")
    return sizes.pop() if sizes else None


@dataclass(frozen=True)
class NoiseCurrent(StimulusDefaults):
    """Gaussian white-noise current: at every step in ``start < t < stop`` (ms) each neuron
    draws a fresh current from N(mean, sd) mA; 0 elsewhere.

    ``population``: the population it drives (None: every neuron of the run).
    """

    mean: float = 0.0
    sd: float = 1.0
    start_ms: float = -math.inf
    stop_ms: float = math.inf
    population: str | None = None

    kind = "noise"
    sends = "current"

    def validate(self, target: Target) -> None:
        per_neuron(f"{target.name}.mean", self.mean, target.n_neurons)
        per_neuron(f"{target.name}.sd", self.sd, target.n_neurons)
        require_range(f"{target.name}.sd", self.sd, low=0.0, unit="mA")
        check_window(target.name, self.start_ms, self.stop_ms)

    def drive(self, target: Target, rng) -> CurrentDrive:
        window = window_steps(self.start_ms, self.stop_ms, target.dt_ms)

        def current(k0, k1):
            lo, hi = active_rows(k0, k1, window)
            if lo == hi:
                return None
            values = np.zeros((k1 - k0, target.n_neurons))
            values[lo:hi] = rng.normal(self.mean, self.sd, size=(hi - lo, target.n_neurons))
            return values

        return CurrentDrive(current, generator_memory(rng))

    def varies(self) -> bool:
        return True

    def elements_per_step(self) -> float:
        return 1.0


@dataclass(frozen=True)
class RecordedCurrent(StimulusDefaults):
    """A current given sample by sample (mA), as recorded with a neuron or made by hand:
    sample ``k`` is the current during step ``k`` (from ``t = k·dt``), the same for every
    neuron it drives; after the last sample the current is 0.

    ``sample_dt_ms`` is the samples' interval, ms: it must equal the run's step ``dt``
    (a recording is simulated at its own sampling interval).
    ``population``: the population it drives (None: every neuron of the run).
    """

    samples: tuple | np.ndarray = ()
    sample_dt_ms: float = 0.1
    population: str | None = None

    kind = "recorded"
    sends = "current"

    def __post_init__(self):
        values = np.atleast_1d(np.asarray(self.samples, dtype=float)) if _all_numbers(self.samples) else self.samples
        if isinstance(values, np.ndarray):
            values = values.copy()
            values.setflags(write=False)
        object.__setattr__(self, "samples", values)

    def validate(self, target: Target) -> None:
        if not isinstance(self.samples, np.ndarray) or self.samples.ndim != 1 or self.samples.size == 0:
            raise ParameterError(f"{target.name}.samples must be a non-empty list of currents, mA "
                                 f"(got {self.samples!r:.80})")
        require_finite(f"{target.name}.samples", self.samples)
        require_range(f"{target.name}.sample_dt_ms", self.sample_dt_ms, low=0.0, low_open=True, unit="ms")
        if not math.isclose(float(self.sample_dt_ms), target.dt_ms, rel_tol=1e-9):
            raise ParameterError(f"{target.name}.sample_dt_ms must equal the run's dt ({target.dt_ms:g} ms; "
                                 f"got {float(self.sample_dt_ms):g} ms): run the recording at its own interval")

    def drive(self, target: Target, rng) -> CurrentDrive:
        samples = self.samples

        def current(k0, k1):
            if k0 >= samples.size:
                return None
            values = np.zeros((k1 - k0, 1))
            part = samples[k0:k1]
            values[:part.size, 0] = part
            return values

        return CurrentDrive(current)

    def varies(self) -> bool:
        return True

    def elements_per_step(self) -> float:
        return 1.0

    def setup_bytes(self, n_neurons: int) -> int:
        return int(np.size(self.samples)) * 8

    def windows_ms(self) -> list[tuple[float, float]]:
        return [(0.0, np.size(self.samples) * float(self.sample_dt_ms))]


def _all_numbers(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "iuf" and not isinstance(value, (str, bytes))
    except (TypeError, ValueError):
        return False
