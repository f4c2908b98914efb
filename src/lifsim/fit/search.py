"""Stage 1 of a fit: a global search, every generation's candidates one vectorised population.

Each candidate is a neuron of one run on the numba engine (its parameters one value per
neuron), driven by the recording's current; a generation of a thousand candidates is one
call. The optimiser is a well-kept library's: CMA-ES (``cma``) or scipy's differential
evolution (``vectorized=True``). Both work in the unit box: each fitted parameter is mapped
from [0, 1] to its bounds, on a log scale for the positive scale parameters (``tau_m``,
``R``, ``tau_syn``) when the bounds span a factor of 10 or more, else linearly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError, require_choice, require_number
from ..neuron.params import UNITS, LIFParams
from ..neuron.rule import check_step, refractory_steps
from ..neuron.state import LIFState
from ..recording import Record
from ..simulation.config import RunConfig
from ..simulation.simulate import simulate
from ..stimuli.currents import RecordedCurrent
from .data import Recording
from .metrics import gamma_factors, van_rossum_distance, voltage_mse

#: Parameters a fit may search, with their units (every model parameter).
FITTABLE = dict(UNITS)
#: Parameters searched on a log scale when their bounds span a factor of 10 or more.
SCALE_PARAMETERS = ("tau_m", "R", "tau_syn")
OPTIMIZERS = ("cma", "de")
METRIC_NAMES = ("mse", "gamma", "van_rossum")
#: The best value each metric can take: a search that reaches it (to rounding) stops.
PERFECT = {"mse": 0.0, "gamma": 1.0, "van_rossum": 0.0}
#: An MSE below this share of the data's mean square is the data reproduced to rounding.
PERFECT_MSE = 1e-12
#: A generation improves the best score when it lowers the loss by more than this share.
IMPROVEMENT = 1e-6
#: The score a candidate that cannot run gets (u_thresh at or below its reset).
INVALID_LOSS = 1e30


@dataclass(frozen=True)
class Space:
    """The fitted parameters, their bounds, and the map from the unit box.

    Attributes:
        names: fitted parameter names, in order.
        low, high: bounds in the parameters' units.
        log: per parameter, whether it is mapped on a log scale.
    """

    names: tuple
    low: np.ndarray
    high: np.ndarray
    log: np.ndarray

    @classmethod
    def from_bounds(cls, bounds: dict) -> "Space":
        if not isinstance(bounds, dict) or not bounds:
            raise ParameterError("fit: give at least one parameter to fit with its bounds, e.g. tau_m=2:50")
        names, low, high = [], [], []
        for name, pair in bounds.items():
            if name not in FITTABLE:
                raise ParameterError(f"fit: unknown parameter {name!r}; the model's parameters are "
                                     f"{', '.join(FITTABLE)}")
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ParameterError(f"fit {name}: bounds must be (low, high) (got {pair!r:.60})")
            lo, hi = (require_number(f"fit {name} bounds", v) for v in pair)
            if not lo < hi:
                raise ParameterError(f"fit {name}: low must be < high (got {lo:g}:{hi:g} {UNITS[name]})")
            _check_valid_range(name, lo)
            names.append(name)
            low.append(lo)
            high.append(hi)
        low, high = np.array(low), np.array(high)
        log = np.array([n in SCALE_PARAMETERS and h / lo >= 10.0 for n, lo, h in zip(names, low, high)])
        return cls(tuple(names), low, high, log)

    def values(self, unit: np.ndarray) -> np.ndarray:
        """Parameter values (P, d) of points (P, d) of the unit box."""
        unit = np.clip(np.asarray(unit, float), 0.0, 1.0)
        linear = self.low + unit * (self.high - self.low)
        with np.errstate(divide="ignore", invalid="ignore"):
            logged = self.low * (self.high / self.low) ** unit
        return np.where(self.log, logged, linear)

    def unit(self, values: np.ndarray) -> np.ndarray:
        """The inverse of `values`."""
        values = np.asarray(values, float)
        linear = (values - self.low) / (self.high - self.low)
        with np.errstate(divide="ignore", invalid="ignore"):
            logged = np.log(values / self.low) / np.log(self.high / self.low)
        return np.clip(np.where(self.log, logged, linear), 0.0, 1.0)

    def derivative(self, unit: np.ndarray) -> np.ndarray:
        """d value / d unit at points (P, d) of the unit box."""
        values = self.values(unit)
        return np.where(self.log, values * np.log(self.high / self.low), self.high - self.low)


def _check_valid_range(name: str, low: float) -> None:
    """Refuse bounds that reach outside a parameter's valid range."""
    positive = {"tau_m", "R", "tau_syn"}
    if name in positive and low <= 0:
        raise ParameterError(f"fit {name}: bounds must be > 0 {UNITS[name]} (got low {low:g})")
    if name == "tau_rest" and low < 0:
        raise ParameterError(f"fit tau_rest: bounds must be >= 0 ms (got low {low:g})")


@dataclass(frozen=True)
class Problem:
    """What every candidate is scored on: the training data, the fixed model, the metric.

    Attributes:
        data: the (training) recording.
        space: the fitted parameters.
        fixed: the model's other parameters (a `LIFParams`).
        metric: ``"mse"`` (voltage, mV²), ``"gamma"`` (coincidence factor, 1 is perfect)
            or ``"van_rossum"`` (distance, 0 is perfect).
        method: the integration method.
        window_ms: the gamma factor's precision, ms.
        tau_ms: the van Rossum time constant, ms.
        precision: the runs' precision.
        engine: the engine that scores the candidates.
        threads: its threads (None: all cores).
    """

    data: Recording
    space: Space
    fixed: LIFParams
    metric: str
    method: str = "exact"
    window_ms: float = 2.0
    tau_ms: float = 10.0
    precision: str = "float32"
    engine: str = "numba"
    threads: int | None = None

    def __post_init__(self):
        require_choice("metric", self.metric, METRIC_NAMES)
        if self.metric == "mse" and self.data.voltage is None:
            raise ParameterError(f"metric mse needs a voltage trace; {self.data.source} has spike times only "
                                 "(use --metric gamma or van_rossum)")
        if self.metric != "mse" and self.data.spike_times_ms is None:
            raise ParameterError(f"metric {self.metric} needs spike times; {self.data.source} has a voltage trace "
                                 "only (use --metric mse)")
        self.check_corners()

    def check_corners(self) -> None:
        """Refuse bounds that no run could take (a forward-Euler step beyond tau_m, a
        refractory period beyond its counter, a threshold always at or below the reset)."""
        low = self.model(self.space.low[None, :], check=False)
        high = self.model(self.space.high[None, :], check=False)
        for model in (low, high):
            refractory_steps(model.get("tau_rest"), self.data.dt_ms)
        tau_m_low = np.min(low["tau_m"])
        if self.method == "article":
            check_step(LIFParams(tau_m=float(tau_m_low)), self.data.dt_ms, "article")
        top = np.max(high["u_thresh"])
        reset = low["u_reset"] if low["u_reset"] is not None else low["u_rest"]
        if top <= np.min(reset):
            raise ParameterError("fit: u_thresh is at or below the reset potential everywhere in the bounds; "
                                 "widen the bounds of u_thresh, u_rest or u_reset")

    def model(self, values: np.ndarray, check: bool = True):
        """The model of candidates ``values`` (P, d): a `LIFParams` (or its fields, unchecked)."""
        fields = {name: getattr(self.fixed, name) for name in FITTABLE}
        fields["u_reset"] = self.fixed.u_reset
        for j, name in enumerate(self.space.names):
            fields[name] = np.asarray(values[:, j], float)
        if not check:
            return fields
        return LIFParams(**fields)

    def valid(self, values: np.ndarray) -> np.ndarray:
        """Which candidates can run: threshold above the reset."""
        fields = self.model(values, check=False)
        reset = fields["u_reset"] if fields["u_reset"] is not None else fields["u_rest"]
        return np.broadcast_to(np.asarray(fields["u_thresh"]) > np.asarray(reset), (len(values),))

    @property
    def lower_is_better(self) -> bool:
        return self.metric != "gamma"


def run_candidates(problem: Problem, values: np.ndarray, data: Recording | None = None, keep_u: bool = None):
    """One run of every candidate (rows of ``values``) on ``data`` (default the problem's):
    the run's `lifsim.Result`."""
    data = problem.data if data is None else data
    keep_u = problem.metric == "mse" if keep_u is None else keep_u
    n = len(values)
    config = RunConfig(
        name="fit", n_neurons=n, model=problem.model(values), duration_ms=data.duration_ms, dt_ms=data.dt_ms,
        method=problem.method, engine=problem.engine, precision=problem.precision, threads=problem.threads,
        stimuli=(RecordedCurrent(samples=data.current, sample_dt_ms=data.dt_ms),),
        record=Record(variables=("u",), neurons="all" if keep_u else "none"))
    return simulate(config, initial_state=_initial_state(config, data))


def _initial_state(config: RunConfig, data: Recording) -> LIFState | None:
    """Start at the recording's first potential, when it has one (else at u_rest)."""
    if data.voltage is None:
        return None
    state = LIFState.resting(config.n_neurons, float(data.voltage[0]), config.dtype)
    return state


def scores(problem: Problem, values: np.ndarray, data: Recording | None = None) -> np.ndarray:
    """The metric of each candidate (rows of ``values``) on ``data``: invalid candidates get
    `INVALID_LOSS` (or -INVALID_LOSS for the gamma factor)."""
    data = problem.data if data is None else data
    values = np.atleast_2d(np.asarray(values, float))
    out = np.full(len(values), INVALID_LOSS if problem.lower_is_better else -INVALID_LOSS)
    ok = np.flatnonzero(problem.valid(values))
    if ok.size:
        out[ok] = _metric(problem, run_candidates(problem, values[ok], data), data, ok.size)
    return out


def _metric(problem: Problem, result, data: Recording, n: int) -> np.ndarray:
    if problem.metric == "mse":
        return voltage_mse(result.traces["u"].T.astype(float), data.voltage)
    trains = _trains(result, n)
    if problem.metric == "gamma":
        return gamma_factors(trains, data.spike_times_ms, data.duration_ms, problem.window_ms)
    return np.array([van_rossum_distance(t, data.spike_times_ms, problem.tau_ms, data.duration_ms) for t in trains])


def _trains(result, n: int) -> list:
    """Each neuron's spike times, ms."""
    order = np.argsort(result.spike_neurons, kind="stable")
    bounds = np.searchsorted(result.spike_neurons[order], np.arange(n + 1))
    times = result.spike_times_ms[order]
    return [times[bounds[i]:bounds[i + 1]] for i in range(n)]


def as_loss(problem: Problem, score: np.ndarray) -> np.ndarray:
    """Scores as losses to minimise."""
    return score if problem.lower_is_better else -score


@dataclass(frozen=True)
class SearchResult:
    """One restart of the search: its best candidate, its score, and how it went.

    Attributes:
        best: the best parameter values found, shape (d,).
        score: their metric.
        evaluations: candidates simulated.
        history: (evaluations so far, best score so far) after each generation.
    """

    best: np.ndarray
    score: float
    evaluations: int
    history: tuple


def search(problem: Problem, optimizer: str, population: int, evaluations: int, seed: int,
           report=None, patience: int | None = None) -> SearchResult:
    """One restart of the global search with ``optimizer`` (``"cma"`` or ``"de"``).

    It stops after ``evaluations`` candidates, when a candidate reaches the metric's best
    possible value to rounding (`is_perfect`), or when ``patience`` generations in a
    row have not improved the best score by more than a millionth (None: never). ``report`` is
    called after every generation with the candidates so far, the best score and the best
    candidate (name -> value).
    """
    require_choice("optimizer", optimizer, OPTIMIZERS)
    runner = _CMA if optimizer == "cma" else _DE
    tracker = _Tracker(problem, report, patience)
    try:
        runner(tracker, population, evaluations, seed).run()
    except _Stop:
        pass
    return tracker.result()


def is_perfect(problem: Problem, score: float) -> bool:
    """Whether ``score`` is as good as the runs' rounding allows: an MSE below 10⁻¹² of the
    data's mean square, a distance below 10⁻⁹, a gamma factor within 10⁻⁹ of 1."""
    if problem.metric == "mse":
        return score <= PERFECT_MSE * float(np.mean(np.square(problem.data.voltage)))
    return abs(score - PERFECT[problem.metric]) <= 1e-9


class _Stop(Exception):
    """Raised from the objective to end a search early (scipy has no other way out of it)."""


class _Tracker:
    """Scores batches of unit-box points and remembers the best and the history."""

    def __init__(self, problem, report, patience):
        self.problem, self.report, self.patience = problem, report, patience
        self.count, self.best_loss, self.best, self.history = 0, math.inf, None, []
        self.stale = 0

    def __call__(self, unit: np.ndarray) -> np.ndarray:
        values = self.problem.space.values(unit)
        loss = as_loss(self.problem, scores(self.problem, values))
        self.count += len(values)
        i = int(np.argmin(loss))
        improved = loss[i] < self.best_loss - (IMPROVEMENT * abs(self.best_loss) + 1e-300)
        if loss[i] < self.best_loss:
            self.best_loss, self.best = float(loss[i]), values[i].copy()
        self.stale = 0 if improved else self.stale + 1
        score = self.score
        self.history.append((self.count, score))
        if self.report is not None:
            self.report(self.count, score, dict(zip(self.problem.space.names, map(float, self.best))))
        if is_perfect(self.problem, score) or (self.patience is not None and self.stale >= self.patience):
            raise _Stop
        return loss

    @property
    def score(self) -> float:
        return self.best_loss if self.problem.lower_is_better else -self.best_loss

    def result(self) -> SearchResult:
        return SearchResult(self.best, self.score, self.count, tuple(self.history))


class _CMA:
    def __init__(self, tracker, population, evaluations, seed):
        self.track, self.population, self.evaluations, self.seed = tracker, population, evaluations, seed

    def run(self) -> None:
        import cma

        d = len(self.track.problem.space.names)
        start = np.random.default_rng(self.seed).uniform(0.25, 0.75, d)
        options = {"bounds": [0.0, 1.0], "popsize": self.population, "seed": self.seed + 1, "verbose": -9,
                   "maxfevals": self.evaluations, "tolfun": 1e-12, "tolx": 1e-9}
        es = cma.CMAEvolutionStrategy(start, 0.3, options)
        while not es.stop() and self.track.count + self.population <= self.evaluations:
            points = np.asarray(es.ask())
            es.tell(list(points), list(self.track(points)))


class _DE:
    def __init__(self, tracker, population, evaluations, seed):
        self.track, self.population, self.evaluations, self.seed = tracker, population, evaluations, seed

    def run(self) -> None:
        from scipy.optimize import differential_evolution

        d = len(self.track.problem.space.names)
        per_member = max(1, self.population // d)  # scipy's popsize is per parameter
        generations = max(1, self.evaluations // (per_member * d) - 1)
        differential_evolution(lambda x: self.track(x.T), [(0.0, 1.0)] * d, popsize=per_member,
                               maxiter=generations, vectorized=True, updating="deferred", polish=False,
                               seed=self.seed, tol=0.0, atol=0.0)
