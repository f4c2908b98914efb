"""The configuration of a run: a complete, checked description, before any work."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np

from .. import engines
from ..distributions import is_distribution
from ..errors import ParameterError, require_choice, require_int, require_number, require_range
from ..network.population import Layout, Population
from ..network.projection import Projection
from ..neuron.params import LIFParams
from ..neuron.rule import METHOD_TABLE, METHODS, PRECISIONS, check_step, coefficients
from ..recording import Record
from ..stimuli import STIMULUS_KINDS, Placement, Target, steps_in
from ..stimuli.stacked import Stacked
from ..synapses.receptor import Receptor, receptor_coefficients
from .plan import available_cores

DEFAULT_SEED = 2018
"""The seed of a run that names none, so that two runs without one are identical."""
#: The population of a run that names none.
DEFAULT_POPULATION = "neurons"
#: Receptor slots times neurons must fit the int32 targets of the connectivity.
MAX_TARGETS = 2**31 - 1
#: Most neurons of a run: spikes name their neuron with an int32.
MAX_NEURONS = 2**31 - 1
#: Most steps of a run: step indices and times k·dt stay exact in int64 and float64.
MAX_STEPS = 2**53
#: A run's name becomes its files' names: a word, with dots and dashes, at most this long.
MAX_NAME = 100
NAME_PATTERN = re.compile(r"\w[\w.-]*")


@dataclass(frozen=True)
class RunConfig:
    """A complete, checked description of one run.

    A run simulates either one population (``model``, ``n_neurons``) or a network
    (``populations`` and ``projections``; then ``model`` is left out).

    Attributes:
        model: `LIFParams` of a single population (per-neuron values allowed).
        stimuli: stimulus descriptions from `lifsim.stimuli`.
        n_neurons: size of a single population; by default the length of per-neuron
            values, else 1. For a network, its total (set from the populations).
        duration_ms: simulated time T, ms; steps ``k = 0 .. ceil(T/dt) - 1``.
        dt_ms: time step, ms.
        method: ``"article"`` (forward Euler, the article's order) or ``"exact"``.
        engine: engine name (``lifsim.engines.ENGINES``).
        precision: ``"float32"`` or ``"float64"``.
        seed: seed of every random draw of the run.
        record: what to record (`Record`); neuron indices are global (populations end to end).
        threads: worker threads for engines that use them; None for all cores.
        name: a label carried into outputs.
        populations: `lifsim.Population` objects, laid end to end in this order.
        projections: `lifsim.Projection` objects between them.
    """

    model: LIFParams = field(default_factory=LIFParams)
    stimuli: tuple = ()
    n_neurons: int | None = None
    duration_ms: float = 200.0
    dt_ms: float = 1.0
    method: str = "article"
    engine: str = "numba"
    precision: str = "float32"
    seed: int = DEFAULT_SEED
    record: Record = field(default_factory=Record)
    threads: int | None = None
    name: str = "custom"
    populations: tuple = ()
    projections: tuple = ()

    def __post_init__(self):
        set_ = object.__setattr__
        for key in ("stimuli", "populations", "projections"):
            value = getattr(self, key)
            if not isinstance(value, (list, tuple)):
                raise ParameterError(f"{key} must be a list (got {value!r})")
            set_(self, key, tuple(value))
        for key, kind in (("model", LIFParams), ("record", Record)):
            if not isinstance(getattr(self, key), kind):
                raise ParameterError(f"{key} must be a {kind.__name__} (got {getattr(self, key)!r})")
        check_run_name(self.name)
        for key, label in (("dt_ms", "dt"), ("duration_ms", "duration")):
            set_(self, key, require_number(label, getattr(self, key)))
        require_range("dt", self.dt_ms, low=0.0, low_open=True, unit="ms")
        require_range("duration", self.duration_ms, low=self.dt_ms, unit="ms (at least one step dt)")
        with np.errstate(over="ignore"):
            ratio = self.duration_ms / self.dt_ms
        if not ratio <= MAX_STEPS:
            raise ParameterError(f"duration/dt must be at most {MAX_STEPS} steps (got {ratio:.3g}); "
                                 "shorten the run or lengthen dt")
        require_choice("method", self.method, METHODS)
        require_choice("precision", self.precision, tuple(PRECISIONS))
        require_choice("engine", self.engine, engines.engine_names())
        set_(self, "seed", require_int("seed", self.seed, low=0, high=2**63 - 1))
        if self.threads is not None:
            set_(self, "threads", require_int("threads", self.threads, low=1, high=available_cores()))
        self._check_kinds()
        set_(self, "n_neurons", self._population_size())
        layout = self.layout
        check_step(layout.model, self.dt_ms, self.method)
        coefficients(layout.model, self.dt_ms, self.method, self.precision)  # finite in the precision
        receptor_coefficients(layout, self.dt_ms, self.method, self.precision)
        for i, (stimulus, place) in enumerate(zip(self.stimuli, self.placements)):
            stimulus.validate(Target(place.hi - place.lo, self.dt_ms, f"stimulus[{i}]", place.receptor_kind))
        check_representable(self.stimuli, self.precision)
        self.record.count(self.n_neurons)
        for i, projection in enumerate(self.projections):
            projection.validate(f"projection[{i}]", layout, self.dt_ms)
        if self.projections and len(layout.receptors) * self.n_neurons > MAX_TARGETS:
            raise ParameterError(f"populations: receptors × neurons must be <= {MAX_TARGETS} in a network "
                                 f"(got {len(layout.receptors)} × {self.n_neurons})")

    def _check_kinds(self):
        for i, stimulus in enumerate(self.stimuli):
            if type(stimulus) not in STIMULUS_KINDS.values() and not isinstance(stimulus, Stacked):
                raise ParameterError(f"stimulus[{i}] must be one of {', '.join(STIMULUS_KINDS)} (got {stimulus!r})")
        for key, kind in (("populations", Population), ("projections", Projection)):
            for i, item in enumerate(getattr(self, key)):
                if not isinstance(item, kind):
                    raise ParameterError(f"{key}[{i}] must be a {kind.__name__} (got {item!r})")
        if self.projections and not self.populations:
            raise ParameterError("projections need populations to connect")

    def _population_size(self) -> int:
        """A network's total; else ``n_neurons``, the length of the per-neuron values
        (model, then currents), or 1."""
        if self.populations:
            if not _is_default(self.model):
                raise ParameterError("model: a network takes a model per population, not a run-wide one")
            total = sum(p.size for p in self.populations)
            if total > MAX_NEURONS:
                raise ParameterError(f"populations: their sizes must add up to at most {MAX_NEURONS} (got {total})")
            if self.n_neurons is not None and require_int("neurons", self.n_neurons, low=1) != total:
                raise ParameterError(f"neurons ({self.n_neurons}) must equal the populations' total ({total})")
            return total
        implied = self.model.per_neuron_size()
        if self.n_neurons is None:
            return implied or _stimulus_size(self.stimuli) or 1
        n = require_int("neurons", self.n_neurons, low=1, high=MAX_NEURONS)
        if implied is not None and implied != n:
            self.model.check_size(n)  # names the field
            raise ParameterError(f"neurons ({n}) must equal the length of the per-neuron model values ({implied})")
        return n

    @cached_property
    def layout(self) -> Layout:
        """The run's populations end to end (a single population ``neurons`` without a network)."""
        if self.populations:
            return Layout(self.populations)
        return Layout((Population(DEFAULT_POPULATION, self.n_neurons, self.model, (Receptor(),)),))

    @cached_property
    def placements(self) -> tuple:
        """Where each stimulus acts (`lifsim.stimuli.Placement`), checked."""
        return tuple(self._place(i, s) for i, s in enumerate(self.stimuli))

    def _place(self, index: int, stimulus) -> Placement:
        name, layout = f"stimulus[{index}]", self.layout
        if stimulus.population is not None and not isinstance(stimulus.population, str):
            raise ParameterError(f"{name}.population must be a population's name (got {stimulus.population!r:.80})")
        if stimulus.population is None:
            lo, hi, reached = 0, layout.n_neurons, layout.populations
        else:
            try:
                lo, hi = layout.span(stimulus.population)
            except ParameterError as error:
                raise ParameterError(f"{name}.population: {error}") from None
            reached = (layout.population(stimulus.population),)
        if stimulus.sends == "current":
            return Placement(lo, hi, None)
        try:
            receptor = reached[0].receptor(getattr(stimulus, "receptor", None))
            for population in reached[1:]:
                population.receptor(receptor.name)
        except ParameterError as error:
            raise ParameterError(f"{name}.receptor: {error}") from None
        return Placement(lo, hi, layout.slot(receptor.name), receptor.kind)

    @property
    def steps(self) -> int:
        """Number of steps: ``k·dt < duration`` for ``k = 0 .. steps - 1``."""
        return steps_in(self.duration_ms, self.dt_ms)

    @property
    def end_ms(self) -> float:
        """The run's last instant, ms: ``duration_ms``, or the time of a spike in the last step
        when it falls later (method "exact" labels a spike with the end of its step)."""
        return max(self.duration_ms, (self.steps - 1 + METHOD_TABLE[self.method].spike_offset_steps) * self.dt_ms)

    @property
    def dtype(self):
        return PRECISIONS[self.precision]

    def delay_range(self) -> tuple[int, int]:
        """The smallest and largest delay of the projections, in steps ((0, 0) without any)."""
        if not self.projections:
            return 0, 0
        ranges = [p.delay_range(self.dt_ms) for p in self.projections]
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def replace(self, **changes) -> "RunConfig":
        return replace(self, **changes)

    def describe(self) -> dict:
        """JSON-ready: the run's parameters, with units in the key names where they apply."""
        out = {
            "experiment": self.name,
            "engine": self.engine,
            "method": self.method,
            "precision": self.precision,
            "dt_ms": self.dt_ms,
            "duration_ms": self.duration_ms,
            "steps": self.steps,
            "seed": self.seed,
            "neurons": self.n_neurons,
        }
        if self.populations:
            out["populations"] = [{**entry, "model": p.model.as_dict(), "u_init": plain(p.u_init)}
                                  for entry, p in zip(self.layout.describe(), self.populations)]
            out["projections"] = [describe_fields(p) for p in self.projections]
        else:
            out["model"] = self.model.as_dict()
        out["stimuli"] = [{"kind": s.kind, **describe_fields(s)} for s in self.stimuli]
        out["record"] = {"variables": list(self.record.variables), "neurons": plain(self.record.neurons),
                         "every": self.record.every}
        return out


#: Stimulus fields that are times, counts or rates, not values the state adds up.
NOT_AMOUNTS = ("start_ms", "stop_ms", "times_ms", "rate_hz", "neuron", "synapses", "pulses", "sample_dt_ms")
#: A noise current is taken to stay within this many standard deviations of its mean.
NOISE_BOUND_SD = 10.0


def check_representable(stimuli, precision: str) -> None:
    """Refuse stimulus values (currents, weights, charges) that the run's precision cannot
    hold, alone or added up: the largest current the stimuli can sum to (noise within
    NOISE_BOUND_SD standard deviations) and each weight must stay below its largest number.
    A stacked stimulus counts as all its members (an upper bound: they act on different neurons)."""
    largest = float(np.finfo(PRECISIONS[precision]).max)
    total, named = 0.0, []
    stimuli = [m for s in stimuli for m in (s.stimuli if isinstance(s, Stacked) else (s,))]
    for i, stimulus in enumerate(stimuli):
        for f in fields(stimulus):
            value = getattr(stimulus, f.name)
            if f.name in NOT_AMOUNTS or value is None or isinstance(value, str) or is_distribution(value):
                continue
            size = float(np.max(np.abs(np.asarray(value, dtype=float)), initial=0.0))
            if size > largest:
                raise ParameterError(f"stimulus[{i}].{f.name} must be within ±{largest:.3g} in {precision} "
                                     f"(got {size:g})")
        if stimulus.sends == "current":
            total += _largest_current(stimulus)
            named.append(f"stimulus[{i}]" + {"noise": ".mean and .sd", "square": ".pulses"}.get(stimulus.kind,
                                                                                                ".amplitude"))
    if total > largest:
        raise ParameterError(f"{', '.join(named)}: the currents add up to as much as {total:g} mA (noise "
                             f"counted to {NOISE_BOUND_SD:g} sd), beyond {precision}'s ±{largest:.3g}")


def _largest_current(stimulus) -> float:
    if stimulus.kind == "noise":
        with np.errstate(over="ignore"):  # inf: refused by the caller
            return float(np.max(np.abs(stimulus.mean)) + NOISE_BOUND_SD * np.max(stimulus.sd))
    if stimulus.kind == "recorded":
        return float(np.max(np.abs(np.asarray(stimulus.samples, dtype=float)), initial=0.0))
    if stimulus.kind == "square":  # overlapping pulses add
        return sum(float(np.max(np.abs(np.asarray(p[2], dtype=float)))) for p in stimulus.pulses)
    return float(np.max(np.abs(np.asarray(stimulus.amplitude, dtype=float)), initial=0.0))


def check_run_name(name) -> None:
    """Refuse a name that could not name files inside the output folder: empty, too long,
    starting with a dot, or holding a path separator, a control character or a space."""
    if not isinstance(name, str) or not (0 < len(name) <= MAX_NAME) or not NAME_PATTERN.fullmatch(name):
        raise ParameterError(f"name must be 1 to {MAX_NAME} letters, digits, '_', '-' or '.', not starting "
                             f"with '.' or '-' (it names the output files; got {name!r})")


def _is_default(model: LIFParams) -> bool:
    default = LIFParams()
    return all(np.ndim(getattr(model, f.name)) == 0 and getattr(model, f.name) == getattr(default, f.name)
               for f in fields(LIFParams))


def _stimulus_size(stimuli) -> int | None:
    """The population size implied by per-neuron current amplitudes, if any."""
    sizes = {size for s in stimuli if (size := s.per_neuron_size()) is not None}
    if len(sizes) > 1:
        raise ParameterError(f"per-neuron stimulus values must all have the same length (got {sorted(sizes)})")
    return sizes.pop() if sizes else None


def describe_fields(item) -> dict:
    """A stimulus or projection as a JSON-ready dict of its fields."""
    return {f.name: plain(getattr(item, f.name)) for f in fields(item)}


def plain(value):
    """A value as JSON can hold it: lists for arrays, a table for a distribution, None for an
    unbounded window end."""
    if is_distribution(value):
        return value.as_table()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value

