"""Input generation for a run: the stimuli's drives turned into chunks of input.

For a run, `InputGenerator` turns its stimuli into chunks of input, one `InputChunk`
per range of steps: the external current per step and neuron, the input spikes as
events, and the dense per-step jumps of Poisson counts. Every engine consumes the same
chunks, so the same seed gives the same input everywhere.

Randomness: stimulus ``i`` of a run draws only from its own numpy ``Generator``
(`lifsim.streams.stimulus_rng`); a chunk draws its numbers in (step, neuron, synapse)
order, so noise and per-step Poisson draws do not depend on the chunk size.

A receptor's input in a step is summed in one fixed order on every engine: the dense
jumps, then the events in the order they are listed (by stimulus, then as each
stimulus lists them), then, in a network, the spikes delivered by projections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..streams import stimulus_rng
from .base import CurrentDrive, DenseDrive, SpikeDrive, Target


class Placement(NamedTuple):
    """Where a stimulus acts: global neurons ``[lo, hi)`` and its receptor slot (None for a current)."""

    lo: int
    hi: int
    slot: int | None
    receptor_kind: str | None = None


class SynapticEvents(NamedTuple):
    """Input spikes of one chunk: local step, target (``slot·N + neuron``), and the jump
    it adds in the receptor's unit (mA or mV)."""

    step: np.ndarray
    target: np.ndarray
    amount: np.ndarray


class InputSpikes(NamedTuple):
    """Recorded input spikes: global step, neuron, synapse index within the neuron, stimulus index."""

    step: np.ndarray
    neuron: np.ndarray
    synapse: np.ndarray
    source: np.ndarray


class DenseDraws(NamedTuple):
    """A run's dense jumps as groups of columns that an engine draws itself, slice by slice
    (`lifsim.stimuli.event_loops.draw_dense`), with the numbers `InputGenerator.chunk`
    would put in ``InputChunk.injection``. Group ``g`` fills the columns
    ``columns[g, 0]:columns[g, 1]`` (``slot·N + neuron``) from ``streams[g]`` with the
    count table (``cdf``, ``guide``), ``jumps`` (run's precision) and ``window`` (absolute
    steps ``[start, stop)``) of its stimulus, row ``source[g]`` of those tables; no two
    groups share a column. ``cdf`` rows are padded with 1, ``jumps`` rows with 0."""

    streams: list
    columns: np.ndarray
    source: np.ndarray
    window: np.ndarray
    cdf: np.ndarray
    guide: np.ndarray
    jumps: np.ndarray


@dataclass(frozen=True)
class InputChunk:
    """Input for steps ``[k0, k0 + steps)``.

    ``current`` has shape (steps, N) when the run's current varies in time, else (1, N), in
    the run's precision, mA. ``events`` is None when the run has no spike input;
    ``injection`` (steps, R·N) holds the dense jumps of Poisson counts, or None; ``draws``
    (`DenseDraws`), when not None, says how the engine draws them instead (then there is
    no ``injection``).
    """

    k0: int
    steps: int
    current: np.ndarray
    events: SynapticEvents | None
    input_spikes: InputSpikes | None = None
    injection: np.ndarray | None = None
    draws: DenseDraws | None = None

    def dense_injection(self, n_targets: int) -> np.ndarray:
        """Every receptor's summed input of each step, shape (steps, R·N): the dense jumps,
        then the events added in their order."""
        if self.draws is not None:
            raise ValueError("this chunk's dense jumps are drawn by the engine (InputChunk.draws)")
        if self.injection is not None:
            dense = self.injection.copy()
        else:
            dense = np.zeros((self.steps, n_targets), dtype=self.current.dtype)
        if self.events is not None:
            np.add.at(dense, (self.events.step, self.events.target), self.events.amount)
        return dense


@dataclass
class InputGenerator:
    """Turns a run's stimuli into `InputChunk` objects, in step order.

    ``placements`` say where each stimulus acts; ``charge`` (float64, shape (R,) or (R, N))
    is each receptor slot's jump per mA·ms of charge (`lifsim.synapses.receptor`);
    ``threads`` bounds the threads a stimulus may draw on; ``streams`` numbers each
    stimulus's random stream (default: its position). With ``engine_draws``, chunks leave
    the dense jumps to the engine (``InputChunk.draws``) when every dense stimulus can say
    how it draws them (`lifsim.stimuli.base.PoissonDraws`) and no two reach the same
    receptor of a neuron; `draws_dense` says whether they do.
    """

    stimuli: tuple
    placements: tuple
    n_neurons: int
    n_receptors: int
    dt_ms: float
    charge: np.ndarray
    dtype: type
    seed: int
    record_input_spikes: bool = False
    threads: int = 1
    streams: tuple | None = None
    engine_draws: bool = False
    _drives: list = field(init=False, repr=False)
    _draws: DenseDraws | None = field(init=False, repr=False, default=None)

    def __post_init__(self):
        streams = range(len(self.stimuli)) if self.streams is None else self.streams
        self._drives = [
            stimulus.drive(Target(place.hi - place.lo, self.dt_ms, f"stimulus[{i}]", place.receptor_kind,
                                  self.threads), stimulus_rng(self.seed, i))
            for i, stimulus, place in zip(streams, self.stimuli, self.placements, strict=True)
        ]
        if self.engine_draws:
            self._draws = self._dense_draws()

    def alone(self, index: int) -> "InputGenerator":
        """A fresh generator of stimulus ``index`` alone, drawing what it draws in the whole run."""
        return InputGenerator((self.stimuli[index],), (self.placements[index],), self.n_neurons, self.n_receptors,
                              self.dt_ms, self.charge, self.dtype, self.seed, False, self.threads, (index,))

    @property
    def charge_scaled(self) -> list[bool]:
        """Per stimulus, whether its jumps scale with the receptor's charge factor
        (`lifsim.synapses.receptor.ReceptorCoefficients.charge`): spikes that carry a charge."""
        return [isinstance(d, SpikeDrive) and d.q is not None for d in self._drives]

    @property
    def time_varying(self) -> bool:
        """Whether the external current may change between steps: then every chunk's
        current has one row per step, else a single row."""
        return any(s.varies() for s in self.stimuli)

    @property
    def has_spikes(self) -> bool:
        return any(isinstance(d, SpikeDrive) for d in self._drives)

    def weights(self) -> list[np.ndarray]:
        """The efficacies of each Poisson-synapse stimulus, shape (n, m)."""
        return [d.weights for d in self._drives if isinstance(d, SpikeDrive) and d.weights is not None]

    def checkpoint(self) -> list[dict]:
        """What the drives carry into the next chunk (generator states, events drawn ahead),
        one dict per stimulus: with `restore`, a fresh generator of the same run continues
        exactly where this one is."""
        return [drive.memory.save() for drive in self._drives]

    def restore(self, saved: list[dict]) -> None:
        """Continue from a `checkpoint` of a generator of the same run."""
        if len(saved) != len(self._drives):
            raise ValueError(f"a checkpoint of {len(saved)} stimuli for a run of {len(self._drives)}")
        for drive, memory in zip(self._drives, saved):
            drive.memory.load(memory)

    def chunk(self, k0: int, k1: int) -> InputChunk:
        current = self._current(k0, k1)
        events, spikes = self._events(k0, k1) if self.has_spikes else (None, None)
        return InputChunk(k0, k1 - k0, current, events, spikes, self._injection(k0, k1), self._draws)

    def _parts(self, kind):
        return [(drive, place) for drive, place in zip(self._drives, self.placements) if isinstance(drive, kind)]

    def _current(self, k0, k1):
        total = np.zeros((1, 1))
        for drive, place in self._parts(CurrentDrive):
            part = drive.current(k0, k1)
            if part is None:
                continue
            if (place.lo, place.hi) != (0, self.n_neurons):
                full = np.zeros((part.shape[0], self.n_neurons))
                full[:, place.lo:place.hi] = part
                part = full
            total = total + part
        rows = k1 - k0 if self.time_varying else 1
        return np.ascontiguousarray(np.broadcast_to(total, (rows, self.n_neurons)), dtype=self.dtype)

    @property
    def draws_dense(self) -> bool:
        """Whether its chunks leave the dense jumps to the engine (``InputChunk.draws``)."""
        return self._draws is not None

    def _dense_draws(self) -> DenseDraws | None:
        """The dense stimuli as one table of groups, or None if one cannot be drawn by an
        engine or two reach the same column (each sum would then need its order)."""
        parts = self._parts(DenseDrive)
        if not parts or any(drive.draws is None for drive, _ in parts):
            return None
        pieces = [(place.slot * self.n_neurons + place.lo + first, draws)
                  for drive, place in parts for first, draws in drive.draws
                  if draws.window[0] < draws.window[1]]  # one that never draws adds nothing either
        if not pieces:
            return None
        columns, source, streams = [], [], []
        for piece, (first, draws) in enumerate(pieces):
            for g, stream in enumerate(draws.streams):
                columns.append((first + g * draws.width, first + min((g + 1) * draws.width, draws.size)))
                source.append(piece)
                streams.append(stream)
        columns = np.array(columns, np.int64).reshape(-1, 2)
        by_start = columns[np.argsort(columns[:, 0], kind="stable")]
        if np.any(by_start[1:, 0] < by_start[:-1, 1]):
            return None
        draws = [d for _, d in pieces]
        with np.errstate(over="ignore"):  # as `add` casts them: a jump beyond the precision stops the run
            jumps = _padded([d.jumps for d in draws], 0.0).astype(self.dtype)
        return DenseDraws(streams, columns, np.array(source, np.int64),
                          np.array([d.window for d in draws], np.int64), _padded([d.cdf for d in draws], 1.0),
                          np.stack([d.guide for d in draws]), jumps)

    def _injection(self, k0, k1):
        """The dense jumps of the chunk, summed over the dense stimuli in order; None without
        any, or when the engine draws them."""
        parts = [(drive, place) for drive, place in self._parts(DenseDrive) if drive.active(k0, k1)]
        if not parts or self._draws is not None:
            return None
        total = np.zeros((k1 - k0, self.n_receptors * self.n_neurons), self.dtype)
        for drive, place in parts:
            first = place.slot * self.n_neurons + place.lo
            drive.add(k0, k1, total[:, first:first + place.hi - place.lo])
        return total

    def _events(self, k0, k1):
        steps, targets, amounts, recorded = [], [], [], []
        for index, (drive, place) in enumerate(zip(self._drives, self.placements)):
            if not isinstance(drive, SpikeDrive):
                continue
            step, neuron, synapse, weight = drive.events(k0, k1, self.record_input_spikes)
            q = drive.q[neuron] if np.ndim(drive.q) else drive.q  # a charge per neuron (a stacked stimulus)
            neuron = neuron + place.lo
            steps.append(step)
            targets.append(place.slot * self.n_neurons + neuron)
            amounts.append(self._amount(weight, q, place.slot, neuron))
            if self.record_input_spikes:
                recorded.append((step + k0, neuron, synapse, np.full(step.size, index)))
        events = SynapticEvents(_joined(steps), _joined(targets), _joined(amounts))
        spikes = InputSpikes(*(_joined(column) for column in zip(*recorded))) if recorded else None
        return events, spikes

    def _amount(self, weight, q, slot, neuron):
        """The jump of each event in the receptor's unit, in the run's precision."""
        if q is None:
            with np.errstate(over="ignore"):  # beyond the precision: the run stops on the non-finite state
                return np.asarray(weight, dtype=float).astype(self.dtype)
        charge = self.charge[slot, neuron] if self.charge.ndim == 2 else self.charge[slot]
        with np.errstate(over="ignore"):
            return (weight * (q * charge)).astype(self.dtype)


def _padded(rows: list, value: float) -> np.ndarray:
    """The 1-d arrays as the rows of one array, each padded at its end with ``value``."""
    length = max(row.size for row in rows)
    return np.stack([np.pad(row, (0, length - row.size), constant_values=value) for row in rows])


def _joined(arrays):
    """The arrays end to end (the one array itself when there is one)."""
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
