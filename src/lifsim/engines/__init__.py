"""Engines: thin loop drivers over the one update rule (`lifsim.neuron.rule`).

An engine is a module with:

- ``version() -> str`` and ``devices() -> list[str]``: what ``lifsim info`` prints;
- ``check(threads, options)``: refuse a thread count or option it cannot honour, before
  any work;
- ``start(setup: EngineSetup)``: a runner whose ``advance(state, chunk, recording,
  progress=None)`` returns the new `lifsim.LIFState` and the `ChunkSpikes` of an
  `lifsim.stimuli.InputChunk`, writing the sampled traces into the
  `lifsim.recording.ChunkRecording`; ``progress``, when given, is called with the number of
  the chunk's steps done so far about every `PROGRESS_INTERVAL_S` seconds of a long chunk
  (the numpy and numba engines; TensorFlow runs a chunk in one call). How a chunk is cut
  for these reports never changes a result.
- optionally ``DRAWS_DENSE = True``: it draws a chunk's dense jumps itself when the chunk
  says how (``InputChunk.draws``, `lifsim.stimuli.event_loops.draw_dense`), with the
  numbers the chunk would otherwise hold.

Each step, in this order and on every engine: the receptors take their input (the
chunk's dense jumps, then its events in order, then the spikes delivered to this step),
the synaptic drive is summed over the receptors in order, the membrane rule runs, and
the spikes of the step are sent along the projections into the future steps their
delays name (each target's sum in the order of the spikes by neuron, then by projection,
then by target). Engines are loaded on demand, so an engine whose library is missing
costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError
from ..neuron.rule import Coefficients
from ..synapses.receptor import ReceptorCoefficients

#: Seconds of wall time between two progress reports from inside a chunk, at most about.
PROGRESS_INTERVAL_S = 0.2

#: Engine name -> (module, install hint for its optional dependency).
ENGINES = {
    "numpy": ("lifsim.engines.numpy_engine", None),
    "numba": ("lifsim.engines.numba_engine", None),
    "tensorflow": ("lifsim.engines.tensorflow_engine", "install it with: pip install 'lifsim[tensorflow]'"),
}


@dataclass(frozen=True)
class EngineSetup:
    """Everything an engine needs for a run, computed once.

    Attributes:
        n_neurons: neurons of the run (populations end to end).
        method: ``"article"`` or ``"exact"``.
        coefficients: the membrane update's constants (`lifsim.neuron.rule.coefficients`).
        receptors: the receptor slots' constants (`lifsim.synapses.receptor.ReceptorCoefficients`).
        dtype: numpy float type of the run.
        synaptic: whether the receptors must be stepped (input, projections, or a
            nonzero initial receptor state).
        threads: worker threads for engines that use them (None: all cores).
        options: engine-specific switches.
        chunk_steps: steps of every chunk but the last, which may be shorter.
        time_varying: whether chunks carry one current row per step (else one row).
        sample_every: recording interval in steps.
        recorded: the recorded variables (empty when no neuron is recorded).
        recorded_neurons: how many neurons are recorded.
        network: the projections (`lifsim.network.connect.Connectivity`), or None.
        slice_steps: steps the neurons may run before their spikes must be delivered
            (the smallest delay; any larger count is free without projections).
        slots: steps of pending input held (the largest delay plus the smallest).
        dense_input: whether chunks may carry dense jumps (``InputChunk.injection``).
        dense_draws: whether chunks carry them as draws for the engine to make
            (``InputChunk.draws``) instead; only for an engine whose ``DRAWS_DENSE`` is True.
        spike_input: whether chunks may carry input spikes (``InputChunk.events``).
    """

    n_neurons: int
    method: str
    coefficients: Coefficients
    receptors: ReceptorCoefficients
    dtype: type
    synaptic: bool
    threads: int | None = None
    options: tuple = ()
    chunk_steps: int = 1
    time_varying: bool = False
    sample_every: int = 1
    recorded: tuple = ()
    recorded_neurons: int = 0
    network: object = None
    slice_steps: int = 1
    slots: int = 0
    dense_input: bool = False
    spike_input: bool = False
    dense_draws: bool = False

    @property
    def n_receptors(self) -> int:
        return self.receptors.decay.shape[0]


@dataclass(frozen=True)
class ChunkSpikes:
    """Spikes of one chunk: global step (int64) and neuron index (int32), sorted by step
    then neuron: every engine returns them in this order."""

    step: np.ndarray
    neuron: np.ndarray


def engine_names() -> tuple:
    return tuple(ENGINES)


def load_engine(name: str):
    """The engine module called ``name``; refuses unknown or uninstalled engines."""
    if name not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)} (got {name!r})")
    module, hint = ENGINES[name]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if hint is None:
            raise
        raise ParameterError(f"engine {name!r} needs {error.name}, which is not installed; {hint}") from None


def no_options(engine: str, options: tuple) -> None:
    """Refuse engine options for an engine that takes none."""
    if options:
        raise ParameterError(f"engine {engine!r} takes no options (got {dict(options)})")


@contextmanager
def interrupt_after_call():
    """Hold Ctrl-C until a compiled kernel's call returns, then raise KeyboardInterrupt.

    numba's dispatcher types some arguments (a list of numpy generators) with Python code;
    a KeyboardInterrupt raised there comes out as a SystemError, or crashes the process.
    Only in the main thread, and only while Python's own SIGINT handler is installed.
    """
    if threading.current_thread() is not threading.main_thread() or (
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
