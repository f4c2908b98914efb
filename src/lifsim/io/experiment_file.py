"""Experiments as TOML files: load, check, resolve into a `RunConfig`.

The built-in experiments (``square``, ``noise``, ``synaptic``, ``fi``, ``cuba``,
``brunel``) are such files, shipped in ``lifsim/experiments/``; ``lifsim run PATH.toml``
runs a user's own. Every refusal names the file and the key.

A file has top-level run settings, ``[model]``, one ``[[stimulus]]`` table per
stimulus, ``[record]`` and ``[plot]``; a network adds ``[[population]]`` and
``[[projection]]`` tables (``[model]`` then holds the values every population shares).
See ``docs/experiments.md``. A model value or a current amplitude may be a number, a
list (one per neuron), or a table: ``{start = a, stop = b, step = h}`` (``a, a+h, ...``
below ``b``), ``{uniform = [low, high]}`` or ``{normal = [mean, sd]}`` (drawn per neuron
from the run's seed). A population's ``size`` and a projection's ``k`` may be
``{order = x}``: ``x`` times the file's ``order``, rounded, so that ``--order`` scales
the network.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

import numpy as np

from ..distributions import Uniform, from_table, is_distribution
from ..errors import ParameterError, require_choice, require_int
from ..network.population import Population
from ..network.projection import Projection
from ..neuron.params import UNITS, LIFParams
from ..neuron.rule import METHODS
from ..recording import VARIABLES, Record
from ..simulation.config import RunConfig
from ..stimuli import STIMULUS_KINDS
from ..streams import value_rng
from ..synapses.receptor import Receptor
from ..timegrid import grid

PANELS = ("input_spikes", "i_in", "i_syn", "u", "raster", "rate", "cv", "fi")
#: The neurons whose traces a file records when its [record] names none: a few, spread evenly
#: (spikes are kept for every neuron), so that a population does not drown in traces.
DEFAULT_RECORD_NEURONS = "sample"
#: The panels of a population's figure when the file names none.
POPULATION_PANELS = ("raster", "rate", "u", "cv")

(NUMBER, INT, STR, BOOL, VALUES, NUMBERS, MATRIX, PULSES, STRINGS, NEURONS, NEURON_INDICES, SIZE, RECEPTORS,
 WEIGHTS, DELAYS, INDICES) = (
    "a number", "a whole number", "a string", "true or false", "a number, a list of numbers or a "
    "value table", "a list of numbers", "a list of numbers or a list of equal-length lists of numbers",
    "a list of [start_ms, stop_ms, amplitude] triples (amplitude: a number, a list or a value table)",
    "a list of strings", "'all', 'none', 'sample', a list of neuron indices or a table of them per population",
    "a neuron index or a list of them", "a whole number or {order = factor}",
    "a list of tables {name, kind, tau_ms}", "a number, a list of numbers, {normal = [mean, sd]} or "
    "{uniform = [low, high]}", "a number, a list of numbers or {uniform = [low, high]}",
    "a list of whole numbers")
TABLE, TABLE_LIST = "a table", "a list of tables"

TOP_KEYS = {
    "name": STR, "description": STR, "duration_ms": NUMBER, "dt_ms": NUMBER, "method": STR,
    "methods": STRINGS, "engine": STR, "precision": STR, "seed": INT, "neurons": INT, "threads": INT, "order": INT,
}
TABLES = ("model", "record", "plot")
LISTS = ("stimulus", "population", "projection")
MODEL_KEYS = {f.name: VALUES for f in fields(LIFParams)}
RECORD_KEYS = {"variables": STRINGS, "neurons": NEURONS, "every": INT, "input_spikes": BOOL}
PLOT_KEYS = {"panels": STRINGS, "title": STR}
POPULATION_KEYS = {"name": STR, "size": SIZE, "receptors": RECEPTORS, "u_init": VALUES, "model": TABLE}
RECEPTOR_KEYS = {"name": STR, "kind": STR, "tau_ms": NUMBER}
PROJECTION_KEYS = {"source": STR, "target": STR, "rule": STR, "receptor": STR, "p": NUMBER, "k": SIZE,
                   "pre": INDICES, "post": INDICES, "weight": WEIGHTS, "delay_ms": DELAYS, "autapses": BOOL,
                   "multapses": BOOL}
#: The type of each stimulus key; the keys themselves are each stimulus class's fields.
STIMULUS_FIELD_KINDS = {
    "amplitude": VALUES, "start_ms": NUMBER, "stop_ms": NUMBER, "pulses": PULSES, "mean": NUMBER, "sd": NUMBER,
    "synapses": INT, "rate_hz": NUMBER, "weight_mean": NUMBER, "weight_sd": NUMBER, "weights": MATRIX, "q": NUMBER,
    "generation": STR, "times_ms": NUMBERS, "neuron": NEURON_INDICES, "weight": VALUES, "population": STR,
    "receptor": STR, "samples": NUMBERS, "sample_dt_ms": NUMBER,
}
STIMULUS_KEYS = {kind: {f.name: STIMULUS_FIELD_KINDS[f.name] for f in fields(cls)}
                 for kind, cls in STIMULUS_KINDS.items()}
STIMULUS_KEYS["poisson_input"]["weight"] = NUMBER


@dataclass(frozen=True)
class Experiment:
    """A loaded experiment: the run, the figure's panels, and where it came from.

    ``methods`` lists the integration methods it runs with (``config.method`` is the
    first); an experiment with several runs once per method, as the f–I curve does.
    ``order`` is a network's scale (None when its sizes do not follow one).
    """

    config: RunConfig
    panels: tuple
    title: str
    description: str
    source: str
    methods: tuple = ()
    value_tables: dict = field(default_factory=dict)
    order: int | None = None

    def configs(self) -> list[RunConfig]:
        """One run configuration per method."""
        return [self.config.replace(method=m) for m in self.methods or (self.config.method,)]

    def only(self, config: RunConfig) -> "Experiment":
        """This experiment with one of its runs alone (a method of `configs`)."""
        return replace(self, config=config, methods=(config.method,))

    def windows(self) -> list[tuple[float, float]]:
        """Stimulus windows (ms) within the run, for the printed summary."""
        out = [(max(0.0, float(a)), min(self.config.duration_ms, float(b)))
               for stimulus in self.config.stimuli for a, b in stimulus.windows_ms()]
        return sorted(set(out)) or [(0.0, self.config.duration_ms)]


def builtin_names() -> tuple:
    """Names of the experiments shipped with lifsim."""
    return tuple(sorted(p.name[:-5] for p in resources.files("lifsim.experiments").iterdir()
                        if p.name.endswith(".toml")))


def builtin_sweeps() -> tuple:
    """Names of the sweeps shipped with lifsim (experiments with a ``[sweep]`` table)."""
    return tuple(sorted(p.name[:-5] for p in resources.files("lifsim.experiments.sweeps").iterdir()
                        if p.name.endswith(".toml")))


def load(name_or_path: str, **overrides) -> Experiment:
    """Load a built-in experiment by name, or a TOML file by path, then apply overrides.

    ``overrides`` are top-level settings (``engine``, ``dt_ms``, ``duration_ms``, ``seed``,
    ``method``, ``precision``, ``threads``, ``neurons``, ``order``), or ``currents`` (mA,
    one per neuron) for the experiment's constant current; None leaves the file's value.
    For a network, ``neurons`` scales it to that many neurons and ``order`` sets its scale
    (see ``docs/experiments.md``). A ``[sweep]`` table (`lifsim.sweep`) is not part of the run.
    """
    data, source = read_data(name_or_path)
    return from_data(data, source, **overrides)


def read_data(name_or_path: str) -> tuple[dict, str]:
    """The parsed TOML of a built-in experiment or a file, and where it came from."""
    source, text = read_text(name_or_path)
    return parse(text, source), source


def read_text(name_or_path: str) -> tuple[str, str]:
    """Where an experiment comes from (a built-in experiment's or sweep's name, or a file
    path) and its TOML text."""
    if name_or_path in builtin_names():
        return f"{name_or_path}.toml (built-in)", resources.files("lifsim.experiments").joinpath(
            f"{name_or_path}.toml").read_text()
    if name_or_path in builtin_sweeps():
        return f"{name_or_path}.toml (built-in sweep)", resources.files("lifsim.experiments.sweeps").joinpath(
            f"{name_or_path}.toml").read_text()
    path = Path(name_or_path)
    if not path.is_file():
        raise ParameterError(f"experiment must be one of {', '.join(builtin_names() + builtin_sweeps())} or a "
                             f".toml file (no file {name_or_path!r})")
    return str(path), _read(path)


def parse(text: str, source: str) -> dict:
    """An experiment's TOML text as a dict (refused with the source's name when not TOML)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{source}: not valid TOML: {error}") from None
    except RecursionError:
        raise ParameterError(f"{source}: not an experiment file: its tables or arrays nest too deeply") from None


def from_data(data: dict, source: str, **overrides) -> Experiment:
    """The experiment a parsed TOML dict describes, with overrides as in `load`; messages
    start with ``source``."""
    data = {k: v for k, v in data.items() if k != "sweep"}
    try:
        return _build(data, {k: v for k, v in overrides.items() if v is not None}, source)
    except ParameterError as error:
        raise ParameterError(f"{source}: {error}") from None


#: Largest experiment file read, bytes.
MAX_FILE_BYTES = 1 << 28


def _read(path: Path) -> str:
    """The file's text: UTF-8, as TOML requires, and of a reasonable size."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ParameterError(f"{path}: an experiment file must be at most {MAX_FILE_BYTES >> 20} MiB")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ParameterError(f"{path}: an experiment file must be UTF-8 text (byte {error.start} is not)") from None
    except OSError as error:
        raise ParameterError(f"{path}: cannot be read ({error.strerror})") from None


def _check_panels(panels: tuple, config: RunConfig) -> None:
    """Refuse, before the run, panels that would have nothing to draw."""
    if not panels:
        raise ParameterError("plot.panels must name at least one panel")
    traced = config.record.variables if config.record.count(config.n_neurons) else ()
    for panel in panels:
        if panel in VARIABLES and panel not in traced:
            raise ParameterError(f"plot.panels: {panel!r} needs {panel} recorded (record.variables, and "
                                 "record.neurons not empty)")
        if panel == "input_spikes" and not config.record.input_spikes:
            raise ParameterError("plot.panels: 'input_spikes' needs record.input_spikes = true")
        if panel == "fi" and not any(s.kind == "constant" for s in config.stimuli):
            raise ParameterError("plot.panels: 'fi' needs a constant current stimulus (one current per neuron)")


def _build(data: dict, overrides: dict, source: str) -> Experiment:
    _check_table("", data, {**TOP_KEYS, **{t: TABLE for t in TABLES}, **{k: TABLE_LIST for k in LISTS}})
    overrides = dict(overrides)
    for key, low in (("seed", 0), ("neurons", 1), ("order", 1)):  # before any value is drawn with them
        if overrides.get(key, data.get(key)) is not None:
            require_int(key, overrides.get(key, data.get(key)), low=low)
    network = "population" in data
    tables = _tables(data, "stimulus")
    if "currents" in overrides:
        tables = _with_currents(tables, overrides.pop("currents"))
    methods = _methods(data, overrides)
    settings = {k: data[k] for k in TOP_KEYS if k in data and k not in ("description", "neurons", "methods", "order")}
    neurons, order = overrides.pop("neurons", data.get("neurons")), overrides.pop("order", None)
    settings.update(overrides, method=methods[0])
    values = _ValueResolver(settings.get("seed", RunConfig.seed))
    if network:
        order = _network(data, values, settings, neurons, order)
        sizes = {p.name: p.size for p in settings["populations"]}
    else:
        if order is not None or "order" in data:
            raise ParameterError("order: only a network ([[population]] tables) has an order to set")
        settings["model"] = LIFParams(**_resolve_table("model", data.get("model", {}), MODEL_KEYS, values, neurons))
        settings["n_neurons"] = neurons
        sizes = {}
    settings["stimuli"] = tuple(_stimulus(i, table, values, sizes, neurons) for i, table in enumerate(tables))
    settings["record"] = _record(data.get("record", {}), settings.get("populations", ()))
    panels, title = _plot(data.get("plot", {}), network or (neurons or 1) > 1)
    config = RunConfig(**settings)
    _check_panels(panels, config)
    for method in methods[1:]:
        config.replace(method=method)  # each method's run is checked too (dt limits differ)
    return Experiment(config, panels, title or config.name, data.get("description", ""), source, methods,
                      values.tables, order)


def _plot(plot, population: bool):
    if not isinstance(plot, dict):
        raise ParameterError("plot must be a table")
    _check_table("plot", plot, PLOT_KEYS)
    panels = tuple(plot.get("panels", POPULATION_PANELS if population else ("i_in", "u")))
    for panel in panels:
        if panel not in PANELS:
            raise ParameterError(f"plot.panels must be among {', '.join(PANELS)} (got {panel!r})")
    return panels, plot.get("title")


def _methods(data: dict, overrides: dict) -> tuple:
    """The methods to run: the override, else ``methods``, else ``method``, else the default."""
    if "method" in data and "methods" in data:
        raise ParameterError("give either method or methods, not both")
    if overrides.get("method") is not None:
        return (overrides.pop("method"),)
    methods = tuple(data.get("methods", (data.get("method", RunConfig.method),)))
    if not methods:
        raise ParameterError("methods must list at least one method")
    for method in methods:
        require_choice("methods" if "methods" in data else "method", method, METHODS)
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


def _tables(data, key):
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ParameterError(f"{key} must be a list of tables ([[{key}]])")
    return tables


# ---------------------------------------------------------------- networks


def _network(data: dict, values, settings: dict, neurons, order) -> int | None:
    """Populations and projections into ``settings``; returns the order used (None without one)."""
    if "neurons" in data:
        raise ParameterError("neurons: a network's size is the sum of its populations' sizes")
    populations, projections = _tables(data, "population"), _tables(data, "projection")
    if not populations:
        raise ParameterError("population: a network needs at least one [[population]]")
    for i, table in enumerate(populations):
        _check_table(f"population[{i}]", table, POPULATION_KEYS)
    for i, table in enumerate(projections):
        _check_table(f"projection[{i}]", table, PROJECTION_KEYS)
    file_order = data.get("order")
    order = order if order is not None else file_order
    sizes = [_size(f"population[{i}].size", t.get("size"), order, values) for i, t in enumerate(populations)]
    scale = 1.0
    if neurons is not None:
        if file_order is not None:
            order = _rescaled_order(order, neurons, sum(sizes))
            sizes = [_size(f"population[{i}].size", t.get("size"), order, values) for i, t in enumerate(populations)]
        else:
            sizes, scale = _scaled_sizes(sizes, neurons), neurons / sum(sizes)
    shared = data.get("model", {})
    if not isinstance(shared, dict):
        raise ParameterError("model must be a table")
    _check_keys("model", shared, MODEL_KEYS)
    settings["populations"] = tuple(_population(i, t, size, shared, values)
                                    for i, (t, size) in enumerate(zip(populations, sizes)))
    settings["projections"] = tuple(_projection(i, t, order, scale, values) for i, t in enumerate(projections))
    return order


def _rescaled_order(order, neurons: int, total: int) -> int:
    rescaled = round(order * neurons / total)
    if rescaled < 1:
        raise ParameterError(f"neurons: {neurons} neurons is less than one order of this network "
                             f"({total / order:g} neurons per order)")
    return rescaled


def _scaled_sizes(sizes: list, neurons: int) -> list:
    """Sizes in the same proportions adding up to ``neurons`` (the largest takes the rounding)."""
    if neurons < len(sizes):
        raise ParameterError(f"neurons must be >= {len(sizes)} for this network (one per population)")
    scaled = [max(1, round(s * neurons / sum(sizes))) for s in sizes]
    largest = int(np.argmax(scaled))
    scaled[largest] += neurons - sum(scaled)
    if scaled[largest] < 1:
        raise ParameterError(f"neurons: {neurons} is too few to keep every population")
    return scaled


def _size(name: str, spec, order, values) -> int:
    """A size or in/out-degree: a whole number, or ``{order = factor}`` times the order."""
    if spec is None:
        raise ParameterError(f"{name} is needed")
    if isinstance(spec, dict):
        if set(spec) != {"order"} or not _is_number(spec["order"]) or spec["order"] < 0:
            raise ParameterError(f"{name} must be a whole number or {{order = factor}} with factor >= 0 "
                                 f"(got {spec!r})")
        if order is None:
            raise ParameterError(f"{name}: {{order = ...}} needs the file's order")
        values.tables[name] = spec
        return int(round(spec["order"] * order))
    return spec


def _population(index: int, table: dict, size: int, shared: dict, values) -> Population:
    name = f"population[{index}]"
    if "name" not in table:
        raise ParameterError(f"{name}.name is needed")
    model_table = table.get("model", {})
    if not isinstance(model_table, dict):
        raise ParameterError(f"{name}.model must be a table")
    _check_keys(f"{name}.model", model_table, MODEL_KEYS)
    stream = f"population.{table['name']}.model"  # its drawn values' names: shared or its own, one stream each
    resolved = _resolve_table("model", shared, MODEL_KEYS, values, size, stream)
    resolved.update(_resolve_table(f"{name}.model", model_table, MODEL_KEYS, values, size, stream))
    receptors = tuple(_receptor(f"{name}.receptors[{j}]", r) for j, r in enumerate(table.get("receptors", [{}])))
    u_init = table.get("u_init")
    if isinstance(u_init, dict) and set(u_init) <= {"uniform", "normal"}:
        u_init = from_table(f"{name}.u_init", u_init)
    elif u_init is not None:
        u_init = values.resolve(f"{name}.u_init", u_init, size)
    try:
        return Population(table["name"], size, LIFParams(**resolved), receptors, u_init)
    except ParameterError as error:
        raise ParameterError(f"{name}: {error}") from None


def _receptor(name: str, table) -> Receptor:
    _check_table(name, table, RECEPTOR_KEYS)
    try:
        return Receptor(**table)
    except ParameterError as error:
        raise ParameterError(f"{name}: {error}") from None


def _projection(index: int, table: dict, order, scale: float, values) -> Projection:
    name = f"projection[{index}]"
    for key in ("source", "target"):
        if key not in table:
            raise ParameterError(f"{name}.{key} is needed")
    resolved = dict(table)
    if "k" in table:
        resolved["k"] = _size(f"{name}.k", table["k"], order, values)
    if "p" in table and scale != 1.0:
        resolved["p"] = table["p"] / scale  # the expected in-degree stays as the network scales
        if resolved["p"] > 1.0:
            raise ParameterError(f"{name}.p: scaled to {resolved['p']:g} > 1 for this many fewer neurons")
    for key in ("weight", "delay_ms"):
        value = table.get(key)
        if isinstance(value, dict):
            resolved[key] = from_table(f"{name}.{key}", value)
        elif isinstance(value, list):
            resolved[key] = np.asarray(value, dtype=float)
    for key in ("pre", "post"):
        if key in table:
            resolved[key] = np.asarray(table[key], dtype=np.int64)
    return Projection(**resolved)


# ---------------------------------------------------------------- stimuli, recording


def _stimulus(index: int, table: dict, values, sizes: dict, neurons):
    name = f"stimulus[{index}]"
    kind = table.get("kind")
    if not isinstance(kind, str) or kind not in STIMULUS_KINDS:
        raise ParameterError(f"{name}.kind must be one of {', '.join(STIMULUS_KINDS)} (got {kind!r})")
    keys = STIMULUS_KEYS[kind]
    body = {k: v for k, v in table.items() if k != "kind"}
    population = body.get("population")
    size = sizes.get(population, sum(sizes.values()) or None) if sizes else neurons
    resolved = _resolve_table(name, body, keys, values, size)
    if kind == "square":
        resolved["pulses"] = tuple((float(a), float(b), values.resolve(f"{name}.pulses[{i}][2]", amp, size))
                                   for i, (a, b, amp) in enumerate(resolved["pulses"]))
    for key in ("weights", "times_ms", "neuron"):
        if isinstance(resolved.get(key), list):
            resolved[key] = np.asarray(resolved[key])
    return STIMULUS_KINDS[kind](**resolved)


def _record(table: dict, populations) -> Record:
    if not isinstance(table, dict):
        raise ParameterError("record must be a table")
    _check_table("record", table, RECORD_KEYS)
    resolved = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}
    resolved.setdefault("neurons", DEFAULT_RECORD_NEURONS)
    if isinstance(table.get("neurons"), dict):
        resolved["neurons"] = _per_population_neurons(table["neurons"], populations)
    return Record(**resolved)


def _per_population_neurons(table: dict, populations) -> tuple:
    """``{E = [0, 1], I = "all"}`` as global neuron indices (populations end to end)."""
    offsets = dict(zip([p.name for p in populations], np.cumsum([0] + [p.size for p in populations])))
    sizes = {p.name: p.size for p in populations}
    out = []
    for name, chosen in table.items():
        if name not in sizes:
            raise ParameterError(f"record.neurons: no population {name!r} (there are {', '.join(sizes)})")
        local = range(sizes[name]) if chosen == "all" else chosen
        if chosen != "all" and not _is_index_list(chosen):
            raise ParameterError(f"record.neurons.{name} must be 'all' or a list of indices (got {chosen!r})")
        for i in local:
            if not 0 <= i < sizes[name]:
                raise ParameterError(f"record.neurons.{name} must be in [0, {sizes[name] - 1}] (got {i})")
            out.append(int(offsets[name] + i))
    return tuple(out)


def _resolve_table(name: str, table: dict, keys: dict, values, neurons, stream: str | None = None) -> dict:
    """The table's values checked and resolved; drawn ones named ``stream.key`` (default ``name.key``)."""
    if not isinstance(table, dict):
        raise ParameterError(f"{name} must be a table")
    _check_keys(name, table, keys)
    out = {}
    for key, value in table.items():
        _check_type(f"{name}.{key}", value, keys[key])
        out[key] = values.resolve(f"{stream or name}.{key}", value, neurons) if keys[key] == VALUES else value
    return out


def _check_table(name: str, table: dict, keys: dict) -> None:
    """Unknown keys refused, and every present value of its kind; nested tables are checked
    where they are read."""
    _check_keys(name, table, keys)
    for key, kind in keys.items():
        if key in table and kind not in (TABLE, TABLE_LIST):
            _check_type(f"{name}.{key}" if name else key, table[key], kind)


def _check_keys(name: str, table: dict, allowed: dict) -> None:
    if not isinstance(table, dict):
        raise ParameterError(f"{name} must be a table")
    for key in table:
        if key not in allowed:
            where = f"{name}." if name else ""
            raise ParameterError(f"unknown key {where}{key}; allowed keys: {', '.join(allowed)}")


def _check_type(name: str, value, kind: str) -> None:
    ok = {
        NUMBER: _is_number,
        INT: _is_int,
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
        NEURONS: lambda v: v in ("all", "none", "sample") or _is_index_list(v) or isinstance(v, dict),
        NEURON_INDICES: lambda v: _is_index_list([v]) or _is_index_list(v),
        SIZE: lambda v: _is_int(v) or isinstance(v, dict),
        RECEPTORS: lambda v: isinstance(v, list) and len(v) > 0 and all(isinstance(r, dict) for r in v),
        WEIGHTS: lambda v: _is_number(v) or _is_number_list(v) or isinstance(v, dict),
        DELAYS: lambda v: _is_number(v) or _is_number_list(v) or isinstance(v, dict),
        INDICES: _is_index_list,
    }[kind]
    if not ok(value):
        raise ParameterError(f"{name} must be {kind} (got {value!r})")


def _is_number_list(value) -> bool:
    return isinstance(value, list) and all(map(_is_number, value))


def _is_index_list(value) -> bool:
    return isinstance(value, list) and all(_is_int(x) for x in value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
        law = from_table(name, spec)
        if neurons is None:
            raise ParameterError(f"{name}: a random per-neuron value needs 'neurons' to be set")
        return law.draw(value_rng(self.seed, name), neurons)


def _arange(name, spec):
    start, stop, step = (spec[k] for k in ("start", "stop", "step"))
    if not all(map(_is_number, (start, stop, step))) or not step > 0 or not stop > start:
        raise ParameterError(f"{name} needs numbers with step > 0 and stop > start (got {spec!r})")
    return grid(start, stop, step, name)


# ---------------------------------------------------------------- lifsim show

#: What a key left out (None) means, for the comments of `render`.
NOT_GIVEN = {"weights": "drawn from weight_mean and weight_sd", "population": "every neuron of the run",
             "receptor": "the target's first receptor", "u_init": "u_rest", "delay_ms": "one step",
             "p": None, "k": None, "pre": None, "post": None, "tau_ms": "the population's tau_syn"}


def render(exp: Experiment) -> str:
    """The experiment as TOML with every default filled in; loading it gives the same run."""
    config = exp.config
    top = {"name": config.name, "description": exp.description, "duration_ms": config.duration_ms,
           "dt_ms": config.dt_ms}
    top.update({"methods": list(exp.methods)} if len(exp.methods) > 1 else {"method": config.method})
    top.update(engine=config.engine, precision=config.precision, seed=config.seed)
    if not config.populations:
        top["neurons"] = config.n_neurons
    if exp.order is not None:
        top["order"] = exp.order
    if config.threads is not None:
        top["threads"] = config.threads
    lines = [f"# {exp.source}, resolved: every default filled in", ""]
    lines += [f"{key} = {_toml(value)}" for key, value in top.items()]
    if config.populations:
        lines += _render_network(exp)
    else:
        lines += ["", "[model]"] + _render_model("model", config.model, exp)
    for i, stimulus in enumerate(config.stimuli):
        lines += ["", "[[stimulus]]", f'kind = "{stimulus.kind}"']
        lines += _render_fields(f"stimulus[{i}]", stimulus, exp)
    record = config.record
    lines += ["", "[record]", f"variables = {_toml(list(record.variables))}",
              f"neurons = {_toml(record.neurons if isinstance(record.neurons, str) else list(record.neurons))}",
              f"every = {record.every}", f"input_spikes = {_toml(record.input_spikes)}",
              "", "[plot]", f"title = {_toml(exp.title)}", f"panels = {_toml(list(exp.panels))}"]
    return "\n".join(lines) + "\n"


def render_config(config: RunConfig) -> str:
    """A run as TOML (`render` of an experiment with that run alone and the default figure)."""
    panels, _ = _plot({}, bool(config.populations) or config.n_neurons > 1)
    return render(Experiment(config, panels, config.name, "", "a run of lifsim.simulate", (config.method,)))


def _render_model(name: str, model: LIFParams, exp: Experiment) -> list:
    return [_line(f"{name}.{f.name}", f.name, model.reset if f.name == "u_reset" else getattr(model, f.name),
                  exp, f"  # {UNITS[f.name]}") for f in fields(LIFParams)]


def _render_network(exp: Experiment) -> list:
    lines = []
    for i, population in enumerate(exp.config.populations):
        receptors = [{k: v for k, v in (("name", r.name), ("kind", r.kind), ("tau_ms", r.tau_ms)) if v is not None}
                     for r in population.receptors]
        lines += ["", "[[population]]", f"name = {_toml(population.name)}",
                  _line(f"population[{i}].size", "size", population.size, exp),
                  f"receptors = {_toml(receptors)}"]
        if population.u_init is None:
            lines.append(f"# u_init: not given ({NOT_GIVEN['u_init']})")
        else:
            lines.append(_line(f"population[{i}].u_init", "u_init", _spec(population.u_init), exp, "  # mV"))
        lines += ["", "[population.model]"]
        lines += _render_model(f"population.{population.name}.model", population.model, exp)
    for i, projection in enumerate(exp.config.projections):
        lines += ["", "[[projection]]"] + _render_fields(f"projection[{i}]", projection, exp)
    return lines


def _render_fields(name: str, item, exp: Experiment) -> list:
    lines = []
    for f in fields(item):
        value = getattr(item, f.name)
        if value is None:
            if NOT_GIVEN.get(f.name):
                lines.append(f"# {f.name}: not given ({NOT_GIVEN[f.name]})")
        else:
            lines.append(_line(f"{name}.{f.name}", f.name, _spec(value), exp))
    return lines


def _spec(value):
    return value.as_table() if is_distribution(value) else value


def _line(name: str, key: str, value, exp: Experiment, comment: str = "") -> str:
    spec = exp.value_tables.get(name)
    if spec is not None:  # a value given as a table: keep the table, it is shorter
        values = np.asarray(value)
        if values.size > 1:
            comment += f"  # {values.size} values, {values.min():g} to {values.max():g}"
        return f"{key} = {_toml(spec)}{comment}"
    return f"{key} = {_toml(value)}{comment}"


def _toml(value) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (bool, np.bool_)):
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
