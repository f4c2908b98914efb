"""Experiments as TOML files: load, check, resolve into a `RunConfig`.

The built-in experiments (``square``, ``noise``, ``synaptic``, ``fi``) are such files,
shipped in ``lifsim/experiments/``; ``lifsim run PATH.toml`` runs a user's own.
Every refusal names the file and the key.

A file has top-level run settings, ``[model]``, one ``[[stimulus]]`` table per
stimulus, ``[record]`` and ``[plot]``; see ``docs/experiments.md``. A model value or a
current amplitude may be a number, a list (one per neuron), or a table:
``{start = a, stop = b, step = h}`` (``a, a+h, ...`` below ``b``),
``{uniform = [low, high]}`` or ``{normal = [mean, sd]}`` (drawn per neuron from the
run's seed).
"""

from __future__ import annotations

import json
import math
import tomllib
import zlib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import ParameterError, require_int
from .inputs import STIMULUS_KINDS
from .params import UNITS, LIFParams
from .recording import Record
from .run import RunConfig
from .timegrid import grid

#: Key of the random stream that draws per-neuron values given as distributions.
VALUE_STREAM = 2
PANELS = ("input_spikes", "i_in", "i_syn", "u", "raster", "fi")

NUMBER, INT, STR, BOOL, VALUES, NUMBERS, MATRIX, PULSES, STRINGS, NEURONS, NEURON_INDICES = (
    "a number", "a whole number", "a string", "true or false", "a number, a list of numbers or a "
    "value table", "a list of numbers", "a list of numbers or a list of equal-length lists of numbers",
    "a list of [start_ms, stop_ms, amplitude] triples (amplitude: a number, a list or a value table)",
    "a list of strings", "'all', 'none' or a list of neuron indices",
    "a neuron index or a list of them")

TOP_KEYS = {
    "name": STR, "description": STR, "duration_ms": NUMBER, "dt_ms": NUMBER, "method": STR,
    "methods": STRINGS, "engine": STR, "precision": STR, "seed": INT, "neurons": INT, "threads": INT,
}
TABLES = ("model", "record", "plot")
MODEL_KEYS = {f.name: VALUES for f in fields(LIFParams)}
RECORD_KEYS = {"variables": STRINGS, "neurons": NEURONS, "every": INT, "input_spikes": BOOL}
PLOT_KEYS = {"panels": STRINGS, "title": STR}
STIMULUS_KEYS = {
    "constant": {"amplitude": VALUES, "start_ms": NUMBER, "stop_ms": NUMBER},
    "square": {"pulses": PULSES},
    "noise": {"mean": NUMBER, "sd": NUMBER, "start_ms": NUMBER, "stop_ms": NUMBER},
    "poisson": {"synapses": INT, "rate_hz": NUMBER, "start_ms": NUMBER, "stop_ms": NUMBER,
                "weight_mean": NUMBER, "weight_sd": NUMBER, "weights": MATRIX, "q": NUMBER,
                "generation": STR},
    "spikes": {"times_ms": NUMBERS, "neuron": NEURON_INDICES, "weight": VALUES, "q": NUMBER},
}


@dataclass(frozen=True)
class Experiment:
    """A loaded experiment: the run, the figure's panels, and where it came from.

    ``methods`` lists the integration methods it runs with (``config.method`` is the
    first); an experiment with several runs once per method, as the f–I curve does.
    """

    config: RunConfig
    panels: tuple
    title: str
    description: str
    source: str
    methods: tuple = ()
    value_tables: dict = field(default_factory=dict)

    def configs(self) -> list[RunConfig]:
        """One run configuration per method."""
        return [self.config.replace(method=m) for m in self.methods or (self.config.method,)]

    def windows(self) -> list[tuple[float, float]]:
        """Stimulus windows (ms) within the run, for the printed summary."""
        out = []
        for stimulus in self.config.stimuli:
            if stimulus.kind == "square":
                spans = [(p[0], p[1]) for p in stimulus.pulses]
            else:
                spans = [(stimulus.start_ms, stimulus.stop_ms)] if hasattr(stimulus, "start_ms") else []
            out += [(max(0.0, float(a)), min(self.config.duration_ms, float(b))) for a, b in spans]
        return sorted(set(out)) or [(0.0, self.config.duration_ms)]


def builtin_names() -> tuple:
    """Names of the experiments shipped with lifsim."""
    return tuple(sorted(p.name[:-5] for p in resources.files("lifsim.experiments").iterdir()
                        if p.name.endswith(".toml")))


def load(name_or_path: str, **overrides) -> Experiment:
    """Load a built-in experiment by name, or a TOML file by path, then apply overrides.

    ``overrides`` are top-level settings (``engine``, ``dt_ms``, ``duration_ms``, ``seed``,
    ``method``, ``precision``, ``threads``, ``neurons``), or ``currents`` (mA, one per
    neuron) for the experiment's constant current; None leaves the file's value.
    """
    if name_or_path in builtin_names():
        source = f"{name_or_path}.toml (built-in)"
        text = resources.files("lifsim.experiments").joinpath(f"{name_or_path}.toml").read_text()
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ParameterError(f"experiment must be one of {', '.join(builtin_names())} or a .toml file "
                                 f"(no file {name_or_path!r})")
        source, text = str(path), path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{source}: not valid TOML: {error}") from None
    try:
        return _build(data, {k: v for k, v in overrides.items() if v is not None}, source)
    except ParameterError as error:
        raise ParameterError(f"{source}: {error}") from None


def _build(data: dict, overrides: dict, source: str) -> Experiment:
    _check_keys("", data, {**TOP_KEYS, **{t: "a table" for t in TABLES}, "stimulus": "a list of tables"})
    for key, kind in TOP_KEYS.items():
        if key in data:
            _check_type(key, data[key], kind)
    overrides = dict(overrides)
    for key, low in (("seed", 0), ("neurons", 1)):  # before any value is drawn with them
        if overrides.get(key, data.get(key)) is not None:
            require_int(key, overrides.get(key, data.get(key)), low=low)
    tables = _tables(data)
    if "currents" in overrides:
        tables = _with_currents(tables, overrides.pop("currents"))
    neurons = overrides.pop("neurons", data.get("neurons"))
    methods = _methods(data, overrides)
    settings = {k: data[k] for k in TOP_KEYS if k in data and k not in ("description", "neurons", "methods")}
    settings.update(overrides, method=methods[0])
    seed = settings.get("seed", RunConfig.seed)
    values = _ValueResolver(seed)
    model = LIFParams(**_resolve_table("model", data.get("model", {}), MODEL_KEYS, values, neurons))
    stimuli = tuple(_stimulus(i, table, values, neurons) for i, table in enumerate(tables))
    settings["n_neurons"] = neurons
    record = _record(data.get("record", {}))
    plot = data.get("plot", {})
    _check_keys("plot", plot, PLOT_KEYS)
    for key, kind in PLOT_KEYS.items():
        if key in plot:
            _check_type(f"plot.{key}", plot[key], kind)
    panels = tuple(plot.get("panels", ("i_in", "u")))
    for panel in panels:
        if panel not in PANELS:
            raise ParameterError(f"plot.panels must be among {', '.join(PANELS)} (got {panel!r})")
    config = RunConfig(model=model, stimuli=stimuli, record=record, **settings)
    for method in methods[1:]:
        config.replace(method=method)  # each method's run is checked too (dt limits differ)
    return Experiment(config, panels, plot.get("title", config.name), data.get("description", ""), source,
                      methods, values.tables)


def _methods(data: dict, overrides: dict) -> tuple:
    """The methods to run: the override, else ``methods``, else ``method``, else the default."""
    if "method" in data and "methods" in data:
        raise ParameterError("give either method or methods, not both")
    if overrides.get("method") is not None:
        return (overrides.pop("method"),)
    methods = tuple(data.get("methods", (data.get("method", RunConfig.method),)))
    if not methods:
        raise ParameterError("methods must list at least one method")
    return methods


def _with_currents(tables: list, currents) -> list:
    """The stimulus tables with the one constant current's amplitude set to ``currents``."""
    constant = [i for i, t in enumerate(tables) if t.get("kind") == "constant"]
    if len(constant) != 1:
        raise ParameterError("currents: the experiment needs exactly one constant-current stimulus to set "
                             f"(it has {len(constant)})")
    tables = [dict(t) for t in tables]
    tables[constant[0]]["amplitude"] = [float(c) for c in currents]
    return tables


def _tables(data):
    tables = data.get("stimulus", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ParameterError("stimulus must be a list of tables ([[stimulus]])")
    return tables


def _stimulus(index: int, table: dict, values, neurons):
    name = f"stimulus[{index}]"
    kind = table.get("kind")
    if not isinstance(kind, str) or kind not in STIMULUS_KINDS:
        raise ParameterError(f"{name}.kind must be one of {', '.join(STIMULUS_KINDS)} (got {kind!r})")
    keys = STIMULUS_KEYS[kind]
    body = {k: v for k, v in table.items() if k != "kind"}
    resolved = _resolve_table(name, body, keys, values, neurons)
    if kind == "square":
        resolved["pulses"] = tuple((float(a), float(b), values.resolve(f"{name}.pulses[{i}][2]", amp, neurons))
                                   for i, (a, b, amp) in enumerate(resolved["pulses"]))
    for key in ("weights", "times_ms", "neuron"):
        if isinstance(resolved.get(key), list):
            resolved[key] = np.asarray(resolved[key])
    return STIMULUS_KINDS[kind](**resolved)


def _record(table: dict) -> Record:
    _check_keys("record", table, RECORD_KEYS)
    for key, kind in RECORD_KEYS.items():
        if key in table:
            _check_type(f"record.{key}", table[key], kind)
    return Record(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


def _resolve_table(name: str, table: dict, keys: dict, values, neurons) -> dict:
    if not isinstance(table, dict):
        raise ParameterError(f"{name} must be a table")
    _check_keys(name, table, keys)
    out = {}
    for key, value in table.items():
        _check_type(f"{name}.{key}", value, keys[key])
        out[key] = values.resolve(f"{name}.{key}", value, neurons) if keys[key] == VALUES else value
    return out


def _check_keys(name: str, table: dict, allowed: dict) -> None:
    for key in table:
        if key not in allowed:
            where = f"{name}." if name else ""
            raise ParameterError(f"unknown key {where}{key}; allowed keys: {', '.join(allowed)}")


def _check_type(name: str, value, kind: str) -> None:
    ok = {
        NUMBER: lambda v: _is_number(v),
        INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        STR: lambda v: isinstance(v, str),
        BOOL: lambda v: isinstance(v, bool),
        VALUES: lambda v: _is_number(v) or _is_number_list(v) or isinstance(v, dict),
        NUMBERS: _is_number_list,
        MATRIX: lambda v: _is_number_list(v) or (isinstance(v, list) and all(map(_is_number_list, v))
                                                 and len({len(row) for row in v}) <= 1),
        PULSES: lambda v: isinstance(v, list) and all(
            isinstance(p, list) and len(p) == 3 and _is_number(p[0]) and _is_number(p[1])
            and (_is_number(p[2]) or _is_number_list(p[2]) or isinstance(p[2], dict)) for p in v),
        STRINGS: lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        NEURONS: lambda v: v in ("all", "none") or _is_index_list(v),
        NEURON_INDICES: lambda v: _is_index_list([v]) or _is_index_list(v),
    }[kind]
    if not ok(value):
        raise ParameterError(f"{name} must be {kind} (got {value!r})")


def _is_number_list(value) -> bool:
    return isinstance(value, list) and all(map(_is_number, value))


def _is_index_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _ValueResolver:
    """Turns value specs into numbers or per-neuron arrays, and remembers the table specs.

    A random spec draws from its own stream, keyed by the value's name, so that the
    values do not depend on the order of the keys in the file.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.tables = {}

    def resolve(self, name: str, spec, neurons):
        if _is_number(spec):
            return float(spec)
        if isinstance(spec, list):
            return np.asarray(spec, dtype=float)
        self.tables[name] = spec
        if set(spec) == {"start", "stop", "step"}:
            return _arange(name, spec)
        if len(spec) == 1 and next(iter(spec)) in ("uniform", "normal"):
            return self._draw(name, spec, neurons)
        raise ParameterError(f"{name} must be a number, a list, {{start, stop, step}}, {{uniform = [low, high]}} "
                             f"or {{normal = [mean, sd]}} (got {spec!r})")

    def _draw(self, name, spec, neurons):
        (law, pair), = spec.items()
        if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_number, pair))):
            raise ParameterError(f"{name}.{law} must be a list of two numbers (got {pair!r})")
        if neurons is None:
            raise ParameterError(f"{name}: a random per-neuron value needs 'neurons' to be set")
        stream = np.random.SeedSequence(self.seed, spawn_key=(VALUE_STREAM, zlib.crc32(name.encode())))
        rng = np.random.default_rng(stream)
        if law == "uniform":
            return rng.uniform(pair[0], pair[1], size=neurons)
        if pair[1] < 0:
            raise ParameterError(f"{name}.normal sd must be >= 0 (got {pair[1]:g})")
        return rng.normal(pair[0], pair[1], size=neurons)


def _arange(name, spec):
    start, stop, step = (spec[k] for k in ("start", "stop", "step"))
    if not all(map(_is_number, (start, stop, step))) or not step > 0 or not stop > start:
        raise ParameterError(f"{name} needs numbers with step > 0 and stop > start (got {spec!r})")
    return grid(start, stop, step)


# ---------------------------------------------------------------- lifsim show

def render(exp: Experiment) -> str:
    """The experiment as TOML with every default filled in; loading it gives the same run."""
    config = exp.config
    top = {"name": config.name, "description": exp.description, "duration_ms": config.duration_ms,
           "dt_ms": config.dt_ms}
    top.update({"methods": list(exp.methods)} if len(exp.methods) > 1 else {"method": config.method})
    top.update(engine=config.engine, precision=config.precision, seed=config.seed, neurons=config.n_neurons)
    if config.threads is not None:
        top["threads"] = config.threads
    lines = [f"# {exp.source}, resolved: every default filled in", ""]
    lines += [f"{key} = {_toml(value)}" for key, value in top.items()]
    lines += ["", "[model]"]
    lines += [_line(f"model.{f.name}", f.name, getattr(config.model, f.name), exp, f"  # {UNITS[f.name]}")
              for f in fields(LIFParams)]
    for i, stimulus in enumerate(config.stimuli):
        lines += ["", "[[stimulus]]", f'kind = "{stimulus.kind}"']
        for f in fields(stimulus):
            value = getattr(stimulus, f.name)
            if value is None:
                lines.append(f"# {f.name}: not given (drawn from weight_mean, weight_sd)")
            else:
                lines.append(_line(f"stimulus[{i}].{f.name}", f.name, value, exp))
    record = config.record
    lines += ["", "[record]", f"variables = {_toml(list(record.variables))}",
              f"neurons = {_toml(record.neurons if isinstance(record.neurons, str) else list(record.neurons))}",
              f"every = {record.every}", f"input_spikes = {_toml(record.input_spikes)}",
              "", "[plot]", f"title = {_toml(exp.title)}", f"panels = {_toml(list(exp.panels))}"]
    return "\n".join(lines) + "\n"


def _line(name: str, key: str, value, exp: Experiment, comment: str = "") -> str:
    spec = exp.value_tables.get(name)
    if spec is not None:  # a per-neuron value given as a table: keep the table, it is shorter
        values = np.asarray(value)
        comment += f"  # {values.size} values, {values.min():g} to {values.max():g}"
        return f"{key} = {_toml(spec)}{comment}"
    return f"{key} = {_toml(value)}{comment}"


def _toml(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(_toml(v) for v in value) + "]"
