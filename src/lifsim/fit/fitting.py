"""`fit`: a LIF neuron fitted to a recording, by a global search and gradient refinement.

1. The recording is cut: the first part trains, the last ``test_fraction`` is held out.
2. Stage 1, per restart: a global search (`lifsim.fit.search`: CMA-ES or differential
   evolution) scores whole generations of candidates as one vectorised population.
3. Stage 2: gradient descent through the TensorFlow engine (`lifsim.fit.refine`) from every
   restart's best at once (but those that already reproduce the data to rounding); a
   refined candidate replaces its restart's best only if it scores better on the metric
   itself.
4. The best restart's model is run once over the whole recording, as the experiment file
   it writes describes it: the held-out score is that run's over the held-out part. The
   spread of the restarts' results estimates the fit's uncertainty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ParameterError, require_bool, require_choice, require_int, require_number, require_range
from ..network.population import Population
from ..neuron.params import UNITS, LIFParams
from ..recording import Record
from ..simulation.config import RunConfig
from ..simulation.simulate import preflight, simulate
from ..stimuli.currents import RecordedCurrent
from .data import Recording, load_recording
from .options import SURROGATE_NAMES, GradientOptions, choose_chunk
from .metrics import METRICS
from .refine import refine
from .search import METRIC_NAMES, OPTIMIZERS, Problem, Space, is_perfect, scores, search

#: Largest population of candidates one generation may have.
MAX_POPULATION = 100_000
MAX_RESTARTS = 100


@dataclass(frozen=True)
class FitSettings:
    """How a fit runs (every field has a default).

    Attributes:
        metric: ``"mse"`` (voltage, mV²), ``"gamma"`` (coincidence factor) or
            ``"van_rossum"``; default None: mse when the recording has a voltage, else gamma.
        method: the integration method of the model.
        test_fraction: the share of the recording held out (its end).
        optimizer: ``"cma"`` (CMA-ES) or ``"de"`` (differential evolution).
        population: candidates per generation (one vectorised run each).
        evaluations: candidates simulated per restart, at most.
        restarts: independent searches (their spread is the uncertainty).
        patience: generations without improvement after which a restart's search stops
            (None: it runs its evaluations out); a search also stops at a perfect score.
        refine_steps: gradient steps of stage 2 (0: no refinement).
        learning_rate: stage 2's first step size, in the unit box.
        surrogate, surrogate_scale, detach_reset: how spikes are differentiated
            (`lifsim.fit.gradients.GradientOptions`).
        window_ms: the gamma factor's precision, ms.
        tau_ms: the van Rossum time constant, ms.
        seed: the fit's seed (restart ``r`` searches with ``seed + r``).
        precision: the runs' precision.
        threads: threads of the search's engine (None: all cores).
    """

    metric: str | None = None
    method: str = "exact"
    test_fraction: float = 1 / 3
    optimizer: str = "de"
    population: int = 256
    evaluations: int = 20_000
    restarts: int = 3
    patience: int | None = 50
    refine_steps: int = 30
    learning_rate: float = 0.005
    surrogate: str = "superspike"
    surrogate_scale: float | None = None
    detach_reset: bool = True
    window_ms: float = 2.0
    tau_ms: float = 10.0
    seed: int = 0
    precision: str = "float32"
    threads: int | None = None

    def __post_init__(self):
        if self.metric is not None:
            require_choice("metric", self.metric, METRIC_NAMES)
        require_choice("optimizer", self.optimizer, OPTIMIZERS)
        require_choice("surrogate", self.surrogate, SURROGATE_NAMES)
        require_range("test_fraction", self.test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        require_int("population", self.population, low=4, high=MAX_POPULATION)
        require_int("evaluations", self.evaluations, low=self.population, high=10**9)
        require_int("restarts", self.restarts, low=1, high=MAX_RESTARTS)
        if self.patience is not None:
            require_int("patience", self.patience, low=1, high=10**9)
        require_int("refine_steps", self.refine_steps, low=0, high=100_000)
        require_number("learning_rate", self.learning_rate)
        require_range("learning_rate", self.learning_rate, low=0.0, high=1.0, low_open=True)
        for name in ("window_ms", "tau_ms"):
            require_number(name, getattr(self, name))
            require_range(name, getattr(self, name), low=0.0, low_open=True, unit="ms")
        require_bool("detach_reset", self.detach_reset)
        require_int("seed", self.seed, low=0, high=2**63 - 1)


@dataclass(frozen=True)
class FitResult:
    """A fitted neuron.

    Attributes:
        parameters: fitted name -> value, in `units`.
        units: fitted name -> unit.
        model: the whole fitted model (`LIFParams`).
        metric: the metric; `train_score` and `test_score` are its values on the training
            part and on the held-out part.
        spread: fitted name -> standard deviation over the restarts' results (an
            uncertainty estimate, in the parameter's unit).
        restarts: per restart, its search's and refinement's outcomes.
        history: the loss history: dicts of stage, restart, evaluations and best score so far.
        evaluations: candidates simulated by the searches; gradient_steps: differentiable
            runs of the refinement (each covering every restart).
        timings: seconds per stage (search_s, refine_s, total_s).
        config: the fitted model's run over the whole recording; result: that run.
        data: the recording; split_step: the first held-out step.
        memory: the memory (bytes, estimated and checked before the fit) of a generation's
            run (``search_bytes``) and of the refinement's differentiable run (``refine_bytes``).
        tau_ms: the time constant of the spike traces the figure compares (the van Rossum
            metric's), ms.
    """

    parameters: dict
    units: dict
    model: LIFParams
    metric: str
    train_score: float
    test_score: float
    spread: dict
    restarts: tuple
    history: tuple
    evaluations: int
    gradient_steps: int
    timings: dict
    config: RunConfig
    result: object = field(repr=False)
    data: Recording = field(repr=False)
    split_step: int = 0
    memory: dict = field(default_factory=dict)
    tau_ms: float = 10.0

    def summary(self) -> dict:
        """Everything but the arrays, as JSON values."""
        return {
            "parameters": {k: float(v) for k, v in self.parameters.items()}, "units": self.units,
            "metric": self.metric, "metric_description": METRICS[self.metric].description,
            "train_score": float(self.train_score), "test_score": float(self.test_score),
            "spread": {k: float(v) for k, v in self.spread.items()}, "restarts": list(self.restarts),
            "history": list(self.history), "evaluations": self.evaluations, "gradient_steps": self.gradient_steps,
            "timings": self.timings, "memory_bytes": self.memory,
            "data": {"source": self.data.source, "dt_ms": self.data.dt_ms, "steps": self.data.steps,
                     "split_step": self.split_step, "split_ms": self.split_step * self.data.dt_ms},
        }


def fit(data: "Recording | str | Path", bounds: dict, model: LIFParams | None = None,
        settings: FitSettings | None = None, report: "Callable | None" = None, **changes) -> FitResult:
    """Fit the parameters named in ``bounds`` to ``data``.

    Args:
        data: a `Recording` or the path of a recording file (CSV, NPZ or NIX;
            `lifsim.fit.data.load_recording`).
        bounds: parameter name -> (low, high), in the parameter's unit (ms, mV, Ω).
        model: the values of the parameters not fitted (default `LIFParams()`).
        settings: how the fit runs (`FitSettings`); keywords change single fields.
        report: called as ``report(stage, restart, evaluations, score)`` as the fit goes.
    """
    started = time.perf_counter()
    data = load_recording(data) if not isinstance(data, Recording) else data
    settings = FitSettings(**changes) if settings is None else \
        (FitSettings(**{**settings.__dict__, **changes}) if changes else settings)
    model = LIFParams() if model is None else model
    if not isinstance(model, LIFParams):
        raise ParameterError(f"model must be LIFParams (got {model!r:.80})")
    _check_libraries(settings)
    train, _ = data.split(settings.test_fraction)
    metric = settings.metric or ("mse" if data.voltage is not None else "gamma")
    problem = Problem(train, Space.from_bounds(bounds), model, metric, settings.method, settings.window_ms,
                      settings.tau_ms, settings.precision, "numba", settings.threads)
    options = GradientOptions(settings.surrogate, settings.surrogate_scale, settings.detach_reset)
    memory = _check_room(problem, settings, options)
    outcome = _Stages(problem, settings, options, report).run()
    return _finish(problem, data, train, outcome, settings, started, memory)


def _check_libraries(settings: FitSettings) -> None:
    """Refuse a fit whose optimiser or refinement library is missing, before any work."""
    import importlib.util

    needed = [("scipy" if settings.optimizer == "de" else "cma", f"optimizer {settings.optimizer}")]
    if settings.refine_steps:
        needed.append(("tensorflow", "the gradient refinement (or refine_steps 0)"))
    for module, use in needed:
        if importlib.util.find_spec(module) is None:
            raise ParameterError(f"{use} needs {module}, which is not installed: pip install 'lifsim[fit]'")


def _check_room(problem: Problem, settings: FitSettings, options: GradientOptions) -> dict:
    """Refuse, before any work, a fit whose runs would not fit in memory; else the memory
    a generation's run and the refinement's differentiable run need, bytes (estimates)."""
    middle = problem.space.values(np.full((settings.population, len(problem.space.names)), 0.5))
    config = RunConfig(name="fit", n_neurons=settings.population, model=problem.model(middle),
                       duration_ms=problem.data.duration_ms, dt_ms=problem.data.dt_ms, method=problem.method,
                       precision=problem.precision, engine="numba", threads=settings.threads,
                       stimuli=(RecordedCurrent(samples=problem.data.current, sample_dt_ms=problem.data.dt_ms),),
                       record=Record(variables=("u",), neurons="all" if problem.metric == "mse" else "none"))
    run_plan, _ = preflight(config, outputs=True)
    memory = {"search_bytes": int(sum(run_plan.memory_bytes.values())), "refine_bytes": 0}
    if settings.refine_steps:
        _, memory["refine_bytes"] = choose_chunk(
            config.replace(n_neurons=settings.restarts, model=problem.model(middle[:settings.restarts])), options)
    return memory


class _Stages:
    def __init__(self, problem, settings, options, report):
        self.problem, self.settings, self.options, self.report = problem, settings, options, report
        self.history, self.timings = [], {}

    def run(self):
        tick = time.perf_counter()
        found = [self.search(r) for r in range(self.settings.restarts)]
        self.timings["search_s"] = time.perf_counter() - tick
        best = np.array([f.best for f in found])
        best_scores = np.array([f.score for f in found])
        restarts = [{"restart": r, "search": _named(self.problem.space, f.best), "search_score": float(f.score),
                     "evaluations": f.evaluations} for r, f in enumerate(found)]
        tick = time.perf_counter()
        steps = 0
        rows = [r for r in range(len(best)) if not is_perfect(self.problem, best_scores[r])]
        if self.settings.refine_steps and rows:  # a perfect candidate needs no descent
            refined = refine(self.problem, best[rows], self.settings.refine_steps, self.settings.learning_rate,
                             self.options, self.progress("refine", None))
            steps = refined.gradient_steps
            refined_scores = scores(self.problem, refined.best)
            better = refined_scores < best_scores[rows] if self.problem.lower_is_better \
                else refined_scores > best_scores[rows]
            for i, r in enumerate(rows):
                restarts[r].update(refined=_named(self.problem.space, refined.best[i]),
                                   refined_score=float(refined_scores[i]), refinement_kept=bool(better[i]),
                                   smooth_loss=[float(x) for x in refined.history[:, i]])
                if better[i]:
                    best[r], best_scores[r] = refined.best[i], refined_scores[i]
        self.timings["refine_s"] = time.perf_counter() - tick
        for r, entry in enumerate(restarts):
            entry.update(final=_named(self.problem.space, best[r]), final_score=float(best_scores[r]))
        evaluations = sum(f.evaluations for f in found)
        return best, best_scores, restarts, evaluations, steps, tuple(self.history), dict(self.timings)

    def search(self, restart: int):
        s = self.settings
        return search(self.problem, s.optimizer, s.population, s.evaluations, s.seed + restart,
                      self.progress("search", restart), s.patience)

    def progress(self, stage: str, restart):
        def note(count, score, best):
            self.history.append({"stage": stage, "restart": restart, "evaluations" if stage == "search" else "step":
                                 int(count), "best_score": float(score), "best": best})
            if self.report is not None:
                self.report(stage, restart, count, score, best)
        return note


def _named(space: Space, values) -> dict:
    return {name: float(v) for name, v in zip(space.names, values)}


def _finish(problem, data, train, outcome, settings, started, memory) -> FitResult:
    best, best_scores, restarts, evaluations, steps, history, timings = outcome
    winner = int(np.argmin(best_scores) if problem.lower_is_better else np.argmax(best_scores))
    values = best[winner]
    fitted = problem.model(values[None, :], check=False)
    model = LIFParams(**{k: (float(v[0]) if np.ndim(v) else v) for k, v in fitted.items()})
    config = model_config(model, data, settings.method, settings.precision)
    result = simulate(config)
    split = train.steps
    train_score, test_score = _scores(problem, data, result, settings.test_fraction)
    spread = {name: float(np.std(best[:, j], ddof=1)) if len(best) > 1 else 0.0
              for j, name in enumerate(problem.space.names)}
    timings["total_s"] = time.perf_counter() - started
    return FitResult(_named(problem.space, values), {n: UNITS[n] for n in problem.space.names}, model, problem.metric,
                     train_score, test_score, spread, tuple(restarts), history, evaluations, steps, timings, config,
                     result, data, split, memory, problem.tau_ms)


def model_config(model: LIFParams, data: Recording, method: str, precision: str) -> RunConfig:
    """The fitted neuron over the whole recording, starting at its first potential: the run
    its experiment file describes."""
    u_init = None if data.voltage is None else float(data.voltage[0])
    return RunConfig(name="fitted", duration_ms=data.duration_ms, dt_ms=data.dt_ms, method=method, engine="numba",
                     precision=precision, populations=(Population("neuron", 1, model, u_init=u_init),),
                     stimuli=(RecordedCurrent(samples=data.current, sample_dt_ms=data.dt_ms),),
                     record=Record(variables=("u", "i_in"), neurons="all"))


def _scores(problem: Problem, data: Recording, result, test_fraction: float) -> tuple[float, float]:
    """The metric of the whole-recording run on the training part and on the held-out part:
    the run's trace and spikes cut where `Recording.split` cuts the data, by the same rule."""
    from .metrics import gamma_factor, van_rossum_distance, voltage_mse

    run = replace(data, voltage=result.traces["u"][:, 0].astype(float), spike_times_ms=result.spike_times_ms)
    out = []
    for model, part in zip(run.split(test_fraction), data.split(test_fraction)):
        if problem.metric == "mse":
            out.append(float(voltage_mse(model.voltage, part.voltage)))
        elif problem.metric == "gamma":
            out.append(float(gamma_factor(model.spike_times_ms, part.spike_times_ms, part.duration_ms,
                                          problem.window_ms)))
        else:
            out.append(float(van_rossum_distance(model.spike_times_ms, part.spike_times_ms, problem.tau_ms,
                                                 part.duration_ms)))
    return out[0], out[1]