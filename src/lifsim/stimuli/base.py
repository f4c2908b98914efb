"""What every stimulus shares: open time windows, per-neuron values, and the protocol.

Times: step ``k`` is at ``t_k = k·dt`` ms. A stimulus window ``(start_ms, stop_ms)`` is
open: active for ``start < t_k < stop``, as in the article. Currents are in mA, rates
in Hz, charges in mA·ms.

A stimulus is a frozen description. It answers, of itself, what a run needs to know
(`Stimulus`), and for a run it makes a *drive*: a function of a range of steps that
returns its input there. Three kinds of drive exist:

- `CurrentDrive`: an external current (mA) per step and neuron;
- `SpikeDrive`: input spikes, as (step, neuron, synapse, weight) events;
- `DenseDrive`: the summed jump of a receptor per step and neuron (many spikes per step).

A stimulus targets one population (``population``; None: every neuron of the run) and,
when it sends spikes, one of its receptors (``receptor``; None: the population's first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol

import numpy as np

from ..errors import ParameterError, as_numbers, require_finite
from ..timegrid import in_steps


def window_steps(start_ms: float, stop_ms: float, dt_ms: float) -> tuple[int, int]:
    """Steps ``k`` with ``start < k·dt < stop``, as ``range(first, stop)`` bounds.

    A bound that is a whole number of steps up to rounding (10 ms at dt = 0.1 ms) counts
    as exactly that step, so the open window does not depend on float rounding.
    """
    first = max(0, math.floor(in_steps(start_ms, dt_ms)) + 1)
    return first, max(first, math.ceil(in_steps(stop_ms, dt_ms)))


def steps_in(duration_ms: float, dt_ms: float) -> int:
    """Steps ``k >= 0`` with ``k·dt < duration`` (at least one)."""
    return max(1, math.ceil(in_steps(duration_ms, dt_ms)))


def active_rows(k0: int, k1: int, window: tuple[int, int]) -> tuple[int, int]:
    """Local rows of the chunk ``[k0, k1)`` that fall in ``window``, as a half-open pair."""
    lo = min(max(window[0], k0), k1)
    hi = max(min(window[1], k1), lo)
    return lo - k0, hi - k0


def per_neuron(name: str, value, n_neurons: int) -> np.ndarray:
    """A scalar as shape (1,), a per-neuron sequence as shape (n,), checked."""
    require_finite(name, value)
    array = np.atleast_1d(as_numbers(name, value))
    if array.ndim != 1 or array.size not in (1, n_neurons):
        raise ParameterError(f"{name} must be a scalar or have one value per neuron ({n_neurons}); "
                             f"got shape {np.shape(value)}")
    return array


def check_window(name: str, start_ms: float, stop_ms: float) -> None:
    for end, value in (("start_ms", start_ms), ("stop_ms", stop_ms)):
        if np.ndim(as_numbers(f"{name}.{end}", value)) or math.isnan(value):
            raise ParameterError(f"{name}.{end} must be a number of ms (got {value!r})")
    if stop_ms < start_ms:
        raise ParameterError(f"{name}.stop_ms must be >= {name}.start_ms (got {start_ms:g} to {stop_ms:g} ms)")


@dataclass(frozen=True)
class Target:
    """What a stimulus knows of its run: its target's size, the step, its own name for
    messages, the kind of the receptor it reaches (None for a current), and the threads it
    may draw on (its numbers do not depend on them)."""

    n_neurons: int
    dt_ms: float
    name: str = "stimulus"
    receptor_kind: str | None = None
    threads: int = 1


class DriveMemory(NamedTuple):
    """What a drive carries from one chunk to the next (its generators' states, the events
    it drew ahead), for checkpoints: ``save()`` returns it as a dict of numpy arrays and
    JSON values; ``load(saved)`` puts it back into a fresh drive of the same run."""

    save: object
    load: object


#: The memory of a drive that carries nothing (its input is a function of the steps alone).
NO_MEMORY = DriveMemory(dict, lambda saved: None)


def generator_memory(*generators: np.random.Generator) -> DriveMemory:
    """The memory of a drive whose only carried state is its generators'."""

    def save():
        return {"generators": [g.bit_generator.state for g in generators]}

    def load(saved):
        for g, state in zip(generators, saved["generators"], strict=True):
            g.bit_generator.state = state

    return DriveMemory(save, load)


class CurrentDrive(NamedTuple):
    current: object  # (k0, k1) -> array broadcastable to (k1-k0, n), float64 mA, or None
    memory: DriveMemory = NO_MEMORY


class SpikeDrive(NamedTuple):
    events: object  # (k0, k1, with_synapse) -> local step, neuron, synapse within the neuron (or None), weight
    weights: np.ndarray | None  # (n, m) efficacies of a Poisson stimulus, to report
    q: float | np.ndarray | None  # charge per unit weight (mA·ms), or one per neuron; None: in the receptor's unit
    memory: DriveMemory = NO_MEMORY


class PoissonDraws(NamedTuple):
    """How a dense drive draws its jumps, for an engine to draw them itself, inside its own
    loop, with the same numbers (`lifsim.stimuli.event_loops.draw_dense`): each group of
    ``width`` of its ``size`` neurons (the last group may be smaller) draws from its stream
    (a numpy ``Generator``) one uniform per neuron and step of ``window`` (absolute steps
    ``[start, stop)``), row after row, inverted with ``cdf`` and ``guide``
    (`lifsim.stimuli.poisson.guide_table`) to a count ``n`` whose jump is ``jumps[n]``
    (float64, the receptor's unit)."""

    streams: list
    width: int
    size: int
    cdf: np.ndarray
    guide: np.ndarray
    jumps: np.ndarray
    window: tuple[int, int]


class DenseDrive(NamedTuple):
    active: object  # (k0, k1) -> whether it sends anything in steps [k0, k1)
    add: object  # (k0, k1, out) -> adds its summed jumps (receptor's unit) to out, shape (k1-k0, n)
    memory: DriveMemory = NO_MEMORY
    # what it draws, as (first neuron, PoissonDraws) pieces; None: only `add` makes its jumps
    draws: tuple | None = None


class Stimulus(Protocol):
    """What a stimulus answers for a run (every class in `lifsim.stimuli` does)."""

    kind: ClassVar[str]  #: its name in experiment files
    sends: ClassVar[str]  #: "current", "spikes" or "dense"
    population: str | None

    def validate(self, target: Target) -> None:
        """Refuse values that cannot run on ``target`` (``ParameterError`` naming the key)."""

    def drive(self, target: Target, rng: np.random.Generator):
        """Its input for the run: a `CurrentDrive`, `SpikeDrive` or `DenseDrive`."""

    def varies(self) -> bool:
        """Whether the current it adds may change from step to step (False if it sends none)."""

    def per_neuron_size(self) -> int | None:
        """The population size its per-neuron values imply, or None."""

    def elements_per_step(self) -> float:
        """Numbers it generates per neuron and step (sizes the chunks)."""

    def serial_elements_per_step(self) -> float:
        """Of those, the numbers drawn on one thread; the rest are drawn on the run's threads."""

    def setup_bytes(self, n_neurons: int) -> int:
        """Memory it holds for the whole run, bytes."""

    def windows_ms(self) -> list[tuple[float, float]]:
        """Its active windows, ms (for the printed summary)."""


class StimulusDefaults:
    """Answers shared by most stimuli."""

    def varies(self) -> bool:
        return False

    def per_neuron_size(self) -> int | None:
        return None

    def serial_elements_per_step(self) -> float:
        return self.elements_per_step()

    def setup_bytes(self, n_neurons: int) -> int:
        return 0

    def windows_ms(self) -> list[tuple[float, float]]:
        return [(self.start_ms, self.stop_ms)]
