"""Running a batch of a sweep's point × trial *members*, and the metrics of each.

Independent-neuron members run together as one vectorised population: their model
values laid end to end, constant currents joined into one per-neuron current, and every
other stimulus stacked (`lifsim.stimuli.stacked.Stacked`), each member drawing from its
own seed. Neurons without projections do not interact, so a member's spikes do not
depend on which batch it runs in. A network member runs on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np
from numba import njit

from ..analysis import coefficient_of_variation, predicted_rate
from ..errors import ParameterError
from ..io.experiment_file import NUMBER, STIMULUS_FIELD_KINDS, VALUES, from_data, parse
from ..neuron.params import LIFParams
from ..recording import Record
from ..simulation.config import RunConfig
from ..simulation.simulate import simulate
from ..stimuli.currents import ConstantCurrent
from ..stimuli.stacked import Stacked
from .grid import Grid, apply, run_seed, run_seeds

#: Metrics of every run, and those a network adds per population (``rate_hz.E``, ...).
METRICS = ("spikes", "rate_hz", "cv_isi", "latency_ms", "synchrony", "predicted_rate_hz")
UNITS = {"spikes": "", "rate_hz": "Hz", "cv_isi": "", "latency_ms": "ms", "synchrony": "", "predicted_rate_hz": "Hz"}
#: Stimulus keys a sweep may set without building each point's run: those that hold one
#: number ("number": taken as given, "values": a number or per-neuron values, as a float).
NUMBER_FIELDS = {name: "values" if kind == VALUES else "number"
                 for name, kind in STIMULUS_FIELD_KINDS.items() if kind in (NUMBER, VALUES)}
#: Bin of the spike counts of a network's synchrony (`synchrony`), ms.
SYNCHRONY_BIN_MS = 1.0


@dataclass(frozen=True)
class SweepSpec:
    """All a worker needs to run members, whatever machine it is on: the experiment's TOML
    text (never a path), the grid, the top-level overrides, and the engine threads."""

    text: str
    source: str
    grid: Grid
    overrides: tuple = ()  # ((key, value), ...) applied to every point
    threads: int | None = None

    def data(self) -> dict:
        return parse(self.text, self.source)

    def config(self, data: dict, point: int, trial: int) -> RunConfig:
        """The run of trial ``trial`` of point ``point``, recording spikes only."""
        seed = run_seed(self.grid.seed, point, trial)
        experiment = from_data(apply(data, self.grid.settings(point)), self.source, seed=seed,
                               **dict(self.overrides))
        config = experiment.config
        return config.replace(record=Record(variables=(), neurons="none"),
                              threads=self.threads if self.threads is not None else config.threads)


def is_network(config: RunConfig) -> bool:
    return bool(config.populations)


class Members(NamedTuple):
    """Point × trial pairs, as two arrays of indices."""

    points: np.ndarray
    trials: np.ndarray

    def pairs(self):
        return zip(self.points.tolist(), self.trials.tolist())


def run_members(spec: SweepSpec, members: Members) -> dict:
    """Run ``members`` and return their rows as columns (the point, trial and seed, then the metrics)."""
    data = spec.data()
    fast = FastPoints.make(spec, data)
    if fast is not None:
        columns = {"point": members.points, "trial": members.trials, "seed": fast.seeds(members)}
        return {**columns, **stacked_metrics(fast.stack(members), np.full(members.points.size, fast.n_neurons))}
    configs = [spec.config(data, p, t) for p, t in members.pairs()]
    rows = []
    for group in _groups(configs):
        if is_network(configs[group[0]]):
            rows.extend((i, network_metrics(simulate(configs[i]))) for i in group)
        else:
            found = stacked_metrics(stack([configs[i] for i in group]), [configs[i].n_neurons for i in group])
            rows.extend((i, {k: v[j] for k, v in found.items()}) for j, i in enumerate(group))
    rows.sort(key=lambda r: r[0])
    columns = {"point": members.points, "trial": members.trials, "seed": np.array([c.seed for c in configs])}
    for _, metrics in rows:
        for key, value in metrics.items():
            columns.setdefault(key, []).append(value)
    return columns


def _groups(configs: list) -> list:
    """Indices of the members that can share one run: same shape of run, in order."""
    groups: dict = {}
    for i, c in enumerate(configs):
        key = ("network", i) if is_network(c) else _run_shape(c)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _run_shape(c: RunConfig) -> tuple:
    return (c.dt_ms, c.duration_ms, c.method, c.engine, c.precision, c.threads,
            tuple(type(s) for s in c.stimuli), tuple(getattr(s, "receptor", None) for s in c.stimuli))


def stack(configs: list) -> RunConfig:
    """One run of independent-neuron members side by side (see the module's description)."""
    first = configs[0]
    sizes = [c.n_neurons for c in configs]
    stimuli = []
    for i, stimulus in enumerate(first.stimuli):
        members = [c.stimuli[i] for c in configs]
        if isinstance(stimulus, ConstantCurrent) and len({(s.start_ms, s.stop_ms) for s in members}) == 1:
            stimuli.append(replace(stimulus, amplitude=np.concatenate(
                [np.broadcast_to(np.asarray(s.amplitude, float), (n,)) for s, n in zip(members, sizes)])))
        else:
            stimuli.append(Stacked(tuple(members), tuple(sizes), tuple(c.seed for c in configs), i))
    return first.replace(model=_joined_model([c.model for c in configs], sizes), n_neurons=sum(sizes),
                         stimuli=tuple(stimuli), name="sweep-batch")


def _joined_model(models: list, sizes: list) -> LIFParams:
    """The members' models end to end: a field equal in every member stays a scalar (as in
    each member's own run), any other becomes one value per neuron."""
    values = {}
    for f in fields(LIFParams):
        if f.name == "u_reset" and all(m.u_reset is None for m in models):
            continue
        parts = [m.reset if f.name == "u_reset" else getattr(m, f.name) for m in models]
        if all(np.ndim(p) == 0 for p in parts):
            scalars = np.asarray(parts, float)
            values[f.name] = float(scalars[0]) if np.all(scalars == scalars[0]) else np.repeat(scalars, sizes)
        else:
            values[f.name] = np.concatenate([np.broadcast_to(np.asarray(p, float), (n,)) for p, n in zip(parts, sizes)])
    return LIFParams(**values)


@dataclass(frozen=True)
class FastPoints:
    """Points that differ from the experiment only in numbers of its model and stimuli, with
    no value drawn from the seed: their batches are built from one template run, as arrays
    (model values, constant-current amplitudes) and copies of its stimuli with the point's
    numbers, without building each point's run (the same run `stack` makes)."""

    spec: SweepSpec
    template: RunConfig
    model_keys: dict  # LIFParams field -> axis index
    amplitude_keys: dict  # stimulus index -> axis index (constant currents)
    stimulus_keys: dict  # stimulus index -> {field: axis index} (any other stimulus)

    @property
    def n_neurons(self) -> int:
        return self.template.n_neurons

    @classmethod
    def make(cls, spec: SweepSpec, data: dict):
        template = spec.config(data, 0, 0)
        if is_network(template) or _draws_values(data):
            return None
        model_keys, amplitude_keys, stimulus_keys = {}, {}, {}
        for index, axis in enumerate(spec.grid.axes):
            if not all(isinstance(v, (int, float)) for v in axis.values):
                return None
            for key, _ in axis.keys:
                parts = key.split(".")
                if len(parts) == 2 and parts[0] == "model":
                    model_keys[parts[1]] = index
                elif len(parts) != 3 or parts[0] != "stimulus" or parts[2] not in NUMBER_FIELDS:
                    return None
                elif isinstance(template.stimuli[int(parts[1])], ConstantCurrent):
                    if parts[2] != "amplitude":
                        return None
                    amplitude_keys[int(parts[1])] = index
                elif parts[2] in {f.name for f in fields(template.stimuli[int(parts[1])])}:
                    stimulus_keys.setdefault(int(parts[1]), {})[parts[2]] = index
                else:
                    return None
        return cls(spec, template, model_keys, amplitude_keys, stimulus_keys)

    def _stimuli_of(self, i: int, members: Members) -> tuple:
        """Stimulus ``i`` of each member: the template's with the point's numbers (one copy
        per point, shared by its trials)."""
        stimulus, swept = self.template.stimuli[i], self.stimulus_keys.get(i)
        if not swept:
            return (stimulus,) * members.points.size
        points, where = np.unique(members.points, return_inverse=True)
        index = np.unravel_index(points, self.spec.grid.shape)
        copies = []
        for j in range(points.size):
            changes = {}
            for name, axis_index in swept.items():
                axis = self.spec.grid.axes[axis_index]
                value = axis.settings(axis.values[index[axis_index][j]])[f"stimulus.{i}.{name}"]
                changes[name] = float(value) if NUMBER_FIELDS[name] == "values" else value
            copies.append(replace(stimulus, **changes))
        return tuple(copies[w] for w in where.reshape(-1).tolist())

    def seeds(self, members: Members) -> np.ndarray:
        return run_seeds(self.spec.grid.seed, members.points, members.trials)

    def _axis_values(self, members: Members, axis_index: int, key: str) -> np.ndarray:
        """Each member's value of a key set by an axis (the axis value times its factor)."""
        axis = self.spec.grid.axes[axis_index]
        factor = dict(axis.keys)[key]
        where = np.unravel_index(members.points, self.spec.grid.shape)[axis_index]
        return np.asarray(axis.values, float)[where] * factor

    def _per_neuron(self, members: Members, template_value, axis_index, key):
        """A field's values in the batch: the template's where no axis sets it (a scalar
        stays one), else each member's value for each of its neurons."""
        n = self.n_neurons
        if axis_index is None:
            if np.ndim(template_value) == 0:
                return template_value
            return np.tile(np.asarray(template_value, float), members.points.size)
        return np.repeat(self._axis_values(members, axis_index, key), n)

    def stack(self, members: Members) -> RunConfig:
        template, n = self.template, self.n_neurons
        values = {}
        for f in fields(LIFParams):
            if f.name == "u_reset" and template.model.u_reset is None and "u_reset" not in self.model_keys:
                continue
            value = template.model.reset if f.name == "u_reset" else getattr(template.model, f.name)
            values[f.name] = self._per_neuron(members, value, self.model_keys.get(f.name), f"model.{f.name}")
        seeds, count = tuple(self.seeds(members).tolist()), members.points.size
        stimuli = []
        for i, stimulus in enumerate(template.stimuli):
            if isinstance(stimulus, ConstantCurrent):
                amplitude = self._per_neuron(members, stimulus.amplitude, self.amplitude_keys.get(i),
                                             f"stimulus.{i}.amplitude")
                stimuli.append(replace(stimulus, amplitude=amplitude))
            else:
                stimuli.append(Stacked(self._stimuli_of(i, members), (n,) * count, seeds, i))
        return template.replace(model=LIFParams(**values), n_neurons=n * count, stimuli=tuple(stimuli),
                                name="sweep-batch")


def _draws_values(data: dict) -> bool:
    """Whether the experiment draws values from its seed ({uniform = ...}, {normal = ...})."""
    if isinstance(data, dict):
        if len(data) == 1 and next(iter(data)) in ("uniform", "normal"):
            return True
        return any(_draws_values(v) for v in data.values())
    if isinstance(data, list):
        return any(_draws_values(v) for v in data)
    return False


def stacked_metrics(config: RunConfig, sizes: list) -> dict:
    """Run the members (laid end to end, ``sizes`` neurons each) as one population; the
    metrics of each, as columns (arrays), computed for all members at once: spikes, the mean
    rate per neuron (Hz), the mean ISI CV over its neurons with two intervals or more (NaN
    if none), the first spike (ms; NaN if none), the closed-form rate where it applies
    (NaN elsewhere), and no synchrony (NaN: a network's measure)."""
    result = simulate(config)
    sizes = np.asarray(sizes, np.int64)
    member = np.repeat(np.arange(sizes.size), sizes)  # of each neuron
    cv, first = _per_neuron_cv_and_first(result.spike_times_ms, result.spike_neurons, config.n_neurons)
    count = np.bincount(member[result.spike_neurons], minlength=sizes.size)
    has_cv = np.isfinite(cv)
    cv_count = np.bincount(member, weights=has_cv, minlength=sizes.size)
    cv_sum = np.bincount(member, weights=np.where(has_cv, cv, 0.0), minlength=sizes.size)
    earliest = np.minimum.reduceat(first, np.concatenate(([0], np.cumsum(sizes)[:-1])))
    closed = _closed_form(config)
    nothing = np.full(sizes.size, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"spikes": count, "rate_hz": count / (sizes * config.duration_ms * 1e-3),
                "cv_isi": np.where(cv_count > 0, cv_sum / cv_count, np.nan),
                "latency_ms": np.where(np.isfinite(earliest), earliest, np.nan), "synchrony": nothing,
                "predicted_rate_hz": nothing if closed is None else
                np.bincount(member, weights=closed, minlength=sizes.size) / sizes}


def _per_neuron_cv_and_first(times_ms, neurons, n_neurons: int):
    """Per neuron: the CV of its inter-spike intervals (as `lifsim.analysis.coefficient_of_variation`:
    std/mean over the intervals, ddof 0, NaN with fewer than two intervals) and its first
    spike (ms; inf if none), in two passes over the spikes (sorted by time)."""
    count, mean, spread, first = _interval_passes(np.asarray(times_ms, np.float64), np.asarray(neurons, np.int64),
                                                  n_neurons)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 2, np.sqrt(spread / count) / mean, np.nan), first


@njit(cache=True)
def _interval_passes(times, neurons, n):
    """Per neuron: interval count, mean interval, sum of squared deviations, first spike."""
    last = np.full(n, np.nan)
    first = np.full(n, np.inf)
    count = np.zeros(n, np.int64)
    total = np.zeros(n)
    for s in range(times.shape[0]):
        i = neurons[s]
        if np.isnan(last[i]):
            first[i] = times[s]
        else:
            count[i] += 1
            total[i] += times[s] - last[i]
        last[i] = times[s]
    mean = total / np.maximum(count, 1)
    spread = np.zeros(n)
    last[:] = np.nan
    for s in range(times.shape[0]):
        i = neurons[s]
        if not np.isnan(last[i]):
            deviation = times[s] - last[i] - mean[i]
            spread[i] += deviation * deviation
        last[i] = times[s]
    return count, mean, spread, first


def _closed_form(config: RunConfig):
    """The closed-form rate of each neuron (`lifsim.analysis.predicted_rate`) when its only
    input is one constant current that is always on; None for any other run."""
    if config.populations or len(config.stimuli) != 1:
        return None
    stimulus = config.stimuli[0]
    if not isinstance(stimulus, ConstantCurrent) or stimulus.varies():
        return None
    current = np.broadcast_to(np.asarray(stimulus.amplitude, float), (config.n_neurons,))
    return predicted_rate(current, config.model, config.method)


def network_metrics(result) -> dict:
    """A network run's metrics: spikes, mean rate per neuron (Hz), mean ISI CV, the first
    spike (ms) and the synchrony (`synchrony`), then rate and CV per population (``rate_hz.E``)."""
    config = result.config
    times = result.spike_times_ms
    cv = coefficient_of_variation(times, result.spike_neurons, config.n_neurons)
    cv = cv[np.isfinite(cv)]
    out = {"spikes": int(times.size), "rate_hz": times.size / (config.n_neurons * config.duration_ms * 1e-3),
           "cv_isi": float(cv.mean()) if cv.size else math.nan,
           "latency_ms": float(times.min()) if times.size else math.nan,
           "synchrony": synchrony(times, result.spike_neurons, config.n_neurons, config.duration_ms),
           "predicted_rate_hz": math.nan}
    for population in result.population_statistics():
        out[f"rate_hz.{population['name']}"] = population["mean_rate_hz"]
        out[f"cv_isi.{population['name']}"] = math.nan if population["cv_isi"] is None else population["cv_isi"]
    return out


def synchrony(times_ms, neurons, n_neurons: int, duration_ms: float) -> float:
    """Golomb's synchrony measure chi on spike counts in bins of SYNCHRONY_BIN_MS:
    ``sqrt(var(population mean count) / mean over neurons of var(own count))``, about
    1/sqrt(N) for independent neurons and 1 when all fire together (NaN without spikes)."""
    bins = int(duration_ms // SYNCHRONY_BIN_MS)
    if times_ms.size == 0 or bins < 2:
        return math.nan
    which = np.minimum((np.asarray(times_ms) // SYNCHRONY_BIN_MS).astype(np.int64), bins - 1)
    population = np.bincount(which, minlength=bins) / n_neurons
    # each neuron's count variance, from its counts in the bins where it fired (the rest are 0)
    per_cell = np.bincount(np.asarray(neurons, np.int64) * bins + which)
    cell = np.flatnonzero(per_cell)
    count = per_cell[cell].astype(float)
    owner = cell // bins
    mean = np.bincount(owner, weights=count, minlength=n_neurons) / bins
    square = np.bincount(owner, weights=count ** 2, minlength=n_neurons) / bins
    single = np.mean(square - mean ** 2)
    return float(np.sqrt(population.var() / single)) if single > 0 else math.nan


#: Points whose runs are checked together, as arrays, when they are built as arrays.
CHECK_BLOCK = 1 << 20


def check_spec(spec: SweepSpec) -> RunConfig:
    """Refuse a bad key or value before any run; returns the first point's run.

    Points built as arrays (`FastPoints`) are checked all together, as the arrays of their
    runs; otherwise every axis value is built once, the other axes at their first value."""
    data = spec.data()
    grid = spec.grid
    first = spec.config(data, 0, 0)
    fast = FastPoints.make(spec, data)
    if fast is not None:
        try:
            for lo in range(0, grid.n_points, CHECK_BLOCK):
                points = np.arange(lo, min(grid.n_points, lo + CHECK_BLOCK))
                fast.stack(Members(points, np.zeros_like(points)))
            return first
        except ParameterError as error:
            refused = error  # find the axis value, one by one, to name it
    else:
        refused = None
    _check_axis_values(spec, data)
    if refused is not None:  # no single value: a combination of them
        raise ParameterError(f"grid: a combination of the axes' values: {spec.source}: {refused}")
    return first


def _check_axis_values(spec: SweepSpec, data: dict) -> None:
    grid = spec.grid
    strides = np.cumprod((1,) + grid.shape[::-1])[::-1][1:] if grid.axes else ()
    for axis, stride in zip(grid.axes, strides):
        for i in range(1, len(axis.values)):
            try:
                spec.config(data, int(i * stride), 0)
            except ParameterError as error:
                raise ParameterError(f"grid {axis.name} = {axis.values[i]!r}: {error}") from None
