"""The explorer's runs: an experiment and the page's settings, checked, bounded and run.

Every value goes the way of the command line: top-level settings as the overrides of
`lifsim run` (`lifsim.io.experiment_file.from_data`), other keys into the experiment's
parsed TOML before it is checked, so that a refusal is the command line's message. A run
is then bounded (`Limits`) before any work.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..io import experiment_file
from ..simulation.plan import available_memory
from ..simulation.simulate import preflight, simulate
from .controls import OVERRIDES, controls, parse_value

#: The experiments the page offers first: (name, label, settings on top of the file).
BUILT_IN = (
    ("square", "square currents (the article)", {}),
    ("noise", "noisy current (the article)", {}),
    ("synaptic", "Poisson synapses (the article)", {}),
    ("fi", "f–I curve against its closed form", {}),
    ("cuba", "CUBA network, 1,000 neurons", {"neurons": 1000, "duration_ms": 500.0}),
    ("brunel", "Brunel network, 1,000 neurons", {"neurons": 1000, "duration_ms": 500.0}),
)


@dataclass(frozen=True)
class Limits:
    """What one request of the page may ask for, checked before any work.

    Attributes:
        neurons: neurons of a run.
        steps: steps of a run.
        neuron_steps: neurons × steps, summed over the runs of an experiment (the work).
        input_draws: numbers drawn for the input, neurons × steps × numbers per step.
        synapses: synapses of a network, plus input synapses (neurons × synapses each).
        memory_bytes: memory of a run (the estimate of `lifsim run`), bytes; at most what
            the system has available.
        seconds: wall-clock seconds the page waits for a run before it reports it too slow
            (a first run on the numba engine may compile its kernels for a minute).
    """

    neurons: int = 10_000
    steps: int = 200_000
    neuron_steps: int = 50_000_000
    input_draws: int = 100_000_000
    synapses: int = 2_000_000
    memory_bytes: int = 1 << 30
    seconds: float = 120.0


@dataclass(frozen=True)
class Entry:
    """An experiment the page offers: its name, label, source, parsed TOML, the settings the
    explorer adds (a smaller network), and its controls."""

    name: str
    label: str
    source: str
    data: dict
    preset: dict
    controls: tuple

    def control(self, key: str):
        for control in self.controls:
            if control.key == key:
                return control
        raise ParameterError(f"{key} is not a setting of {self.name} (its settings: "
                             f"{', '.join(c.key for c in self.controls)})")


def catalogue(files=()) -> dict:
    """The experiments the page offers: the built-in ones, then each TOML file (named by
    its file name, made unique); a file that does not load is refused here."""
    out = {}
    for name, label, preset in BUILT_IN:
        source, text = experiment_file.read_text(name)
        out[name] = _entry(name, label, source, experiment_file.parse(text, source), preset)
    for path in files:
        source, text = experiment_file.read_text(str(path))
        name = _unique(Path(path).stem, out)
        out[name] = _entry(name, f"{Path(path).name} (file)", source, experiment_file.parse(text, source), {})
    return out


def _unique(stem: str, taken: dict) -> str:
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def _entry(name, label, source, data, preset) -> Entry:
    data = {k: v for k, v in data.items() if k != "sweep"}
    exp = _load(data, source, dict(preset))
    return Entry(name, label, source, data, preset, tuple(controls(exp, data)))


def resolve(entry: Entry, settings, limits: Limits = Limits()):
    """The experiment with the page's settings (key → value), checked and bounded."""
    if not isinstance(settings, dict):
        raise ParameterError(f"settings must be a table of key → value (got {str(settings)[:80]})")
    parsed = {key: parse_value(entry.control(key), value) for key, value in settings.items()}
    parsed = {k: v for k, v in parsed.items() if v != "" or k != "method"}  # "": the file's methods
    overrides = {**{k: v for k, v in entry.preset.items() if k in OVERRIDES},
                 **{k: v for k, v in parsed.items() if k in OVERRIDES}}
    keys = {k: v for k, v in parsed.items() if k not in OVERRIDES}
    if "neurons" in overrides:
        _at_most("neurons", overrides["neurons"], limits.neurons)  # before any per-neuron value is drawn
    data = copy.deepcopy(entry.data)
    for key, value in keys.items():
        _set(data, key, value)
    _check_ranges(data, limits)
    exp = _load(data, entry.source, overrides)
    check_bounds(exp, limits)
    return exp


def _load(data, source, overrides):
    try:
        return experiment_file.from_data(data, source, **overrides)
    except ParameterError as error:  # the page names no file: drop the source
        raise ParameterError(str(error).removeprefix(f"{source}: ")) from None


def _set(data: dict, key: str, value) -> None:
    """Set a dotted key (its tables and list items exist: every key is a control's)."""
    *path, last = key.split(".")
    node = data
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _check_ranges(data: dict, limits: Limits) -> None:
    """A range of currents gives one neuron per value: count them before they are made."""
    for i, table in enumerate(data.get("stimulus", [])):
        spec = table.get("amplitude")
        if isinstance(spec, dict) and set(spec) == {"start", "stop", "step"}:
            start, stop, step = (spec[k] for k in ("start", "stop", "step"))
            if all(isinstance(x, (int, float)) for x in (start, stop, step)) and step > 0:
                with np.errstate(over="ignore", invalid="ignore"):
                    count = (stop - start) / step
                if math.isfinite(count):
                    _at_most(f"stimulus[{i}].amplitude: (stop - start)/step, one neuron per current",
                             math.ceil(count), limits.neurons)


def _at_most(name: str, value, limit) -> None:
    if value > limit:
        raise ParameterError(f"{name} must be at most {limit:,} in the explorer (got {value:,})")


def check_bounds(exp, limits: Limits) -> None:
    """Refuse an experiment beyond the page's limits: neurons, steps, work, input,
    synapses and memory."""
    configs = runs_of(exp)
    config = configs[0]
    n, steps = config.n_neurons, config.steps
    _at_most("neurons", n, limits.neurons)
    _at_most("steps (duration/dt)", steps, limits.steps)
    _at_most("neurons × steps", n * steps * len(configs), limits.neuron_steps)
    load = sum(s.elements_per_step() for s in config.stimuli)
    _at_most("input numbers drawn (neurons × steps × per step)", int(n * steps * load * len(configs)),
             limits.input_draws)
    layout = config.layout
    synapses = sum(p.expected_synapses(layout.population(p.source).size, layout.population(p.target).size)[1]
                   for p in config.projections)
    synapses += sum(n * getattr(s, "synapses", 0) for s in config.stimuli)
    _at_most("synapses", int(synapses), limits.synapses)
    for c in configs:
        preflight(c, memory_limit=min(limits.memory_bytes, available_memory()))


def run(exp, lock: threading.Lock) -> list:
    """The experiment's runs (one per method), holding ``lock``: the server runs one
    experiment at a time, so that several pages (or a page that gave up waiting) never run
    side by side, and the limits bound the machine's load too."""
    with lock:
        return [simulate(config) for config in runs_of(exp)]


def runs_of(exp) -> list:
    """The experiment's run configurations: `Experiment.configs`, without checking a lone
    run's configuration a second time."""
    return exp.configs() if len(exp.methods) > 1 else [exp.config]
