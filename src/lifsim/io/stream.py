"""Streamed runs: segments written as the run goes, each with a checkpoint to resume from.

A stream is a folder::

    experiment.toml        the run, as `lifsim show` prints it (written once)
    manifest.json          what is committed: the run's fingerprint and its segments
    segment-000001.npz     steps [k0, k1) of the run: its spikes, traces and input spikes,
    segment-000002.npz     and the checkpoint at k1 (state, pending input, generators)
    ...

Segments are immutable: each is written under a temporary name, flushed to the disk and
renamed into place, and only then listed in the manifest, which is itself replaced
atomically. The manifest is the record of what is committed: a process killed at any
moment leaves every segment it lists whole and readable (each is checked against its
SHA-256 when read); a segment it does not list is ignored, and overwritten on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ParameterError, require_range
from ..neuron.rule import STEP_DTYPE
from ..neuron.state import LIFState
from .files import PARTIAL, atomic_path, write_text

FORMAT = "lifsim-stream"
VERSION = 1
MANIFEST = "manifest.json"
EXPERIMENT = "experiment.toml"
#: Default wall-clock seconds between two commits of a streamed run.
SEGMENT_SECONDS = 10.0


class StreamError(ParameterError):
    """A stream that cannot be written, read or resumed: the message says which and why."""


def fingerprint(config) -> str:
    """SHA-256 of the run's full description (model, stimuli, network, dt, seed, engine,
    recording): a stream is resumed only by the run that wrote it."""
    text = json.dumps(config.describe(), sort_keys=True, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """Where a stream stops: the step reached, the state there, and the input generator's
    memory (`lifsim.stimuli.InputGenerator.checkpoint`)."""

    step: int
    state: LIFState
    inputs: list


@dataclass(frozen=True)
class Committed:
    """What a stream holds: its manifest, and the runs' arrays of its segments end to end."""

    manifest: dict
    spike_step: np.ndarray
    spike_neuron: np.ndarray
    traces: dict
    input_spikes: tuple | None
    checkpoint: Checkpoint | None

    @property
    def step(self) -> int:
        return self.checkpoint.step if self.checkpoint else 0

    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])


#: What a run not streamed, or a stream not yet begun, has committed: nothing.
NOTHING = Committed({}, np.zeros(0, np.int64), np.zeros(0, np.int32), {}, None, None)


def open_stream(folder, resume: bool, config, chunk_steps: int, initial_state=None, segment_s=SEGMENT_SECONDS,
                description: str | None = None):
    """The writer and what is already committed, for a run streamed into ``folder``
    (None: not streamed); with ``resume``, the stream is checked to be this run's.

    Returns ``(writer, committed)``: writer None when nothing is left to write.
    """
    if folder is None:
        if resume:
            raise ParameterError("resume: give the stream to resume (stream=FOLDER, --stream DIR)")
        return None, NOTHING
    require_range("segment_s", segment_s, low=0.0, unit="s")
    folder = Path(folder)
    started = initial_state_digest(initial_state)
    if resume and (folder / MANIFEST).exists():
        remove_partial_files(folder)
        committed = read(folder, config)
        manifest = committed.manifest
        if manifest.get("initial_state") != started:
            raise StreamError(f"stream {folder} began from another initial_state; resume it with the same one")
        if (manifest["steps"], manifest["chunk_steps"]) != (config.steps, chunk_steps):
            raise StreamError(f"stream {folder} was cut into chunks of {manifest['chunk_steps']} steps, this "
                              f"lifsim cuts the run into chunks of {chunk_steps}: it cannot continue it")
        return (None if committed.complete else StreamWriter(folder, manifest)), committed
    if description is None:
        from .experiment_file import render_config

        description = render_config(config)
    return StreamWriter.create(folder, config, description, chunk_steps, resume, started), NOTHING


def initial_state_digest(state) -> str | None:
    """SHA-256 of a run's given initial state (None: the default one)."""
    if state is None:
        return None
    digest = hashlib.sha256()
    for name in ("u", "ref", "i_syn", "pending"):
        value = getattr(state, name)
        digest.update(name.encode() + (b"-" if value is None else np.ascontiguousarray(value).tobytes()))
    return digest.hexdigest()


class StreamWriter:
    """Commits a run's segments to a stream folder, in order."""

    def __init__(self, folder: Path, manifest: dict):
        self.folder, self.manifest = folder, manifest

    @classmethod
    def create(cls, folder: Path, config, experiment_text: str, chunk_steps: int, resume: bool = False,
               initial_state: str | None = None) -> "StreamWriter":
        """A new stream for ``config`` in ``folder`` (missing or empty; with ``resume``, it may
        hold what a writer killed before its first manifest left)."""
        folder = Path(folder)
        _prepare_folder(folder, resume)
        from .. import __version__

        write_text(folder / EXPERIMENT, experiment_text, durable=True)
        manifest = {"format": FORMAT, "version": VERSION, "lifsim": __version__, "experiment": EXPERIMENT,
                    "fingerprint": fingerprint(config), "engine": config.engine, "steps": config.steps,
                    "chunk_steps": chunk_steps, "dt_ms": config.dt_ms, "record_every": config.record.every,
                    "initial_state": initial_state, "segments": [], "complete": False}
        writer = cls(folder, manifest)
        writer._write_manifest()
        return writer

    def commit(self, k0: int, k1: int, spikes: tuple, traces: dict, input_spikes, checkpoint: Checkpoint) -> None:
        """Write steps [k0, k1) and the checkpoint at k1 as the next segment, then list it."""
        segments = self.manifest["segments"]
        if k0 != (segments[-1]["k1"] if segments else 0) or checkpoint.step != k1:
            raise ValueError(f"segment [{k0}, {k1}) does not follow the stream's last step")
        name = f"segment-{len(segments) + 1:06d}.npz"
        arrays = _segment_arrays(spikes, traces, input_spikes, checkpoint)
        with atomic_path(self.folder / name, durable=True) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)
        segments.append({"file": name, "k0": k0, "k1": k1, "spikes": int(spikes[0].size),
                         "sha256": _sha256(self.folder / name)})
        self.manifest["complete"] = k1 >= self.manifest["steps"]
        self._write_manifest()

    def _write_manifest(self) -> None:
        write_text(self.folder / MANIFEST, json.dumps(self.manifest, indent=1) + "\n", durable=True)


def check_folder(folder: Path, resume: bool) -> None:
    """Refuse, before any work, a stream folder that cannot take a new run (or, with
    ``resume``, that is neither a stream nor new)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise StreamError(f"stream must be a folder (a file is in the way: {folder})")
    if (folder / MANIFEST).exists():
        if resume:
            read_manifest(folder)
            return
        raise StreamError(f"stream {folder} already holds a run: resume it (--resume) or choose another folder")
    others = [p for p in folder.iterdir() if not (resume and _left_by_a_killed_start(p))] if folder.is_dir() else []
    if others:
        raise StreamError(f"stream must be a new or empty folder ({folder} holds other files)")
    writable = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if writable is None or not os.access(writable, os.W_OK | os.X_OK):
        raise StreamError(f"stream must be a folder that can be created or written ({folder})")


def _left_by_a_killed_start(path: Path) -> bool:
    return path.name == EXPERIMENT or path.name.endswith(PARTIAL)


def _prepare_folder(folder: Path, resume: bool) -> None:
    check_folder(folder, resume)
    if resume and folder.is_dir():
        remove_partial_files(folder)
        (folder / EXPERIMENT).unlink(missing_ok=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StreamError(f"stream must be a folder that can be created ({error.strerror}: {folder})") from None


def _segment_arrays(spikes, traces, input_spikes, checkpoint: Checkpoint) -> dict:
    arrays = {"spike_step": spikes[0], "spike_neuron": spikes[1]}
    arrays.update({f"trace.{name}": values for name, values in traces.items()})
    if input_spikes is not None:
        arrays.update({f"input_spike.{k}": v for k, v in zip(("step", "neuron", "synapse", "source"), input_spikes)})
    state = checkpoint.state
    arrays.update({"state.u": state.u, "state.ref": state.ref, "state.i_syn": state.i_syn})
    if state.pending is not None:
        arrays["state.pending"] = state.pending
    plain = []
    for i, memory in enumerate(checkpoint.inputs):
        plain.append({k: v for k, v in memory.items() if not isinstance(v, np.ndarray)})
        arrays.update({f"input.{i}.{k}": v for k, v in memory.items() if isinstance(v, np.ndarray)})
    arrays["checkpoint"] = np.array(json.dumps({"step": checkpoint.step, "inputs": plain}))
    return arrays


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- reading


def read_manifest(folder: Path) -> dict:
    """The stream's manifest, checked; refuses a folder that is not a stream."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StreamError(f"stream {folder} has no {MANIFEST}: not a stream, or killed before it began") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StreamError(f"stream {folder}: {MANIFEST} cannot be read ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StreamError(f"stream {folder}: {MANIFEST} is not a lifsim stream's manifest")
    if manifest.get("version") != VERSION:
        raise StreamError(f"stream {folder}: format version {manifest.get('version')!r}; this lifsim reads {VERSION}")
    segments = manifest.get("segments")
    if not (set(MANIFEST_KEYS) <= manifest.keys() and isinstance(segments, list)
            and all(isinstance(s, dict) and set(SEGMENT_KEYS) <= s.keys()
                    and re.fullmatch(r"segment-\d{6}\.npz", str(s["file"])) for s in segments)):
        raise StreamError(f"stream {folder}: {MANIFEST} lacks some of its keys (edited or damaged)")
    return manifest


#: Keys every manifest has, and every segment's entry in it.
MANIFEST_KEYS = ("fingerprint", "engine", "steps", "chunk_steps", "dt_ms", "segments", "complete")
SEGMENT_KEYS = ("file", "k0", "k1", "spikes", "sha256")


def read(folder: Path, config=None) -> Committed:
    """Every committed segment of the stream in ``folder``, checked, end to end.

    With ``config``, also checks that the stream was written by that run.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if config is not None:
        check_run(folder, manifest, config)
    spikes, neurons, traces, inputs, arrays = [], [], {}, [], None
    for segment in manifest["segments"]:
        arrays = _read_segment(folder, segment)
        spikes.append(arrays["spike_step"])
        neurons.append(arrays["spike_neuron"])
        for key in arrays:
            if key.startswith("trace."):
                traces.setdefault(key[6:], []).append(arrays[key])
        if "input_spike.step" in arrays:
            inputs.append(tuple(arrays[f"input_spike.{k}"] for k in ("step", "neuron", "synapse", "source")))
    return Committed(
        manifest=manifest,
        spike_step=np.concatenate(spikes) if spikes else np.zeros(0, np.int64),
        spike_neuron=np.concatenate(neurons) if neurons else np.zeros(0, np.int32),
        traces={k: np.concatenate(v) for k, v in traces.items()},
        input_spikes=tuple(np.concatenate(c) for c in zip(*inputs)) if inputs else None,
        checkpoint=None if arrays is None else _checkpoint(arrays))


def check_run(folder: Path, manifest: dict, config) -> None:
    """Refuse to continue a stream written by another run."""
    if manifest["engine"] != config.engine:
        raise StreamError(f"stream {folder} was written by engine {manifest['engine']!r}; resume it with that "
                          f"engine (got {config.engine!r})")
    if manifest["fingerprint"] != fingerprint(config):
        raise StreamError(f"stream {folder} was written by another run (its {EXPERIMENT} differs from this one: "
                          "parameters, stimuli, seed, dt, duration or recording); resume it with the same run")


def _read_segment(folder: Path, segment: dict) -> dict:
    path = folder / segment["file"]
    try:
        if _sha256(path) != segment["sha256"]:
            raise StreamError(f"stream {folder}: {segment['file']} does not match the manifest (changed or damaged)")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except OSError as error:
        raise StreamError(f"stream {folder}: {segment['file']} cannot be read ({error})") from None


def _checkpoint(arrays: dict) -> Checkpoint:
    meta = json.loads(str(arrays["checkpoint"]))
    state = LIFState(arrays["state.u"], arrays["state.ref"].astype(STEP_DTYPE), arrays["state.i_syn"],
                     arrays.get("state.pending"))
    inputs = []
    for i, plain in enumerate(meta["inputs"]):
        prefix = f"input.{i}."
        inputs.append({**plain, **{k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}})
    return Checkpoint(int(meta["step"]), state, inputs)


def remove_partial_files(folder: Path) -> None:
    """Remove what a killed writer left half-written (never listed in the manifest)."""
    for path in Path(folder).glob(f".*{PARTIAL}"):
        path.unlink(missing_ok=True)
