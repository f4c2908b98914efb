"""The outcome of a run: sparse spikes, recorded traces, and what produced them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import analysis
from .neuron.params import UNITS


@dataclass(frozen=True)
class Result:
    """What `lifsim.simulate` returns.

    Attributes:
        config: the run's `lifsim.RunConfig` (model, stimuli, dt, seed, ...).
        t_ms: time of each recorded sample, ms, shape (samples,).
        traces: variable name -> array (samples, recorded neurons); ``u`` in mV,
            ``i_syn`` and ``i_in`` in mA.
        recorded_neurons: indices of the neurons in the traces' columns.
        spike_times_ms: output spike times, ms, sorted by time then neuron.
        spike_neurons: the neuron of each output spike.
        input_spikes: when recorded, ``times_ms`` (ms), ``neuron``, ``synapse`` (index within
            the neuron) and ``source`` (index of the stimulus) arrays of the input spikes,
            sorted by time, then source, neuron and synapse; else None.
        weights: efficacies (dimensionless) of each Poisson stimulus, arrays (N, m).
        timings: seconds spent: ``wall_s`` (engine loop), ``input_s`` (input generation),
            ``setup_s`` (engine start, compilation), ``total_s`` (the whole call).
        final_state: the `lifsim.LIFState` after the last step.
        synapses: synapses of the network's projections (0 without any).
        synaptic_events: spikes delivered along them: each output spike times its
            neuron's out-degree.
        connectivity_bytes: memory the projections' synapses took, bytes.
    """

    config: object
    t_ms: np.ndarray
    traces: dict
    recorded_neurons: np.ndarray
    spike_times_ms: np.ndarray
    spike_neurons: np.ndarray
    input_spikes: dict | None = None
    weights: tuple = ()
    timings: dict = field(default_factory=dict)
    final_state: object = None
    synapses: int = 0
    synaptic_events: int = 0
    connectivity_bytes: int = 0

    @property
    def n_neurons(self) -> int:
        return self.config.n_neurons

    def spikes_of(self, neuron: int) -> np.ndarray:
        """Spike times of one neuron, ms."""
        return self.spike_times_ms[self.spike_neurons == neuron]

    # ------------------------------------------------------------ analysis (lifsim.analysis)

    def spike_counts(self, start_ms: float = 0.0, stop_ms: float | None = None) -> np.ndarray:
        """Spikes per neuron with ``start <= t <= stop`` (ms; default: the whole run)."""
        return analysis.spike_counts(self.spike_times_ms, self.spike_neurons, self.n_neurons, start_ms,
                                     self._stop(stop_ms))

    def firing_rates(self, start_ms: float = 0.0, stop_ms: float | None = None) -> np.ndarray:
        """Mean firing rate per neuron over ``[start, stop]``, Hz (default: the whole run)."""
        return analysis.firing_rates(self.spike_times_ms, self.spike_neurons, self.n_neurons, start_ms,
                                     self._stop(stop_ms))

    def isi(self) -> tuple[np.ndarray, np.ndarray]:
        """Inter-spike intervals (ms) and the neuron of each, grouped by neuron."""
        return analysis.interspike_intervals(self.spike_times_ms, self.spike_neurons)

    def cv(self) -> np.ndarray:
        """Coefficient of variation of the inter-spike intervals per neuron (NaN: < 2 intervals)."""
        return analysis.coefficient_of_variation(self.spike_times_ms, self.spike_neurons, self.n_neurons)

    def interval_rates(self) -> np.ndarray:
        """Steady-state rate per neuron from the mean inter-spike interval, Hz."""
        return analysis.interval_rates(self.spike_times_ms, self.spike_neurons, self.n_neurons)

    def psth(self, bin_ms: float, start_ms: float = 0.0, stop_ms: float | None = None):
        """Population rate histogram: bin edges (ms) and mean rate per neuron per bin (Hz)."""
        return analysis.psth(self.spike_times_ms, self.n_neurons, bin_ms, start_ms, self._stop(stop_ms))

    def raster(self, ax=None):
        """Draw the output spikes as a raster on ``ax`` (a new figure if None); returns the axes."""
        if ax is None:
            from .plotting import new_axes

            ax = new_axes()
        return analysis.raster(ax, self.spike_times_ms, self.spike_neurons)

    def to_neo(self, neurons=None):
        """This run as a ``neo.Block`` (see `lifsim.neo_io`)."""
        from .io.neo_io import to_neo

        return to_neo(self, neurons)

    def population_statistics(self) -> list[dict]:
        """Per population: its name, index range, mean rate (Hz) over the run, and the mean
        CV of the inter-spike intervals over its neurons with at least two intervals (None if none)."""
        rates, cvs = self.firing_rates(), self.cv()
        out = []
        for population, (lo, hi) in zip(self.config.layout.populations, self.config.layout.spans()):
            cv = cvs[lo:hi]
            cv = cv[np.isfinite(cv)]
            out.append({"name": population.name, "first": lo, "stop": hi, "size": hi - lo,
                        "mean_rate_hz": float(rates[lo:hi].mean()),
                        "cv_isi": float(cv.mean()) if cv.size else None,
                        "spikes": int(np.count_nonzero((self.spike_neurons >= lo) & (self.spike_neurons < hi)))})
        return out

    def _stop(self, stop_ms):
        return self.config.end_ms if stop_ms is None else stop_ms

    def summary(self) -> dict:
        """JSON-ready description: the configuration, the spikes and the input spikes."""
        out = self.config.describe()
        out["spikes"] = {"times_ms": _times(self.spike_times_ms), "neuron": self.spike_neurons.tolist()}
        if self.input_spikes is not None:
            out["input_spikes"] = {
                "times_ms": _times(self.input_spikes["times_ms"]),
                "neuron": self.input_spikes["neuron"].tolist(),
                "synapse": self.input_spikes["synapse"].tolist(),
                "source": self.input_spikes["source"].tolist(),
            }
        if self.weights:  # one Poisson stimulus: its (N, m) rows; several: a list of those
            out["weights"] = [w.tolist() for w in self.weights] if len(self.weights) > 1 else self.weights[0].tolist()
        out["population_statistics"] = self.population_statistics()
        if self.synapses:
            out["synapses"] = self.synapses
            out["synaptic_events"] = self.synaptic_events
        out["units"] = {**UNITS, "mean_rate_hz": "Hz", "times_ms": "ms", "dt_ms": "ms", "duration_ms": "ms", "weights": "1"}
        out["timings_s"] = {k: round(v, 6) for k, v in self.timings.items()}
        return out

    def arrays(self) -> dict:
        """Arrays for an ``.npz`` file: ``t_ms``, each trace, the spikes and recorded neurons."""
        out = {"t_ms": self.t_ms, "recorded_neurons": self.recorded_neurons,
               "spike_times_ms": self.spike_times_ms, "spike_neurons": self.spike_neurons}
        out.update(self.traces)
        if self.input_spikes is not None:
            out.update({f"input_spike_{k}": v for k, v in self.input_spikes.items()})
        return out


def _times(times_ms: np.ndarray) -> list:
    # k·dt in binary floating point (0.30000000000000004): report to 1e-9 ms.
    return np.round(times_ms, 9).tolist()
