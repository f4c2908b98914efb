"""The random streams of a run, named in one place.

Every random number of a run comes from a numpy ``Generator`` seeded by
``SeedSequence(seed, spawn_key=(STREAM, index...))``, one stream per consumer, so that
adding a stimulus, a projection or a drawn value does not change the draws of the others,
and a run is the same on every engine, for every chunking and in every process.
"""

from __future__ import annotations

import zlib

import numpy as np

#: Stream keys: one stream per stimulus (by index), per drawn value (by name), per projection.
STIMULUS_STREAM = 1
VALUE_STREAM = 2
CONNECTIVITY_STREAM = 3


def _generator(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def stimulus_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of stimulus number ``index`` in a run with ``seed``."""
    return _generator(seed, STIMULUS_STREAM, index)


def value_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of the per-neuron value called ``name`` (drawn from a distribution)."""
    return _generator(seed, VALUE_STREAM, zlib.crc32(name.encode()))


def connectivity_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of projection number ``index``: its synapses, weights and delays."""
    return _generator(seed, CONNECTIVITY_STREAM, index)
