"""Recordings for fitting: CSV, NPZ and NIX files, their refusals, and the train/test split."""

import numpy as np
import pytest

import lifsim
from lifsim.errors import ParameterError
from lifsim.fit.data import MIN_SPLIT_STEPS, Recording, load_recording, recording_from_arrays

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")

DT = 0.1
STEPS = 50


def _columns(steps=STEPS, start=0.0):
    t = start + DT * np.arange(steps)
    current = 1e-3 * np.sin(t)  # mA
    u = -60.0 + 5.0 * np.cos(t)  # mV
    spike = np.zeros(steps, dtype=int)
    spike[[3, 20, 21]] = 1
    spike[40] = 2  # a count: two spikes in one sample
    return t, current, u, spike


def _write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _good_csv(tmp_path, start=0.0, name="rec.csv"):
    t, current, u, spike = _columns(start=start)
    rows = list(zip(t, current, u, spike))
    return _write_csv(tmp_path / name, ["t_ms", "current_mA", "u_mV", "spike"], rows)


def _refusal(path, *words):
    with pytest.raises(ParameterError) as caught:
        load_recording(path)
    message = str(caught.value)
    assert "\n" not in message
    for word in (str(path), *words):
        assert word in message, message
    return message


# ------------------------------------------------------------------ CSV

def test_csv_round_trip(tmp_path):
    t, current, u, spike = _columns()
    rec = load_recording(_good_csv(tmp_path))
    assert rec.dt_ms == pytest.approx(DT, rel=1e-12)
    assert rec.steps == STEPS and rec.duration_ms == pytest.approx(STEPS * DT)
    np.testing.assert_array_equal(rec.current, current)
    np.testing.assert_array_equal(rec.voltage, u)
    # a spike at sample k is at t_k; the count of 2 at sample 40 gives two spikes there
    np.testing.assert_allclose(rec.spike_times_ms, DT * np.array([3, 20, 21, 40, 40]), rtol=1e-12)
    assert rec.current.dtype == np.float64 and not rec.current.flags.writeable
    assert rec.t0_ms == 0.0 and rec.t_start_ms == 0.0 and rec.source == str(tmp_path / "rec.csv")


def test_csv_columns_in_any_order_and_optional_ones(tmp_path):
    t, current, _, spike = _columns()
    path = _write_csv(tmp_path / "spikes.csv", ["spike", "current_mA", "t_ms"],
                      zip(spike, current, t))
    rec = load_recording(path)
    assert rec.voltage is None
    np.testing.assert_array_equal(rec.current, current)
    assert rec.spike_times_ms.size == 5
    t, current, u, _ = _columns()
    path = _write_csv(tmp_path / "volts.csv", ["t_ms", "current_mA", "u_mV"], zip(t, current, u))
    assert load_recording(path).spike_times_ms is None


def test_csv_start_is_rebased(tmp_path):
    rec = load_recording(_good_csv(tmp_path, start=1000.0))
    assert rec.t_start_ms == pytest.approx(1000.0)
    # spike times count from the recording's start, not from the file's clock
    np.testing.assert_allclose(rec.spike_times_ms, DT * np.array([3, 20, 21, 40, 40]), atol=1e-9)


@pytest.mark.parametrize("header, words", [
    (["t_ms", "current_mA", "u_mV", "volts"], ["'volts'", "t_ms", "current_mA", "u_mV", "spike"]),
    (["current_mA", "u_mV"], ["missing column 't_ms'"]),
    (["t_ms", "u_mV"], ["missing column 'current_mA'"]),
    (["t_ms", "current_mA"], ["u_mV", "spike"]),
    (["t_ms", "current_mA", "u_mV", "u_mV"], ["'u_mV' appears 2 times"]),
])
def test_csv_column_refusals(tmp_path, header, words):
    path = _write_csv(tmp_path / "bad.csv", header, [[0.0] * len(header), [0.1] * len(header)])
    _refusal(path, *words)


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    path = _good_csv(tmp_path)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "high"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    _refusal(path, "column u_mV", "line 6", "'high'")


def test_csv_empty_cell_and_short_row(tmp_path):
    path = _good_csv(tmp_path)
    lines = path.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(lines) + "\n")
    _refusal(path, "column spike", "line 4", "is not a number")
    lines[3] = lines[3].rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    _refusal(path, "line 4 has 3 cells", "4 columns")


def test_csv_empty_header_only_and_one_sample(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _refusal(empty, "empty")
    header = tmp_path / "header.csv"
    header.write_text("t_ms,current_mA,u_mV\n")
    _refusal(header, "no data rows")
    one = _write_csv(tmp_path / "one.csv", ["t_ms", "current_mA", "u_mV"], [(0.0, 0.0, -60.0)])
    _refusal(one, "at least 2 samples")


@pytest.mark.parametrize("column, index, value, words", [
    ("current_mA", 7, "nan", ["column current_mA", "finite", "line 9", "t = 0.7 ms", "1 sample in all"]),
    ("u_mV", 12, "inf", ["column u_mV", "finite", "line 14"]),
    ("t_ms", 4, "nan", ["column t_ms", "finite", "line 6"]),
])
def test_csv_non_finite_samples(tmp_path, column, index, value, words):
    t, current, u, spike = _columns()
    table = {"t_ms": list(map(str, t)), "current_mA": list(map(str, current)), "u_mV": list(map(str, u)),
             "spike": list(spike)}
    table[column][index] = value
    path = _write_csv(tmp_path / "nan.csv", list(table), zip(*table.values()))
    _refusal(path, *words)


@pytest.mark.parametrize("times, words", [
    ([0.0, 0.1, 0.2, 0.2, 0.4, 0.5], ["column t_ms", "increase", "repeats", "line 5"]),
    ([0.0, 0.1, 0.2, 0.15, 0.4, 0.5], ["column t_ms", "increase", "decreases", "line 5"]),
    ([0.0, 0.1, 0.2, 0.3, 0.41, 0.5], ["column t_ms", "evenly spaced", "line 6"]),
])
def test_csv_time_stamps(tmp_path, times, words):
    path = _write_csv(tmp_path / "t.csv", ["t_ms", "current_mA", "u_mV"], [(t, 0.0, -60.0) for t in times])
    _refusal(path, *words)


def test_csv_time_tolerance_accepts_rounding(tmp_path):
    # stamps printed to 9 significant digits are uneven by far less than 1e-6 of the step: accepted
    times = [float(f"{t:.9g}") for t in 1 / 3 * np.arange(1, 40)]
    path = _write_csv(tmp_path / "t.csv", ["t_ms", "current_mA", "u_mV"], [(t, 0.0, -60.0) for t in times])
    rec = load_recording(path)
    assert rec.dt_ms == pytest.approx(1 / 3, rel=1e-6) and rec.t_start_ms == pytest.approx(1 / 3, rel=1e-5)


@pytest.mark.parametrize("value, words", [("-1", ["column spike", "whole numbers >= 0", "-1", "line 4"]),
                                          ("0.5", ["column spike", "whole numbers >= 0", "0.5", "line 4"])])
def test_csv_spike_column_values(tmp_path, value, words):
    rows = [(DT * k, 0.0, -60.0, 0) for k in range(5)]
    rows[2] = (2 * DT, 0.0, -60.0, value)
    path = _write_csv(tmp_path / "s.csv", ["t_ms", "current_mA", "u_mV", "spike"], rows)
    _refusal(path, *words)


# ------------------------------------------------------------------ files in general

def test_missing_file_and_unknown_suffix(tmp_path):
    _refusal(tmp_path / "absent.csv", "no such file")
    other = tmp_path / "rec.txt"
    other.write_text("t_ms,current_mA,u_mV\n0,0,0\n")
    _refusal(other, ".csv, .npz or .nix", "'.txt'")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    _refusal(folder, "not a file")


# ------------------------------------------------------------------ NPZ

def test_npz_round_trip_with_t_ms_and_dt_ms(tmp_path):
    t, current, u, _ = _columns(start=5.0)
    spikes = np.array([5.3, 7.0, 9.9])  # on the clock of t_ms
    np.savez(tmp_path / "a.npz", t_ms=t, current_mA=current, u_mV=u, spike_times_ms=spikes)
    rec = load_recording(tmp_path / "a.npz")
    np.testing.assert_array_equal(rec.current, current)
    np.testing.assert_array_equal(rec.voltage, u)
    np.testing.assert_allclose(rec.spike_times_ms, spikes - 5.0, atol=1e-12)
    assert rec.t_start_ms == 5.0 and rec.dt_ms == pytest.approx(DT)
    np.savez(tmp_path / "b.npz", dt_ms=0.25, current_mA=current, spike_times_ms=np.array([0.0, 12.5]))
    rec = load_recording(tmp_path / "b.npz")
    assert rec.dt_ms == 0.25 and rec.voltage is None and rec.t_start_ms == 0.0
    np.testing.assert_array_equal(rec.spike_times_ms, [0.0, 12.5])  # 12.5 = steps·dt: the closed end


@pytest.mark.parametrize("arrays, words", [
    ({"t_ms": "T", "current_mA": "I", "u_mV": "U", "extra": "I"}, ["unknown key 'extra'", "current_mA"]),
    ({"t_ms": "T", "u_mV": "U"}, ["current_mA is required"]),
    ({"current_mA": "I", "u_mV": "U"}, ["key t_ms", "key dt_ms", "one of them"]),
    ({"t_ms": "T", "dt_ms": 0.1, "current_mA": "I", "u_mV": "U"}, ["key t_ms", "key dt_ms", "not both"]),
    ({"t_ms": "T", "current_mA": "I"}, ["u_mV", "spike_times_ms"]),
    ({"dt_ms": -0.1, "current_mA": "I", "u_mV": "U"}, ["key dt_ms", "> 0"]),
    ({"dt_ms": [0.1, 0.2], "current_mA": "I", "u_mV": "U"}, ["key dt_ms", "one number"]),
    ({"t_ms": "T", "current_mA": "I", "u_mV": "U[:-1]"}, ["key u_mV has 49", "key current_mA has 50"]),
    ({"t_ms": "T[:-1]", "current_mA": "I", "u_mV": "U"}, ["key t_ms has 49", "key current_mA has 50"]),
    ({"t_ms": "T", "current_mA": "I2", "u_mV": "U"}, ["key current_mA", "one-dimensional"]),
    ({"t_ms": "T", "current_mA": "Inan", "u_mV": "U"}, ["key current_mA", "finite", "sample 9"]),
    ({"t_ms": "T", "current_mA": "I", "spike_times_ms": [1.0, np.nan]}, ["key spike_times_ms", "finite"]),
    ({"t_ms": "T", "current_mA": "I", "spike_times_ms": [1.0, 5.1]}, ["key spike_times_ms", "within", "5.1"]),
    ({"t_ms": "T", "current_mA": "I", "spike_times_ms": [-0.5]}, ["key spike_times_ms", "within", "-0.5"]),
    ({"t_ms": "T", "current_mA": "I", "spike_times_ms": [2.0, 1.0]}, ["key spike_times_ms", "sorted"]),
    ({"t_ms": "T", "current_mA": "Istr", "u_mV": "U"}, ["key current_mA", "number"]),
])
def test_npz_refusals(tmp_path, arrays, words):
    t, current, u, _ = _columns()
    named = {"T": t, "T[:-1]": t[:-1], "I": current, "U": u, "U[:-1]": u[:-1], "I2": np.stack([current, current]),
             "Inan": np.where(np.arange(STEPS) == 9, np.nan, current), "Istr": np.array(["a"] * STEPS)}
    values = {key: named.get(value, value) if isinstance(value, str) else np.asarray(value)
              for key, value in arrays.items()}
    np.savez(tmp_path / "bad.npz", **values)
    _refusal(tmp_path / "bad.npz", *words)


def test_npz_object_array(tmp_path):
    np.savez(tmp_path / "objects.npz", dt_ms=0.1, current_mA=np.array([1.0, None], dtype=object), u_mV=np.zeros(2))
    _refusal(tmp_path / "objects.npz", "key current_mA", "array of numbers")


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip file at all")
    _refusal(path, "not a .npz archive")


# ------------------------------------------------------------------ NIX

def _nix_file(path, signals, trains=(), block_annotations=None):
    from neo.io import NixIO

    block = neo.Block(**(block_annotations or {}))
    segment = neo.Segment()
    block.segments.append(segment)
    segment.analogsignals.extend(signals)
    segment.spiketrains.extend(trains)
    with NixIO(str(path), mode="ow") as io:
        io.write_block(block)
    return path


def test_nix_converts_units_and_takes_channel_0(tmp_path):
    t, current, u, _ = _columns()
    nanoamps = np.stack([current * 1e6, np.ones(STEPS)], axis=1)  # mA -> nA; channel 1 is a decoy
    path = _nix_file(tmp_path / "rec.nix", [
        neo.AnalogSignal(nanoamps, units="nA", sampling_period=DT * pq.ms, t_start=2.0 * pq.ms, name="current"),
        neo.AnalogSignal(u / 1e3, units="V", sampling_period=DT * pq.ms, t_start=2.0 * pq.ms, name="voltage"),
    ], [neo.SpikeTrain([0.0025, 0.004], units="s", t_start=0.0 * pq.s, t_stop=1.0 * pq.s)])
    rec = load_recording(path)
    np.testing.assert_allclose(rec.current, current, rtol=1e-12, atol=0)
    np.testing.assert_allclose(rec.voltage, u, rtol=1e-12)
    np.testing.assert_allclose(rec.spike_times_ms, [0.5, 2.0], atol=1e-12)  # re-based to the signal's t_start
    assert rec.dt_ms == pytest.approx(DT) and rec.t_start_ms == pytest.approx(2.0)


def test_nix_of_a_lifsim_run(tmp_path):
    pytest.importorskip("nixio")
    config = lifsim.load_experiment("square").config
    assert set(config.record.variables) >= {"u", "i_in"}  # what the experiment records
    result = lifsim.simulate(config)
    path = lifsim.save_nix(result, tmp_path / "square.nix")
    rec = load_recording(path)
    np.testing.assert_array_equal(rec.current, result.traces["i_in"][:, 0])
    np.testing.assert_array_equal(rec.voltage, result.traces["u"][:, 0])
    np.testing.assert_array_equal(rec.spike_times_ms, result.spikes_of(int(result.recorded_neurons[0])))
    assert rec.spike_times_ms.size == 6 and rec.dt_ms == config.dt_ms and rec.steps == result.t_ms.size


def test_nix_picks_the_recorded_neurons_spike_train(tmp_path):
    result = lifsim.simulate(stimuli=[lifsim.NoiseCurrent(1.4, 1.2)], n_neurons=4, duration_ms=100.0, dt_ms=0.5,
                             seed=2, record=lifsim.Record(("u", "i_in"), neurons=[2, 3]))
    rec = load_recording(lifsim.save_nix(result, tmp_path / "net.nix"))
    np.testing.assert_array_equal(rec.spike_times_ms, result.spikes_of(2))
    np.testing.assert_array_equal(rec.voltage, result.traces["u"][:, 0])
    assert not np.array_equal(result.spikes_of(2), result.spikes_of(0))  # else the test proves nothing


def test_nix_refuses_a_run_recorded_every_other_step(tmp_path):
    result = lifsim.simulate(stimuli=[lifsim.ConstantCurrent(1.6)], n_neurons=1, duration_ms=50.0, dt_ms=0.5,
                             record=lifsim.Record(("u", "i_in"), every=2))
    _refusal(lifsim.save_nix(result, tmp_path / "sparse.nix"), "stepped every 0.5 ms", "recorded every 1 ms")


def test_nix_refusals(tmp_path):
    t, current, u, _ = _columns()
    volts = neo.AnalogSignal(u, units="mV", sampling_period=DT * pq.ms, name="u")
    no_current = _nix_file(tmp_path / "a.nix", [volts])
    _refusal(no_current, "current, i_in, i_ext", "'u'")
    wrong_unit = _nix_file(tmp_path / "b.nix", [
        neo.AnalogSignal(current, units="mV", sampling_period=DT * pq.ms, name="i_in"), volts])
    _refusal(wrong_unit, "signal 'i_in'", "mV", "not a current")
    nothing_to_fit = _nix_file(tmp_path / "c.nix", [
        neo.AnalogSignal(current, units="mA", sampling_period=DT * pq.ms, name="i_ext")])
    _refusal(nothing_to_fit, "u, voltage, v", "SpikeTrain")
    other_grid = _nix_file(tmp_path / "d.nix", [
        neo.AnalogSignal(current, units="mA", sampling_period=DT * pq.ms, name="current"),
        neo.AnalogSignal(u, units="mV", sampling_period=2 * DT * pq.ms, name="v")])
    _refusal(other_grid, "'current'", "'v'", "time grid")
    nan_voltage = _nix_file(tmp_path / "e.nix", [
        neo.AnalogSignal(current, units="mA", sampling_period=DT * pq.ms, name="current"),
        neo.AnalogSignal(np.where(np.arange(STEPS) == 4, np.nan, u), units="mV", sampling_period=DT * pq.ms,
                         name="u")])
    _refusal(nan_voltage, "signal 'u'", "finite", "sample 4")
    not_nix = tmp_path / "f.nix"
    not_nix.write_text("plain text")
    _refusal(not_nix, "cannot read it as a NIX file")


# ------------------------------------------------------------------ arrays and Recording itself

def test_from_arrays_and_argument_names():
    t, current, u, _ = _columns()
    rec = recording_from_arrays(dt_ms=DT, current_mA=current, u_mV=u)
    np.testing.assert_array_equal(rec.voltage, u)
    assert rec.source == "arrays"
    current[0] = 99.0  # the recording keeps a copy
    assert rec.current[0] != 99.0
    with pytest.raises(ValueError):
        rec.current[1] = 0.0  # read-only
    with pytest.raises(ParameterError, match=r"^arrays: u_mV has 49 samples but current_mA has 50"):
        recording_from_arrays(dt_ms=DT, current_mA=current, u_mV=u[:-1])
    with pytest.raises(ParameterError, match=r"^cell 3: spike_times_ms must be sorted"):
        recording_from_arrays(dt_ms=DT, current_mA=current, spike_times_ms=[3.0, 1.0], source="cell 3")
    with pytest.raises(ParameterError, match="needs a voltage trace or spike times"):
        recording_from_arrays(dt_ms=DT, current_mA=current)
    with pytest.raises(ParameterError, match="dt_ms must be > 0"):
        Recording(0.0, current, u, None)


def test_empty_spike_train_is_kept():
    rec = recording_from_arrays(dt_ms=1.0, current_mA=np.zeros(20), spike_times_ms=[])
    assert rec.spike_times_ms.size == 0 and rec.spike_times_ms.dtype == np.float64


# ------------------------------------------------------------------ split

def _ramp(steps=30, dt=0.5):
    return recording_from_arrays(t_ms=100.0 + dt * np.arange(steps), current_mA=np.arange(steps, dtype=float),
                                 u_mV=-np.arange(steps, dtype=float),
                                 spike_times_ms=100.0 + np.array([0.0, 4.5, 9.5, 10.0, 14.5, 15.0]))


def test_split_cuts_at_a_whole_step_and_rebases():
    rec = _ramp()  # 30 steps of 0.5 ms; a third is 10 steps: the cut is at step 20, 10 ms
    train, test = rec.split(1 / 3)
    assert (train.steps, test.steps) == (20, 10)
    np.testing.assert_array_equal(train.current, np.arange(20))
    np.testing.assert_array_equal(test.current, np.arange(20, 30))
    np.testing.assert_array_equal(test.voltage, -np.arange(20, 30))
    np.testing.assert_array_equal(train.spike_times_ms, [0.0, 4.5, 9.5])
    # 10.0 is exactly at the cut: the test part's time 0; 15.0 = its end (closed)
    np.testing.assert_array_equal(test.spike_times_ms, [0.0, 4.5, 5.0])
    assert (train.t0_ms, test.t0_ms) == (0.0, 10.0)
    assert train.t_start_ms == test.t_start_ms == 100.0 and test.dt_ms == rec.dt_ms
    # splitting a part again keeps counting t0 from the original recording
    assert _ramp(steps=60).split(0.5)[1].split(0.5)[1].t0_ms == 15.0 + 7.5


def test_split_rounds_to_the_nearest_step():
    train, test = _ramp(steps=43).split(0.3)  # 0.3·43 = 12.9 -> 13 test steps
    assert (train.steps, test.steps) == (30, 13)
    assert test.t0_ms == 30 * 0.5


@pytest.mark.parametrize("fraction, words", [(0.0, ["test_fraction", "(0, 1)"]), (1.0, ["(0, 1)"]),
                                             (float("nan"), ["test_fraction", "finite"]),
                                             (0.2, ["6 test steps", f"at least {MIN_SPLIT_STEPS}"]),
                                             (0.8, ["6 training", f"at least {MIN_SPLIT_STEPS}"])])
def test_split_refusals(fraction, words):
    with pytest.raises(ParameterError) as caught:
        _ramp().split(fraction)
    for word in words:
        assert word in str(caught.value), str(caught.value)
