"""Experiments as TOML files: the built-ins, refusals naming file and key, show, overrides."""

import numpy as np
import pytest

import lifsim
from lifsim import ParameterError, cli
from lifsim.io import experiment_file as experiment


def write(tmp_path, text, name="exp.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtins_are_files():
    assert set(experiment.builtin_names()) == {"square", "noise", "synaptic", "fi"}
    square = experiment.load("square")
    assert square.config.stimuli[0].pulses == ((10.0, 30.0, 0.5), (50.0, 100.0, 1.2), (120.0, 180.0, 1.5))
    assert "built-in" in square.source


@pytest.mark.parametrize("text, message", [
    ("durations_ms = 10.0\n", "unknown key durations_ms; allowed keys:"),
    ("[model]\ntau = 3.0\n", "unknown key model.tau"),
    ("[[stimulus]]\nkind = \"noise\"\nmeen = 1.0\n", r"unknown key stimulus\[0\].meen"),
    ("[record]\nevery = 0\n", "record.every must be a whole number >= 1"),
    ("dt_ms = \"fast\"\n", "dt_ms must be a number"),
    ("seed = 1.5\n", "seed must be a whole number"),
    ("[model]\ntau_m = -1.0\n", r"model.tau_m must be > 0 ms \(got -1\)"),
    ("[model]\ntau_m = [10.0, \"x\"]\n", "model.tau_m must be a number, a list of numbers or a value table"),
    ("[[stimulus]]\nkind = \"poisson\"\nrate_hz = 2000.0\n", r"stimulus\[0\].rate_hz .*must be < 1"),
    ("[[stimulus]]\nkind = \"laser\"\n", r"stimulus\[0\].kind must be one of"),
    ("[[stimulus]]\nkind = \"square\"\npulses = [[1.0, 2.0]]\n", r"stimulus\[0\].pulses must be a list of"),
    ("[plot]\npanels = [\"u\", \"spectrum\"]\n", "plot.panels must be among"),
    ("method = \"exact\"\nmethods = [\"article\"]\n", "either method or methods"),
    ("[model]\ntau_m = { uniform = [5, 10] }\n", "needs 'neurons' to be set"),
    ("dt_ms = 1.0\n[[stimulus]\n", "not valid TOML"),
    ("seed = -1\nneurons = 3\n[model]\ntau_m = { uniform = [5, 10] }\n", "seed must be a whole number >= 0"),
    ("neurons = -2\n[model]\ntau_m = { uniform = [5, 10] }\n", "neurons must be a whole number >= 1"),
    ("[[stimulus]]\nkind = \"square\"\npulses = [[0, 10, true]]\n", r"stimulus\[0\].pulses must be a list"),
    ("[[stimulus]]\nkind = \"spikes\"\ntimes_ms = [[1, 2]]\n", r"stimulus\[0\].times_ms must be a list of numbers"),
    ("[[stimulus]]\nkind = \"poisson\"\nsynapses = 2\nweights = [[1, 2], [3]]\n", "equal-length lists"),
    ("[[stimulus]]\nkind = [\"constant\"]\n", r"stimulus\[0\].kind must be one of"),
])
def test_refusals_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ParameterError, match=message) as error:
        experiment.load(str(path))
    assert str(error.value).startswith(str(path))


def test_refusal_on_the_command_line_is_one_line(tmp_path, capsys):
    path = write(tmp_path, "[model]\ntau_m = 0.0\n")
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "model.tau_m" in err and "> 0 ms" in err


def test_per_neuron_values(tmp_path):
    path = write(tmp_path, """
neurons = 5
[model]
tau_m = { uniform = [8.0, 12.0] }
u_thresh = { normal = [1.0, 0.1] }
tau_rest = [1.0, 2.0, 3.0, 4.0, 5.0]
[[stimulus]]
kind = "constant"
amplitude = { start = 1.0, stop = 2.2, step = 0.25 }
""")
    exp = experiment.load(str(path))
    model = exp.config.model
    assert model.tau_m.shape == (5,) and np.all((model.tau_m >= 8.0) & (model.tau_m <= 12.0))
    np.testing.assert_array_equal(exp.config.stimuli[0].amplitude, [1.0, 1.25, 1.5, 1.75, 2.0])
    np.testing.assert_array_equal(model.tau_rest, [1, 2, 3, 4, 5])
    again = experiment.load(str(path))
    np.testing.assert_array_equal(again.config.model.tau_m, model.tau_m)  # drawn from the seed
    other = experiment.load(str(path), seed=7)
    assert not np.array_equal(other.config.model.tau_m, model.tau_m)


def test_population_size_follows_per_neuron_currents(tmp_path):
    path = write(tmp_path, '[[stimulus]]\nkind = "constant"\namplitude = { start = 1.0, stop = 2.0, step = 0.25 }\n')
    exp = experiment.load(str(path))
    assert exp.config.n_neurons == 4
    np.testing.assert_array_equal(exp.config.stimuli[0].amplitude, [1.0, 1.25, 1.5, 1.75])


def test_random_values_do_not_depend_on_key_order(tmp_path):
    a = write(tmp_path, "neurons = 4\n[model]\ntau_m = { uniform = [8, 12] }\nR = { uniform = [1, 2] }\n", "a.toml")
    b = write(tmp_path, "neurons = 4\n[model]\nR = { uniform = [1, 2] }\ntau_m = { uniform = [8, 12] }\n", "b.toml")
    first, second = experiment.load(str(a)).config.model, experiment.load(str(b)).config.model
    np.testing.assert_array_equal(first.tau_m, second.tau_m)


@pytest.mark.parametrize("name", ["square", "noise", "synaptic", "fi"])
def test_show_prints_a_file_that_runs_the_same(tmp_path, name, capsys):
    assert cli.main(["show", name]) == 0
    text = capsys.readouterr().out
    for key in ("duration_ms", "dt_ms", "seed", "neurons", "[model]", "u_rest", "tau_syn", "[record]", "[plot]"):
        assert key in text
    path = write(tmp_path, text, f"{name}-shown.toml")
    original, shown = experiment.load(name), experiment.load(str(path))
    assert shown.methods == original.methods and shown.panels == original.panels
    a, b = lifsim.simulate(original.config.replace(duration_ms=60.0)), lifsim.simulate(shown.config.replace(
        duration_ms=60.0))
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    for variable in a.traces:
        np.testing.assert_array_equal(a.traces[variable], b.traces[variable])


def test_show_fills_in_defaults(tmp_path, capsys):
    path = write(tmp_path, '[[stimulus]]\nkind = "poisson"\nrate_hz = 5.0\n')
    assert cli.main(["show", str(path)]) == 0
    text = capsys.readouterr().out
    for line in ('engine = "numba"', 'method = "article"', "dt_ms = 1.0", "duration_ms = 200.0", "synapses = 25",
                 "weight_mean = 1.0", "q = 1.5", 'generation = "event"', "tau_m = 10.0"):
        assert line in text


def test_fi_experiment(tmp_path):
    assert cli.main(["run", "fi", "--out", str(tmp_path), "--currents", "0.5:3:0.25", "--quiet"]) == 0
    import json

    data = json.loads((tmp_path / "fi.json").read_text())
    fi = data["fi"]
    np.testing.assert_allclose(fi["currents_mA"], np.arange(0.5, 3.0, 0.25))
    assert set(fi["rates_hz"]) == {"article", "exact"} and data["methods"] == ["article", "exact"]
    for method in ("article", "exact"):
        measured, predicted = np.array(fi["rates_hz"][method]), np.array(fi["predicted_hz"][method])
        assert np.all(measured[:2] == 0.0) and np.all(measured[3:] > 0)  # below and above 1 mA
        firing = predicted > 0
        period = 1000.0 / predicted[firing]  # ms; measured periods are within a step (0.1 ms) or two
        assert np.all(np.abs(1000.0 / measured[firing] - period) <= 0.2)
    assert (tmp_path / "fi.png").stat().st_size > 10_000


def test_fi_single_method_and_bad_currents(tmp_path, capsys):
    assert cli.main(["run", "fi", "--out", str(tmp_path), "--method", "exact", "--currents", "1:2:0.5",
                     "--quiet"]) == 0
    import json

    assert list(json.loads((tmp_path / "fi.json").read_text())["fi"]["rates_hz"]) == ["exact"]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "fi", "--currents", "3:1:0.5"])
    assert exit_.value.code == 2
    assert cli.main(["run", "square", "--currents", "1:2:0.5", "--out", str(tmp_path)]) == 2
    assert "needs exactly one constant-current stimulus" in capsys.readouterr().err
