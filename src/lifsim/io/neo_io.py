"""Results as Neo objects, and NIX files through Neo's NixIO.

Neo is the field's in-memory exchange format (PyNN returns it, Elephant analyses it);
NIX (HDF5) is PyNN's default file. A run becomes one ``neo.Block`` with one
``neo.Segment``: a ``SpikeTrain`` per neuron (times in ms, ``t_stop`` the run's end,
``RunConfig.end_ms``) and an ``AnalogSignal`` per recorded variable (one channel per
recorded neuron, in mV or mA), annotated with the model, the method, the engine and the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ParameterError
from ..recording import VARIABLES
from .files import atomic_path, partial_path

if TYPE_CHECKING:
    from ..result import Result


def to_neo(result, neurons=None):
    """``result`` as a ``neo.Block``; ``neurons`` limits the spike trains (default: all)."""
    import neo
    import quantities as pq

    config = result.config
    annotations = _annotations(config)
    block = neo.Block(name=config.name, description=f"lifsim run of {config.name}", **annotations)
    segment = neo.Segment(name=config.name, **annotations)
    block.segments.append(segment)
    chosen = np.arange(config.n_neurons) if neurons is None else np.asarray(neurons, dtype=np.int64)
    order = np.lexsort((result.spike_times_ms, result.spike_neurons))
    times, owners = result.spike_times_ms[order], result.spike_neurons[order]
    bounds = np.searchsorted(owners, np.stack([chosen, chosen + 1]))
    for neuron, lo, hi in zip(chosen, *bounds):
        segment.spiketrains.append(neo.SpikeTrain(times[lo:hi], units=pq.ms, t_start=0.0 * pq.ms,
                                                  t_stop=config.end_ms * pq.ms, name=f"neuron {neuron}",
                                                  neuron=int(neuron)))
    for name, trace in result.traces.items():
        if trace.shape[1] == 0:
            continue
        segment.analogsignals.append(neo.AnalogSignal(
            trace, units=VARIABLES[name], t_start=float(result.t_ms[0]) * pq.ms,
            sampling_period=config.dt_ms * config.record.every * pq.ms, name=name,
            array_annotations={"neuron": result.recorded_neurons.astype(np.int64)}))
    block.check_relationships()
    return block


def _annotations(config) -> dict:
    """Flat annotations (NIX stores scalars, strings and arrays): model values with units."""
    from ..neuron.params import UNITS

    out = {"lifsim_method": config.method, "lifsim_engine": config.engine, "lifsim_seed": int(config.seed),
           "lifsim_dt_ms": float(config.dt_ms), "lifsim_precision": config.precision,
           "lifsim_neurons": int(config.n_neurons)}
    for key, value in config.layout.model.as_dict().items():
        unit = UNITS[key].replace("Ω", "ohm")
        out[f"model_{key}_{unit}"] = np.asarray(value, dtype=float) if isinstance(value, list) else value
    return out


def check_nix_path(path) -> Path:
    """Refuse, before any work, a file name that does not end in .nix or whose folder is missing."""
    path = Path(path)
    if path.suffix != ".nix":
        raise ParameterError(f"save: the file must end in .nix (got {str(path)!r})")
    if not path.parent.is_dir():
        raise ParameterError(f"save: the folder {str(path.parent)!r} does not exist")
    if path.exists() and not path.is_file():
        raise ParameterError(f"save: {str(path)!r} is a folder or a device, not a file")
    try:  # can a file be made beside it (where it is written before it is renamed)?
        partial_path(path).touch()
        partial_path(path).unlink()
    except OSError as error:
        raise ParameterError(f"save: cannot write {str(path)!r} ({error.strerror})") from None
    return path


def block_names(results) -> list[str]:
    """The names of the blocks `save_nix` writes for ``results``: each run's name, with its
    method in parentheses when another run of the file has the same name."""
    names = [result.config.name for result in results]
    return [f"{name} ({result.config.method})" if names.count(name) > 1 else name
            for name, result in zip(names, results)]


def save_nix(results: "Result | list[Result]", path: "str | Path") -> Path:
    """Write one run, or several, to one NIX file with neo's NixIO, replacing it.

    Args:
        results: a `lifsim.Result` or a list of them; each becomes one ``neo.Block``, named
            by `block_names` (``lifsim run all --save all.nix`` writes the three article
            runs, ``square``, ``noise`` and ``synaptic``, into one file).
        path: the file, ending in ``.nix``; written under a temporary name and renamed.

    Returns:
        The path written.
    """
    from neo.io import NixIO

    path = check_nix_path(path)
    results = results if isinstance(results, (list, tuple)) else [results]
    blocks = [to_neo(result) for result in results]
    for block, name in zip(blocks, block_names(results)):
        block.name = name
    with atomic_path(path) as temporary, NixIO(str(temporary), mode="ow") as io:  # "ow": overwrite
        io.write_all_blocks(blocks)
    return path


def load_nix(path) -> list:
    """The ``neo.Block`` objects stored in a NIX file by `save_nix`, one per run, in the
    order they were written (``block.name`` names each run)."""
    from neo.io import NixIO

    with NixIO(str(path), mode="ro") as io:
        return io.read_all_blocks()
