"""Recordings to fit a model to: the injected current and the neuron's response.

A `Recording` holds one neuron's input current (mA), sampled every ``dt_ms`` (the
simulation step a fit will use), and its response: the membrane potential (mV), the spike
times (ms), or both. `load_recording` reads one from a ``.csv``, ``.npz`` or ``.nix`` file;
`recording_from_arrays` builds one from arrays. Every refusal is a `lifsim.ParameterError`
whose one-line message names the file (or ``arrays``), the column, key or signal, and what is
allowed.

Time conventions (ms, from the recording's start, re-based to 0):
    sample k of the current is the current held during [k·dt, (k+1)·dt);
    sample k of the voltage is u at t_k = k·dt;
    spike times lie in [0, steps·dt] (a spike found in the last step may be stamped at its end).
"""

from __future__ import annotations

import csv
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import ParameterError, as_numbers, require_range

#: CSV columns: the first two are required, and at least one of the last two.
CSV_COLUMNS = ("t_ms", "current_mA", "u_mV", "spike")
#: NPZ keys: ``current_mA``, one of ``t_ms``/``dt_ms``, and at least one of the last two.
NPZ_KEYS = ("t_ms", "dt_ms", "current_mA", "u_mV", "spike_times_ms")
#: Names a NIX file's current and voltage AnalogSignals may have (first match wins, in this order).
NIX_CURRENT_NAMES = ("current", "i_in", "i_ext")
NIX_VOLTAGE_NAMES = ("u", "voltage", "v")
#: Time stamps must be evenly spaced within this fraction of the step.
TIME_TOLERANCE = 1e-6
#: Each part of `Recording.split` keeps at least this many steps.
MIN_SPLIT_STEPS = 10
#: Slack, as a fraction of dt, on the ends of the recording when checking spike times
#: (re-based times carry rounding errors of a few ulp).
_EDGE_SLACK = 1e-9


@dataclass(frozen=True)
class _Labels:
    """How messages name the inputs: ``column t_ms`` in a CSV, ``key t_ms`` in an NPZ, ..."""

    time: str = "t_ms"
    current: str = "current"
    voltage: str = "voltage"
    spikes: str = "spike_times_ms"
    first_line: int | None = None  # CSV: the file line of sample 0 (messages cite lines)

    def at(self, index: int, t_ms: float) -> str:
        where = f"sample {index}" if self.first_line is None else f"line {self.first_line + index}"
        return f"{where} (t = {t_ms:g} ms)"


@dataclass(frozen=True, eq=False)  # eq=False: arrays do not compare to one bool
class Recording:
    """One neuron's recorded input and response, on a uniform time grid starting at 0.

    Attributes:
        dt_ms: sampling interval, ms (> 0); the fit simulates with this step.
        current: input current, mA, float64, shape (steps,); sample k is held during
            [k·dt, (k+1)·dt).
        voltage: membrane potential, mV, shape (steps,), sample k at t_k = k·dt; or None.
        spike_times_ms: spike times, ms from the start, sorted, float64, within
            [0, steps·dt]; or None. At least one of voltage and spike times is given.
        source: where it came from (a file's path, or ``"arrays"``), for messages.
        t0_ms: start of this part within the recording it was split from (`split`), ms;
            0 for an unsplit recording. Add it to draw a part on the original time axis.
        t_start_ms: the first time stamp of the file before re-basing to 0, ms (reports).

    The arrays are copies, read-only.
    """

    dt_ms: float
    current: np.ndarray
    voltage: np.ndarray | None
    spike_times_ms: np.ndarray | None
    source: str = "arrays"
    t0_ms: float = 0.0
    t_start_ms: float = 0.0

    def __post_init__(self):
        require_range(f"{self.source}: dt_ms", self.dt_ms, low=0.0, low_open=True, unit="ms")
        object.__setattr__(self, "dt_ms", float(self.dt_ms))
        current, voltage, spikes = _checked(self.source, self.dt_ms, self.current, self.voltage,
                                            self.spike_times_ms, self.t_start_ms, _Labels())
        object.__setattr__(self, "current", current)
        object.__setattr__(self, "voltage", voltage)
        object.__setattr__(self, "spike_times_ms", spikes)
        object.__setattr__(self, "t0_ms", float(self.t0_ms))
        object.__setattr__(self, "t_start_ms", float(self.t_start_ms))

    @property
    def steps(self) -> int:
        """Number of samples (simulation steps)."""
        return int(self.current.size)

    @property
    def duration_ms(self) -> float:
        """steps·dt, ms: the recording covers [0, duration_ms)."""
        return self.steps * self.dt_ms

    def split(self, test_fraction: float = 1 / 3) -> tuple["Recording", "Recording"]:
        """The recording cut in two at a whole step: (train, test).

        Args:
            test_fraction: share of the steps in the test part, the last ones, in (0, 1);
                the cut is at ``steps - round(test_fraction·steps)``.

        Returns:
            ``(train, test)``: train is the first part (its ``t0_ms`` is this recording's),
            test the rest, with its times re-based to start at 0 and ``t0_ms`` advanced by the
            cut. A spike exactly at the cut goes to the test part (at its time 0).

        Raises:
            ParameterError: test_fraction outside (0, 1), or a part under `MIN_SPLIT_STEPS` steps.
        """
        require_range("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        test_steps = int(np.floor(float(test_fraction) * self.steps + 0.5))
        cut = self.steps - test_steps
        if min(cut, test_steps) < MIN_SPLIT_STEPS:
            raise ParameterError(
                f"test_fraction: splitting {self.source} ({self.steps} steps) at {float(test_fraction):g} leaves "
                f"{cut} training and {test_steps} test steps; each part needs at least {MIN_SPLIT_STEPS}")
        return self._part(0, cut), self._part(cut, self.steps)

    def _part(self, lo: int, hi: int) -> "Recording":
        start, stop = lo * self.dt_ms, hi * self.dt_ms
        spikes = self.spike_times_ms
        if spikes is not None:
            # half-open [start, stop) except the recording's own closed end
            keep = (spikes >= start) & ((spikes < stop) | (hi == self.steps))
            spikes = np.maximum(spikes[keep] - start, 0.0)
        voltage = None if self.voltage is None else self.voltage[lo:hi]
        return replace(self, current=self.current[lo:hi], voltage=voltage, spike_times_ms=spikes,
                       t0_ms=self.t0_ms + start)


# ------------------------------------------------------------------ validation

def _checked(source, dt_ms, current, voltage, spikes, t_start_ms, labels: _Labels):
    """The three arrays as read-only float64 copies, after every check on their values."""
    current = _trace(source, labels.current, current, dt_ms, t_start_ms, labels)
    if current.size < 2:
        raise ParameterError(f"{source}: {labels.current} must have at least 2 samples (got {current.size})")
    if voltage is None and spikes is None:
        raise ParameterError(f"{source}: needs a voltage trace or spike times to fit to (got neither)")
    if voltage is not None:
        voltage = _trace(source, labels.voltage, voltage, dt_ms, t_start_ms, labels)
        if voltage.size != current.size:
            raise ParameterError(f"{source}: {labels.voltage} has {voltage.size} samples but "
                                 f"{labels.current} has {current.size}; they must have the same length")
    if spikes is not None:
        spikes = _spike_times(source, labels.spikes, spikes, current.size * float(dt_ms), float(dt_ms))
    return current, voltage, spikes


def _trace(source, label, values, dt_ms, t_start_ms, labels: _Labels) -> np.ndarray:
    array = _vector(source, label, values)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        k = int(bad[0])
        raise ParameterError(f"{source}: {label} must be finite (got {array[k]} at "
                             f"{labels.at(k, t_start_ms + k * float(dt_ms))}; {_samples(bad.size)} in all)")
    return _frozen(array)


def _samples(count: int) -> str:
    return f"{count} sample{'s' if count != 1 else ''}"


def _vector(source, label, values) -> np.ndarray:
    array = as_numbers(f"{source}: {label}", values)
    if array.ndim != 1:
        raise ParameterError(f"{source}: {label} must be one-dimensional (got shape {array.shape})")
    return array


def _spike_times(source, label, values, duration_ms, dt_ms) -> np.ndarray:
    times = _vector(source, label, values)
    bad = np.flatnonzero(~np.isfinite(times))
    if bad.size:
        raise ParameterError(f"{source}: {label} must be finite (got {times[bad[0]]} at index {int(bad[0])})")
    slack = _EDGE_SLACK * dt_ms
    outside = np.flatnonzero((times < -slack) | (times > duration_ms + slack))
    if outside.size:
        k = int(outside[0])
        raise ParameterError(f"{source}: {label} must lie within the recording, [0, {duration_ms:g}] ms from its "
                             f"start (got {times[k]:g} ms at index {k})")
    unsorted = np.flatnonzero(np.diff(times) < 0)
    if unsorted.size:
        k = int(unsorted[0])
        raise ParameterError(f"{source}: {label} must be sorted in time (index {k + 1}, {times[k + 1]:g} ms, comes "
                             f"after {times[k]:g} ms); sort them")
    return _frozen(np.clip(times, 0.0, duration_ms))


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)  # a copy: the caller's array stays theirs
    array.flags.writeable = False
    return array


def _time_grid(source, label, t_ms, labels: _Labels) -> tuple[float, float]:
    """(dt, first time stamp) of evenly spaced, increasing time stamps, in ms."""
    t = _vector(source, label, t_ms)
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        where = f"line {labels.first_line + int(bad[0])}" if labels.first_line else f"sample {int(bad[0])}"
        raise ParameterError(f"{source}: {label} must be finite (got {t[bad[0]]} at {where})")
    if t.size < 2:
        raise ParameterError(f"{source}: {label} must have at least 2 samples (got {t.size})")
    steps = np.diff(t)
    backwards = np.flatnonzero(steps <= 0)
    if backwards.size:
        k = int(backwards[0]) + 1
        how = "repeats" if steps[k - 1] == 0 else "decreases"
        raise ParameterError(f"{source}: {label} must increase from sample to sample (it {how} at "
                             f"{labels.at(k, t[k])}, after {t[k - 1]:g} ms)")
    dt = (t[-1] - t[0]) / (t.size - 1)  # the mean step: robust to rounding in the file
    uneven = np.flatnonzero(np.abs(steps - dt) > TIME_TOLERANCE * dt)
    if uneven.size:
        k = int(uneven[0]) + 1
        raise ParameterError(f"{source}: {label} must be evenly spaced (step {dt:g} ms, within "
                             f"{TIME_TOLERANCE:g}·step; {labels.at(k, t[k])} is {steps[k - 1]:g} ms after the "
                             "previous sample)")
    return float(dt), float(t[0])


# ------------------------------------------------------------------ arrays

def recording_from_arrays(*, t_ms: "np.ndarray | None" = None, dt_ms: float | None = None,
                          current_mA: np.ndarray, u_mV: "np.ndarray | None" = None,
                          spike_times_ms: "np.ndarray | None" = None, source: str = "arrays") -> Recording:
    """A `Recording` from arrays, checked as files are.

    Args:
        t_ms: time stamps of the samples, ms, evenly spaced and increasing; they need not
            start at 0 (the recording is re-based and ``t_start_ms`` keeps the first stamp).
            Give this or ``dt_ms``, not both.
        dt_ms: sampling interval, ms (> 0), when ``t_ms`` is not given (the first sample is at 0).
        current_mA: input current, mA, shape (steps,), sample k held during [t_k, t_k + dt).
        u_mV: membrane potential, mV, shape (steps,), or None.
        spike_times_ms: spike times, ms, on the same clock as ``t_ms`` (or from 0 with
            ``dt_ms``), sorted; or None. At least one of ``u_mV`` and ``spike_times_ms``.
        source: named in messages and kept in `Recording.source`.

    Returns:
        The `Recording`.

    Raises:
        ParameterError: naming the argument and what is allowed.
    """
    return _from_arrays(source, "", {"t_ms": t_ms, "dt_ms": dt_ms, "current_mA": current_mA,
                                     "u_mV": u_mV, "spike_times_ms": spike_times_ms})


def _from_arrays(source: str, kind: str, values: dict, labels: _Labels | None = None) -> Recording:
    """Shared by `recording_from_arrays` (kind "") and the NPZ loader (kind "key ")."""
    name = lambda key: f"{kind}{key}"  # noqa: E731 - how messages name an input
    labels = labels or _Labels(name("t_ms"), name("current_mA"), name("u_mV"), name("spike_times_ms"))
    t_ms, dt_ms = values.get("t_ms"), values.get("dt_ms")
    if values.get("current_mA") is None:
        raise ParameterError(f"{source}: {name('current_mA')} is required (the input current, mA)")
    if (t_ms is None) == (dt_ms is None):
        raise ParameterError(f"{source}: give {name('t_ms')} (time stamps, ms) or {name('dt_ms')} (the step, ms), "
                             f"{'not both' if t_ms is not None else 'one of them'}")
    current = _vector(source, labels.current, values["current_mA"])
    if t_ms is not None:
        dt_ms, t_start_ms = _time_grid(source, labels.time, t_ms, labels)
        count = current.size
        if np.size(t_ms) != count:
            raise ParameterError(f"{source}: {labels.time} has {np.size(t_ms)} samples but {labels.current} has "
                                 f"{count}; they must have the same length")
    else:
        t_start_ms = 0.0
        dt_array = as_numbers(f"{source}: {name('dt_ms')}", dt_ms)
        if dt_array.ndim:
            raise ParameterError(f"{source}: {name('dt_ms')} must be one number, ms (got shape {dt_array.shape})")
        require_range(f"{source}: {name('dt_ms')}", dt_array, low=0.0, low_open=True, unit="ms")
        dt_ms = float(dt_array)
    spikes = values.get("spike_times_ms")
    if spikes is not None:
        spikes = _vector(source, labels.spikes, spikes) - t_start_ms
    current, voltage, spikes = _checked(source, dt_ms, current, values.get("u_mV"), spikes,
                                        t_start_ms, labels)
    return Recording(dt_ms, current, voltage, spikes, source, 0.0, t_start_ms)


# ------------------------------------------------------------------ files

def load_recording(path: "str | Path") -> Recording:
    """Read a recording from a file, by its suffix.

    ``.csv``: a header row, then one row per sample, comma-separated numbers. Columns (any
    order): ``t_ms`` (time stamps, ms, evenly spaced, increasing, any start) and ``current_mA``
    (mA), required; ``u_mV`` (mV) and ``spike`` (spikes at that sample's time: 0, 1 or a
    count), at least one of them. No other columns, no empty cells; blank lines are skipped.

    ``.npz`` (numpy.savez): ``current_mA`` (mA), ``t_ms`` (ms) or ``dt_ms`` (one number, ms;
    samples from 0), and ``u_mV`` (mV) and/or ``spike_times_ms`` (ms, sorted, on the clock of
    ``t_ms``). No other keys.

    ``.nix`` (Neo through NixIO, as `lifsim.save_nix` writes): the first block's first
    segment; an AnalogSignal named ``current``, ``i_in`` or ``i_ext`` (any current unit, in
    mA), one named ``u``, ``voltage`` or ``v`` (any voltage unit, in mV) and/or a
    SpikeTrain; channel 0 of multi-channel signals, and the spike train of that channel's
    neuron when the signal names it (``neuron`` array annotation, as lifsim writes) or else
    the first one. Times are re-based to the signal's ``t_start``.

    Args:
        path: the file (str or Path).

    Returns:
        The `Recording`, its ``source`` the path.

    Raises:
        ParameterError: a missing or unreadable file, an unknown suffix, missing or unknown
            columns/keys/signals, or values that break the rules above.
    """
    path = Path(path)
    source = str(path)
    loaders = {".csv": _load_csv, ".npz": _load_npz, ".nix": _load_nix}
    if path.suffix.lower() not in loaders:
        raise ParameterError(f"{source}: a recording must be a .csv, .npz or .nix file (got suffix {path.suffix!r})")
    if not path.is_file():
        raise ParameterError(f"{source}: no such file" if not path.exists() else f"{source}: is not a file")
    if path.stat().st_size == 0:
        raise ParameterError(f"{source}: the file is empty")
    return loaders[path.suffix.lower()](path, source)


def _load_csv(path: Path, source: str) -> Recording:
    names = _csv_header(path, source)
    data = _csv_numbers(path, source, names)
    column = {name: data[:, i] for i, name in enumerate(names)}
    labels = _Labels("column t_ms", "column current_mA", "column u_mV", "column spike", first_line=2)
    dt_ms, t_start_ms = _time_grid(source, labels.time, column["t_ms"], labels)
    spikes = None
    if "spike" in column:
        counts = _spike_counts(source, column["spike"], dt_ms, t_start_ms, labels)
        spikes = np.repeat(np.arange(counts.size) * dt_ms, counts)
    current, voltage, spikes = _checked(source, dt_ms, column["current_mA"], column.get("u_mV"), spikes,
                                        t_start_ms, labels)
    return Recording(dt_ms, current, voltage, spikes, source, 0.0, t_start_ms)


def _csv_header(path: Path, source: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as file:
        try:
            header = next(csv.reader(file), None)
        except (UnicodeDecodeError, csv.Error) as error:
            raise ParameterError(f"{source}: cannot read the header row as CSV text ({error})") from None
    names = [name.strip() for name in header or []]
    if not any(names):
        raise ParameterError(f"{source}: the first line must be a header naming the columns "
                             f"({', '.join(CSV_COLUMNS)}); it is empty")
    allowed = "t_ms and current_mA (required), u_mV and/or spike"
    for name in names:
        if name not in CSV_COLUMNS:
            raise ParameterError(f"{source}: unknown column {name!r}; the columns are {allowed}")
        if names.count(name) > 1:
            raise ParameterError(f"{source}: column {name!r} appears {names.count(name)} times; name each once")
    for name in ("t_ms", "current_mA"):
        if name not in names:
            raise ParameterError(f"{source}: missing column {name!r}; the columns are {allowed}")
    if "u_mV" not in names and "spike" not in names:
        raise ParameterError(f"{source}: needs a column u_mV (mV) or spike (0/1 or a count per sample), or both")
    return names


def _csv_numbers(path: Path, source: str, names: list[str]) -> np.ndarray:
    """The data rows as a (samples, columns) float array; a bad cell is refused by line and column."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on a file with no data rows
            data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2, comments=None, dtype=np.float64,
                              encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        _find_bad_cell(path, source, names)  # numpy's message lacks the column name: find it ourselves
        raise ParameterError(f"{source}: cannot read the rows as numbers ({error})") from None
    if data.shape[0] == 0:
        raise ParameterError(f"{source}: has a header but no data rows")
    if data.shape[1] != len(names):
        raise ParameterError(f"{source}: rows have {data.shape[1]} cells but the header names {len(names)} columns")
    return data


def _find_bad_cell(path: Path, source: str, names: list[str]) -> None:
    """Raise for the first row of the wrong width or cell that is not a number, if any."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            for line, row in enumerate(csv.reader(file), start=1):
                if line == 1 or not row:
                    continue
                if len(row) != len(names):
                    raise ParameterError(f"{source}: line {line} has {len(row)} cells but the header names "
                                         f"{len(names)} columns")
                for name, cell in zip(names, row):
                    try:
                        float(cell)
                    except ValueError:
                        raise ParameterError(f"{source}: column {name}, line {line}: {cell.strip()!r} is not a "
                                             "number") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ParameterError(f"{source}: cannot read the file as CSV text ({error})") from None


def _spike_counts(source, values, dt_ms, t_start_ms, labels: _Labels) -> np.ndarray:
    """The spike column as non-negative integer counts per sample."""
    counts = _trace(source, labels.spikes, values, dt_ms, t_start_ms, labels)
    bad = np.flatnonzero((counts < 0) | (counts != np.round(counts)))
    if bad.size:
        k = int(bad[0])
        raise ParameterError(f"{source}: {labels.spikes} must hold whole numbers >= 0, the spikes at each sample "
                             f"(got {counts[k]:g} at {labels.at(k, t_start_ms + k * dt_ms)})")
    return counts.astype(np.int64)


def _load_npz(path: Path, source: str) -> Recording:
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle it and say so
        raise ParameterError(f"{source}: is not a .npz archive (a zip of named arrays, as numpy.savez writes)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ParameterError(f"{source}: cannot read it as a .npz archive ({error})") from None
    with archive:
        unknown = sorted(set(archive.files) - set(NPZ_KEYS))
        if unknown:
            raise ParameterError(f"{source}: unknown key {unknown[0]!r}; the keys are current_mA and t_ms or dt_ms "
                                 "(required), u_mV and/or spike_times_ms")
        if "u_mV" not in archive.files and "spike_times_ms" not in archive.files:
            raise ParameterError(f"{source}: needs a key u_mV (mV) or spike_times_ms (ms), or both")
        values = {key: _npz_array(archive, source, key) for key in archive.files}
    return _from_arrays(source, "key ", values)


def _npz_array(archive, source: str, key: str) -> np.ndarray:
    try:
        return archive[key]
    except ValueError:  # an object array, which allow_pickle=False refuses to load
        raise ParameterError(f"{source}: key {key} must be an array of numbers (it holds Python objects)") from None


def _load_nix(path: Path, source: str) -> Recording:
    import quantities as pq

    segment, annotations = _nix_segment(path, source)
    current_signal = _nix_signal(segment, source, NIX_CURRENT_NAMES, "current")
    voltage_signal = _nix_signal(segment, source, NIX_VOLTAGE_NAMES, None)
    dt_ms = float(current_signal.sampling_period.rescale(pq.ms))
    t_start_ms = float(current_signal.t_start.rescale(pq.ms))
    _check_lifsim_sampling(source, annotations, dt_ms)
    current = _nix_channel(current_signal, source, pq.mA, "a current")
    voltage = None
    if voltage_signal is not None:
        _check_same_grid(source, current_signal, voltage_signal, dt_ms, t_start_ms)
        voltage = _nix_channel(voltage_signal, source, pq.mV, "a voltage")
    train = _nix_train(segment, current_signal)
    spikes = None if train is None else train.rescale(pq.ms).magnitude.astype(np.float64) - t_start_ms
    if voltage is None and spikes is None:
        raise ParameterError(f"{source}: the first segment needs an AnalogSignal named "
                             f"{', '.join(NIX_VOLTAGE_NAMES)} or a SpikeTrain to fit to (found neither)")
    labels = _Labels(current=f"signal {current_signal.name!r}",
                     voltage=f"signal {getattr(voltage_signal, 'name', 'u')!r}",
                     spikes=f"spike train {getattr(train, 'name', '')!r}")
    current, voltage, spikes = _checked(source, dt_ms, current, voltage, spikes, t_start_ms, labels)
    return Recording(dt_ms, current, voltage, spikes, source, 0.0, t_start_ms)


def _nix_segment(path: Path, source: str):
    """The first block's first segment, and the block's annotations."""
    from neo.io import NixIO

    try:
        with NixIO(str(path), mode="ro") as io:
            blocks = io.read_all_blocks()
    except Exception as error:  # noqa: BLE001 - h5py and nixio raise many kinds for a foreign file
        raise ParameterError(f"{source}: cannot read it as a NIX file ({type(error).__name__}: {error})") from None
    if not blocks or not blocks[0].segments:
        raise ParameterError(f"{source}: holds no {'block' if not blocks else 'segment in its first block'}")
    return blocks[0].segments[0], blocks[0].annotations


def _nix_signal(segment, source: str, names: tuple, required: str | None):
    by_name = {}
    for signal in segment.analogsignals:
        by_name.setdefault(str(signal.name).lower(), signal)
    for name in names:
        if name in by_name:
            return by_name[name]
    if required is None:
        return None
    found = ", ".join(repr(s.name) for s in segment.analogsignals) or "none"
    raise ParameterError(f"{source}: needs an AnalogSignal named {', '.join(names)} (the {required}); "
                         f"the first segment has {found}")


def _nix_channel(signal, source: str, unit, what: str) -> np.ndarray:
    """Channel 0 of ``signal`` in ``unit``."""
    try:
        values = signal.rescale(unit).magnitude
    except ValueError:
        raise ParameterError(f"{source}: signal {signal.name!r} is in {signal.units.dimensionality}, not "
                             f"{what} (convertible to {unit.dimensionality})") from None
    return np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)[:, 0]


def _check_same_grid(source, current, voltage, dt_ms, t_start_ms) -> None:
    import quantities as pq

    other_dt = float(voltage.sampling_period.rescale(pq.ms))
    other_start = float(voltage.t_start.rescale(pq.ms))
    if abs(other_dt - dt_ms) > TIME_TOLERANCE * dt_ms or abs(other_start - t_start_ms) > TIME_TOLERANCE * dt_ms:
        raise ParameterError(f"{source}: signals {current.name!r} and {voltage.name!r} must share their time grid "
                             f"(sampling period {dt_ms:g} vs {other_dt:g} ms, "
                             f"start {t_start_ms:g} vs {other_start:g} ms)")


def _check_lifsim_sampling(source: str, annotations: dict, dt_ms: float) -> None:
    """A lifsim run recorded every n > 1 steps does not say what current flowed between samples."""
    step = annotations.get("lifsim_dt_ms")
    if step is not None and abs(float(step) - dt_ms) > TIME_TOLERANCE * dt_ms:
        raise ParameterError(f"{source}: the run stepped every {float(step):g} ms but recorded every {dt_ms:g} ms; "
                             "fit a run that records every step (record every = 1)")


def _nix_train(segment, signal):
    """The spike train of the signal's channel-0 neuron when both name it, else the first one."""
    trains = segment.spiketrains
    if not trains:
        return None
    neurons = signal.array_annotations.get("neuron") if signal.array_annotations else None
    if neurons is not None and len(neurons):
        for train in trains:
            if train.annotations.get("neuron") == neurons[0]:
                return train
    return trains[0]
