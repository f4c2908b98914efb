"""The explorer's controls: which keys of an experiment the page may set, and how.

A control is a key of the experiment, addressed as `lifsim sweep` addresses them
(``model.tau_m``, ``stimulus.0.rate_hz``, ``stimulus.0.pulses.1.2``, ``projection.0.weight``)
or a top-level setting (``dt_ms``, ``duration_ms``, ``method``, ``engine``, ``precision``,
``seed``, ``neurons``). The page may set these keys and no others, so that it can only
change numbers and choices of the experiment, never name a file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import engines
from ..errors import ParameterError
from ..neuron.params import UNITS
from ..neuron.rule import METHODS, PRECISIONS

#: Model parameters: (meaning, valid range, kind of slider span).
MODEL = {
    "u_rest": ("resting potential (and reset, unless u_reset is given)", "any finite value", "signed"),
    "u_thresh": ("firing threshold", "> the reset potential", "signed"),
    "u_reset": ("reset potential", "< u_thresh", "signed"),
    "tau_rest": ("refractory period", ">= 0", "nonneg"),
    "R": ("membrane resistance", "> 0", "positive"),
    "tau_m": ("membrane time constant", "> 0", "positive"),
    "tau_syn": ("synaptic current decay", "> 0", "positive"),
}
#: Stimulus fields shown as controls: (unit, meaning, valid range, kind of slider span).
STIMULUS = {
    "amplitude": ("mA", "current", "any finite value", "signed"),
    "mean": ("mA", "mean current", "any finite value", "signed"),
    "sd": ("mA", "standard deviation of the current", ">= 0", "nonneg"),
    "start_ms": ("ms", "start (on for start < t < stop)", "< stop", "time"),
    "stop_ms": ("ms", "stop", "> start", "time"),
    "synapses": ("", "synapses per neuron (m)", ">= 1, whole", "count"),
    "rate_hz": ("Hz", "rate of each synapse", ">= 0; rate·dt < 1000 per step", "nonneg"),
    "weight_mean": ("", "mean efficacy w", "any finite value", "signed"),
    "weight_sd": ("", "standard deviation of w", ">= 0", "nonneg"),
    "q": ("mA·ms", "charge of one spike (w = 1)", "any finite value", "signed"),
    "weight": ("mA or mV", "jump per spike (mA: exponential receptor, mV: delta)", "any finite value", "signed"),
}
#: Parts of a square pulse [start_ms, stop_ms, amplitude].
PULSE = (("start_ms", "ms", "time"), ("stop_ms", "ms", "time"), ("amplitude", "mA", "signed"))
#: A range of currents {start, stop, step}: one neuron per current.
RANGE = (("start", "first current", "signed"), ("stop", "currents below this", "signed"),
         ("step", "between currents", "positive"))
#: Network projections: (unit, meaning, valid range, kind of slider span).
PROJECTION = {
    "weight": ("mA or mV", "weight of a synapse (mA: exponential receptor, mV: delta)", "any finite value",
               "signed"),
    "delay_ms": ("ms", "delay", ">= dt", "positive"),
}
#: Top-level settings passed as the command line passes them (`lifsim.io.experiment_file.load`).
OVERRIDES = ("duration_ms", "dt_ms", "method", "engine", "precision", "seed", "neurons")
#: Slider steps of a span: the nearest of 1, 2, 5 times a power of ten to a 200th of it.
SLIDER_STEPS = 200


@dataclass(frozen=True)
class Control:
    """One control of the page: its key, label, unit, meaning, valid range, the value the
    experiment gives it, and the slider's span (``kind`` ``number``, ``int`` or ``choice``)."""

    key: str
    label: str
    group: str
    unit: str
    help: str
    valid: str
    value: object
    kind: str = "number"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def controls(exp, data: dict) -> list[Control]:
    """The controls of an experiment (the run it resolves to, and its parsed TOML ``data``)."""
    config = exp.config
    out = _run_controls(exp)
    model = config.populations[0].model if config.populations else config.model
    own = {k for p in data.get("population", []) for k in p.get("model", {})}
    for name, (meaning, valid, span) in MODEL.items():
        value = model.reset if name == "u_reset" else getattr(model, name)
        if np.ndim(value) == 0 and name not in own and _same_in_populations(config, name):
            out.append(_number(f"model.{name}", name, "model", UNITS[name], meaning, valid, float(value), span, config))
    for i, (stimulus, table) in enumerate(zip(config.stimuli, data.get("stimulus", []))):
        out += _stimulus_controls(i, stimulus, table, config)
    for i, (projection, table) in enumerate(zip(config.projections, data.get("projection", []))):
        for name, (unit, meaning, valid, span) in PROJECTION.items():
            value = table.get(name)
            if _is_number(value):
                out.append(_number(f"projection.{i}.{name}", name, f"projection {i}: {projection.source} → "
                                   f"{projection.target}", unit, meaning, valid, float(value), span, config))
    return out


def _run_controls(exp) -> list[Control]:
    config = exp.config
    methods = (("", " and ".join(exp.methods)),) if len(exp.methods) > 1 else ()
    out = [
        _number("duration_ms", "duration", "run", "ms", "simulated time", ">= dt", config.duration_ms, "positive",
                config),
        _number("dt_ms", "dt", "run", "ms", "time step", "> 0; <= tau_m with method article", config.dt_ms,
                "positive", config),
        Control("method", "method", "run", "", "integration method", "article or exact",
                "" if methods else config.method, "choice", choices=methods + tuple((m, m) for m in METHODS)),
        Control("engine", "engine", "run", "", "simulation engine (the same spikes on each)", "an installed engine",
                config.engine, "choice", choices=tuple((e, e) for e in engines.engine_names())),
        Control("precision", "precision", "run", "", "floating-point precision of the state", "float32 or float64",
                config.precision, "choice", choices=tuple((p, p) for p in PRECISIONS)),
        Control("seed", "seed", "run", "", "seed of every random draw", ">= 0, whole", config.seed, "int",
                0, 9999, 1),
    ]
    if not _has_range(exp):  # the f–I curve's neurons are its currents
        neurons = config.n_neurons
        out.append(Control("neurons", "neurons", "run", "", "neurons, each with its own input (a network: "
                           "scaled to about this many)", ">= 1, whole", neurons, "int", 1,
                           max(4 * neurons, 100), 1))
    return out


def _stimulus_controls(index: int, stimulus, table: dict, config) -> list[Control]:
    group, out = f"stimulus {index}: {stimulus.kind}", []
    if stimulus.kind == "square":
        for j, pulse in enumerate(table.get("pulses", [])):
            for k, (part, unit, span) in enumerate(PULSE):
                if _is_number(pulse[k]):
                    out.append(_number(f"stimulus.{index}.pulses.{j}.{k}", f"pulse {j} {part}", group, unit,
                                       f"pulse {j}: {part}", "start < stop" if k < 2 else "any finite value",
                                       float(pulse[k]), span, config))
        return out
    amplitude = table.get("amplitude")
    if isinstance(amplitude, dict) and set(amplitude) == {"start", "stop", "step"}:
        for part, meaning, span in RANGE:
            out.append(_number(f"stimulus.{index}.amplitude.{part}", f"current {part}", group, "mA",
                               f"one neuron per current: {meaning}", "step > 0, stop > start",
                               float(amplitude[part]), span, config))
    for name, (unit, meaning, valid, span) in STIMULUS.items():
        value = table.get(name, getattr(stimulus, name, None))  # a field the file leaves out: its default
        if hasattr(stimulus, name) and _is_number(value) and math.isfinite(value):  # not lists, tables, inf
            kind = "int" if name == "synapses" else "number"
            out.append(_number(f"stimulus.{index}.{name}", name, group, unit, meaning, valid, value, span, config,
                               kind))
    if stimulus.kind == "poisson":
        out.append(Control(f"stimulus.{index}.generation", "generation", group, "", "per_step: the article's draw "
                           "per synapse and step; event: the same process drawn per spike", "per_step or event",
                           stimulus.generation, "choice", choices=(("per_step", "per_step"), ("event", "event"))))
    return out


def _number(key, label, group, unit, meaning, valid, value, span, config, kind="number") -> Control:
    low, high = _span(span, value, config)
    step = 1 if kind == "int" else _nice((high - low) / SLIDER_STEPS)
    if kind != "int":
        low = math.floor(low / step) * step
    return Control(key, label, group, unit, meaning, valid, int(value) if kind == "int" else value, kind,
                   low, high, step)


def _span(kind: str, value: float, config) -> tuple[float, float]:
    """A slider's span around a value: the value may be typed beyond it."""
    magnitude = abs(value)
    if kind == "time":
        return 0.0, max(config.duration_ms, value)
    if kind == "count":
        return 1, max(4 * int(value), 10)
    if kind == "signed":
        return value - 2 * (magnitude + 1), value + 2 * (magnitude + 1)
    high = 4 * magnitude if magnitude else 1.0
    return (high / SLIDER_STEPS if kind == "positive" else 0.0), high


def _nice(x: float) -> float:
    """The nearest of 1, 2 or 5 times a power of ten at or below ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    return float(max(m for m in (1, 2, 5) if m * power <= x * (1 + 1e-9)) * power)


def _same_in_populations(config, name: str) -> bool:
    values = [getattr(p.model, name) for p in config.populations]
    return all(np.ndim(v) == 0 for v in values) and len({float(v) for v in values if v is not None}) <= 1


def _has_range(exp) -> bool:
    """Whether a value is a range {start, stop, step}: one neuron per value, so the range
    sets the neurons."""
    return any(isinstance(spec, dict) and set(spec) == {"start", "stop", "step"} for spec in exp.value_tables.values())


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_value(control: Control, raw):
    """A value from the page (JSON) or the URL (text) as the command line would read it:
    text that reads as a whole number is an int, other numbers are floats, anything else
    is refused for a number control; a choice must be one of its choices."""
    if control.kind == "choice":
        allowed = [c[0] for c in control.choices]
        if raw not in allowed:
            shown = ", ".join(repr(a) if not a else a for a in allowed)
            raise ParameterError(f"{control.key} must be one of {shown} (got {str(raw)[:80]!r})")
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                continue
        raise ParameterError(f"{control.key} must be a number (got {raw[:80]!r})")
    if not _is_number(raw):
        raise ParameterError(f"{control.key} must be a number (got {str(raw)[:80]})")
    return raw
