"""A sweep's grid: axes over keys of an experiment file, points, trials and their seeds.

An axis sets one or more keys of the experiment's TOML, addressed by dotted paths
(``model.tau_m``, ``stimulus.0.amplitude``, ``projection.2.weight``; list items by their
index): each key takes the axis value times its factor (1 unless given). Points are the
axes' Cartesian product in row-major order (the last axis fastest); each point runs
``trials`` times, and trial ``t`` of point ``p`` draws from a seed that numpy's
``SeedSequence`` derives from the sweep's seed, ``p`` and ``t`` alone (`run_seeds`).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ParameterError, require_int
from ..timegrid import MAX_GRID, grid

#: Keys a ``[sweep]`` table may hold.
SWEEP_KEYS = ("grid", "axis", "trials", "seed", "metrics", "plot", "batch_neurons")
#: Most point × trial rows a sweep may have (its table must fit in memory and on disk).
MAX_ROWS = 10**8
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")


@dataclass(frozen=True)
class Axis:
    """One grid axis: its ``name`` (a column of the table), its ``values``, and the keys it
    sets, each to ``value × factor``."""

    name: str
    values: tuple
    keys: tuple  # ((dotted key, factor), ...)

    def settings(self, value) -> dict:
        return {key: value if factor == 1 else value * factor for key, factor in self.keys}


@dataclass(frozen=True)
class Grid:
    axes: tuple
    trials: int = 1
    seed: int = 0

    @property
    def shape(self) -> tuple:
        return tuple(len(a.values) for a in self.axes)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    @property
    def n_rows(self) -> int:
        return self.n_points * self.trials

    def point(self, index: int) -> dict:
        """Axis name → value of point ``index``."""
        where = np.unravel_index(index, self.shape) if self.axes else ()
        return {a.name: a.values[i] for a, i in zip(self.axes, where)}

    def settings(self, index: int) -> dict:
        """Dotted key → value of point ``index``."""
        out = {}
        for axis, value in zip(self.axes, self.point(index).values()):
            out.update(axis.settings(value))
        return out


#: Points whose seeds one `numpy.random.SeedSequence` gives at once (for each trial).
SEED_BLOCK = 4096


def run_seeds(sweep_seed: int, points, trials) -> np.ndarray:
    """The seed of each (point, trial): word ``point % SEED_BLOCK`` (its top bit cleared) of
    ``SeedSequence(sweep seed, spawn_key=(point // SEED_BLOCK, trial)).generate_state``. It
    depends on the sweep's seed and the two indices alone, never on the batch or worker."""
    points, trials = np.asarray(points, np.int64), np.asarray(trials, np.int64)
    out = np.empty(points.size, np.int64)
    span = int(trials.max(initial=0)) + 1
    groups, which = np.unique(points // SEED_BLOCK * span + trials, return_inverse=True)
    for g, key in enumerate(groups.tolist()):
        here = which == g
        out[here] = _seed_block(sweep_seed, key // span, key % span)[points[here] % SEED_BLOCK]
    return out


@lru_cache(maxsize=256)
def _seed_block(sweep_seed: int, block: int, trial: int) -> np.ndarray:
    words = np.random.SeedSequence(sweep_seed, spawn_key=(block, trial)).generate_state(SEED_BLOCK, np.uint64)
    return (words >> np.uint64(1)).astype(np.int64)


def run_seed(sweep_seed: int, point: int, trial: int) -> int:
    """The seed of trial ``trial`` of point ``point`` (`run_seeds`)."""
    return int(run_seeds(sweep_seed, [point], [trial])[0])


def parse_values(name: str, text: str) -> tuple:
    """``a,b,c`` (numbers or words) or ``start:stop:step`` (numbers below stop)."""
    text = text.strip()
    if not text:
        raise ParameterError(f"grid {name}: no values (give a,b,c or start:stop:step)")
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ParameterError(f"grid {name}: a range is start:stop:step (got {text!r})")
        start, stop, step = (_number(name, p) for p in parts)
        return _range(name, start, stop, step)
    return tuple(_word_or_number(name, p) for p in text.split(","))


def parse_option(text: str) -> Axis:
    """A ``--grid KEY=VALUES`` option."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep:
        raise ParameterError(f"--grid must be KEY=VALUES, e.g. model.tau_m=5,10,20 (got {text!r})")
    check_key(key)
    return Axis(key, parse_values(key, values), ((key, 1),))


def from_table(table, source: str) -> tuple[list, dict]:
    """The axes and settings of a ``[sweep]`` table: ``grid = {KEY = values}`` (a list, or
    ``{start, stop, step}``), ``[[sweep.axis]]`` tables ``{name, values, set = {KEY = factor}}``,
    ``trials``, ``seed``, ``metrics``, ``plot``, ``batch_neurons``."""
    if not isinstance(table, dict):
        raise ParameterError(f"{source}: sweep must be a table")
    unknown = sorted(set(table) - set(SWEEP_KEYS))
    if unknown:
        raise ParameterError(f"{source}: sweep.{unknown[0]} is not a sweep key (known: {', '.join(SWEEP_KEYS)})")
    axes = []
    grid_table = table.get("grid", {})
    if not isinstance(grid_table, dict):
        raise ParameterError(f"{source}: sweep.grid must be a table of KEY = values")
    for key, spec in grid_table.items():
        check_key(key)
        axes.append(Axis(key, _table_values(f"sweep.grid.{key}", spec), ((key, 1),)))
    linked = table.get("axis", [])
    if not isinstance(linked, list) or not all(isinstance(t, dict) for t in linked):
        raise ParameterError(f"{source}: sweep.axis must be a list of tables ([[sweep.axis]])")
    for i, spec in enumerate(linked):
        axes.append(_linked_axis(f"sweep.axis[{i}]", spec))
    settings = {k: table[k] for k in ("trials", "seed", "metrics", "plot", "batch_neurons") if k in table}
    return axes, settings


def _linked_axis(name: str, spec: dict) -> Axis:
    extra = sorted(set(spec) - {"name", "values", "set"})
    if extra:
        raise ParameterError(f"{name}.{extra[0]} is not a key of an axis (name, values, set)")
    label = spec.get("name")
    if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label):
        raise ParameterError(f"{name}.name must be a word (got {label!r})")
    keys = spec.get("set")
    if not isinstance(keys, dict) or not keys:
        raise ParameterError(f"{name}.set must be a table of KEY = factor (at least one)")
    factors = []
    for key, factor in keys.items():
        check_key(key)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
            raise ParameterError(f"{name}.set.{key} must be a finite number (got {factor!r})")
        factors.append((key, factor))
    return Axis(label, _table_values(f"{name}.values", spec.get("values")), tuple(factors))


def _table_values(name: str, spec) -> tuple:
    if isinstance(spec, dict):
        if set(spec) != {"start", "stop", "step"}:
            raise ParameterError(f"{name} must be a list or {{start, stop, step}} (got keys {sorted(spec)})")
        return _range(name, *(_number(name, spec[k]) for k in ("start", "stop", "step")))
    if not isinstance(spec, list) or not spec:
        raise ParameterError(f"{name} must be a non-empty list or {{start, stop, step}} (got {spec!r:.80})")
    values = []
    for v in spec:
        if isinstance(v, str):
            values.append(v)
        else:
            values.append(_number(name, v))
    return tuple(values)


def _range(name: str, start: float, stop: float, step: float) -> tuple:
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(step)) or step <= 0:
        raise ParameterError(f"grid {name}: start:stop:step needs finite numbers and step > 0 "
                             f"(got {start:g}:{stop:g}:{step:g})")
    values = grid(start, stop, step, f"grid {name}")
    if values.size == 0:
        raise ParameterError(f"grid {name}: {start:g}:{stop:g}:{step:g} has no values (stop must exceed start)")
    return tuple(float(v) for v in values)


def _number(name: str, value):
    """A finite number: an int or float as given, or parsed from text."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ParameterError(f"grid {name}: {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"grid {name}: values must be finite numbers (got {value!r:.80})")
    return value


def _word_or_number(name: str, text: str):
    text = text.strip()
    if not text:
        raise ParameterError(f"grid {name}: an empty value in the list")
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        raise ParameterError(f"grid {name}: values must be finite (got {text})")
    return int(value) if re.fullmatch(r"[+-]?\d+", text) else value


def check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ParameterError(f"grid key must be a dotted path like model.tau_m or stimulus.0.amplitude (got {key!r})")


def make_grid(axes: list, trials, seed) -> Grid:
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ParameterError(f"grid: the axis {next(n for n in names if names.count(n) > 1)!r} is given twice")
    keys = [k for a in axes for k, _ in a.keys]
    if len(set(keys)) != len(keys):
        raise ParameterError(f"grid: the key {next(k for k in keys if keys.count(k) > 1)!r} is set by two axes")
    trials = require_int("trials", trials, low=1)
    seed = require_int("seed", seed, low=0)
    out = Grid(tuple(axes), trials, seed)
    points = math.prod(len(a.values) for a in axes)
    if points * trials > MAX_ROWS or points > MAX_GRID:
        raise ParameterError(f"grid: {points} points × {trials} trials is more than {MAX_ROWS} rows")
    return out


def apply(data: dict, settings: dict) -> dict:
    """A copy of an experiment's TOML ``data`` with each dotted key set."""
    out = copy.deepcopy(data)
    for key, value in settings.items():
        _set(out, key, value)
        if key == "method":  # a grid over the method replaces a list of methods
            out.pop("methods", None)
    return out


def _set(data: dict, key: str, value) -> None:
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            node = _item(node, part, where)
        elif isinstance(node, dict):
            if part not in node:
                if part in ("stimulus", "population", "projection"):
                    raise ParameterError(f"grid key {key}: the experiment has no [[{part}]]")
                node[part] = {}
            node = node[part]
        else:
            raise ParameterError(f"grid key {key}: {where} is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        raise ParameterError(f"grid key {key}: {'.'.join(parts[:-1])} is a list; name an item's key")
    if not isinstance(node, dict):
        raise ParameterError(f"grid key {key}: {'.'.join(parts[:-1])} is a value, not a table")
    node[last] = value


def _item(items: list, part: str, where: str):
    if not part.isdigit():
        raise ParameterError(f"grid key: {where} must be an index into a list of {len(items)} tables")
    index = int(part)
    if index >= len(items):
        raise ParameterError(f"grid key: {where} is out of range (the experiment has {len(items)})")
    return items[index]
