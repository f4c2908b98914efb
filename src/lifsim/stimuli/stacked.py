"""Several independent runs' stimuli side by side, so that they run as one population.

A parameter sweep runs many small independent-neuron experiments; one vectorised run of
all of them together is far faster than one run each. `Stacked` is stimulus number
``index`` of each such *member* run: member ``m``'s copy acts on neurons
``[offset_m, offset_m + size_m)`` and draws from the random stream of its own run,
``(seed_m, index)`` (`lifsim.streams.stimulus_rng`), so every member receives exactly the
input it receives when run alone, whatever the other members are. Neurons without
projections do not interact, so each member's spikes are then exactly its solo run's.

Currents that do not change in time are computed once, not per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..streams import stimulus_rng
from .base import CurrentDrive, DenseDrive, DriveMemory, SpikeDrive, StimulusDefaults, Target


@dataclass(frozen=True)
class Stacked(StimulusDefaults):
    """Stimulus ``index`` of several member runs: ``stimuli`` (one per member, all of one
    kind, each drawing from ``(seeds[m], index)``) on consecutive blocks of ``sizes`` neurons.

    The run's own stream is not used: each member keeps its own.
    """

    stimuli: tuple
    sizes: tuple
    seeds: tuple
    index: int
    population: None = None

    kind = "stacked"

    def __post_init__(self):
        if not self.stimuli or not len(self.stimuli) == len(self.sizes) == len(self.seeds):
            raise ParameterError("a stacked stimulus needs one stimulus, size and seed per member")
        kinds = {type(s) for s in self.stimuli}
        if len(kinds) != 1:
            raise ParameterError(f"stimulus[{self.index}] must be of one kind in every member "
                                 f"(got {sorted(k.kind for k in kinds)})")
        receptors = {getattr(s, "receptor", None) for s in self.stimuli}
        if len(receptors) != 1 or any(s.population is not None for s in self.stimuli):
            raise ParameterError(f"stimulus[{self.index}] must reach the same receptor of every member")

    @property
    def sends(self) -> str:
        return self.stimuli[0].sends

    @property
    def receptor(self):
        return getattr(self.stimuli[0], "receptor", None)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.sizes))).astype(np.int64)

    def _targets(self, target: Target):
        for stimulus, size in zip(self.stimuli, self.sizes):
            yield stimulus, Target(size, target.dt_ms, f"{target.name} of a member", target.receptor_kind, 1)

    def validate(self, target: Target) -> None:
        if target.n_neurons != sum(self.sizes):
            raise ParameterError(f"{target.name}: its members have {sum(self.sizes)} neurons, the run {target.n_neurons}")
        for stimulus, member in self._targets(target):
            stimulus.validate(member)

    def drive(self, target: Target, rng=None):
        drives = [stimulus.drive(member, stimulus_rng(seed, self.index))
                  for (stimulus, member), seed in zip(self._targets(target), self.seeds)]
        memory = DriveMemory(lambda: {"members": [d.memory.save() for d in drives]},
                             lambda saved: [d.memory.load(s) for d, s in zip(drives, saved["members"], strict=True)])
        if self.sends == "current":
            return _current_drive(self.stimuli, drives, self.offsets, memory)
        if self.sends == "dense":
            return _dense_drive(drives, self.offsets, memory)
        return _spike_drive(drives, self.offsets, memory)

    def varies(self) -> bool:
        return any(s.varies() for s in self.stimuli)

    def per_neuron_size(self) -> int | None:
        return sum(self.sizes)

    def elements_per_step(self) -> float:
        return sum(s.elements_per_step() * n for s, n in zip(self.stimuli, self.sizes)) / sum(self.sizes)

    def serial_elements_per_step(self) -> float:
        return sum(s.serial_elements_per_step() * n for s, n in zip(self.stimuli, self.sizes)) / sum(self.sizes)

    def setup_bytes(self, n_neurons: int) -> int:
        return sum(s.setup_bytes(n) for s, n in zip(self.stimuli, self.sizes))

    def windows_ms(self) -> list[tuple[float, float]]:
        return sorted({w for s in self.stimuli for w in s.windows_ms()})


def _steady(stimulus) -> bool:
    """Whether a current stimulus gives the same current at every step (computed once)."""
    return stimulus.kind == "constant" and not stimulus.varies()


def _current_drive(stimuli, drives, offsets, memory) -> CurrentDrive:
    n = int(offsets[-1])
    steady = np.zeros((1, n))
    moving = []
    for m, (stimulus, drive) in enumerate(zip(stimuli, drives)):
        if _steady(stimulus):
            part = drive.current(0, 1)
            if part is not None:
                steady[:, offsets[m]:offsets[m + 1]] += part
        else:
            moving.append(m)
    any_steady = bool(np.any(steady))

    def current(k0, k1):
        parts = [(m, drives[m].current(k0, k1)) for m in moving]
        parts = [(m, p) for m, p in parts if p is not None]
        if not parts:
            return steady if any_steady else None
        rows = max(np.shape(p)[0] for _, p in parts)
        total = np.repeat(steady, rows, axis=0) if rows > 1 else steady.copy()
        for m, part in parts:
            total[:, offsets[m]:offsets[m + 1]] += part
        return total

    return CurrentDrive(current, memory)


def _dense_drive(drives, offsets, memory) -> DenseDrive:
    def active(k0, k1):
        return any(d.active(k0, k1) for d in drives)

    def add(k0, k1, out):
        for m, d in enumerate(drives):
            if d.active(k0, k1):
                d.add(k0, k1, out[:, offsets[m]:offsets[m + 1]])

    pieces = None if any(d.draws is None for d in drives) else tuple(
        (offsets[m] + first, draws) for m, d in enumerate(drives) for first, draws in d.draws)
    return DenseDrive(active, add, memory, pieces)


def _spike_drive(drives, offsets, memory) -> SpikeDrive:
    qs = [d.q for d in drives]
    if any(q is None for q in qs) and not all(q is None for q in qs):
        raise ParameterError("a stacked stimulus's members must all give weights with a charge q, or none")
    # the charge per unit weight of every neuron: the member's q, applied per event as it is alone
    q = None if qs[0] is None else np.repeat(np.asarray(qs, dtype=float), np.diff(offsets))

    def events(k0, k1, with_synapse):
        parts = [d.events(k0, k1, with_synapse) for d in drives]
        step = np.concatenate([p[0] for p in parts])
        neuron = np.concatenate([p[1] + offsets[m] for m, p in enumerate(parts)])
        synapse = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
        weight = np.concatenate([np.broadcast_to(np.asarray(p[3], dtype=float), p[0].shape) for p in parts])
        return step, neuron, synapse, weight

    return SpikeDrive(events, None, q, memory)

