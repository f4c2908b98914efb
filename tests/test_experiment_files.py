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
    assert set(experiment.builtin_names()) == {"square", "noise", "synaptic", "fi", "cuba", "brunel"}
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


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("name, overrides", [("cuba", {"neurons": 800}), ("brunel", {"order": 40})])
def test_show_prints_a_network_that_runs_the_same(tmp_path, name, overrides):
    original = experiment.load(name, **overrides)
    text = experiment.render(original)
    for key in ("[[population]]", "[population.model]", "[[projection]]", "receptors", "u_reset", "delay_ms"):
        assert key in text
    shown = experiment.load(str(write(tmp_path, text, f"{name}-shown.toml")))
    assert shown.config.populations == original.config.populations or name == "cuba"  # drawn u_init: same table
    a = lifsim.simulate(original.config.replace(duration_ms=30.0))
    b = lifsim.simulate(shown.config.replace(duration_ms=30.0))
    assert a.spike_times_ms.size > 0 and a.synapses == b.synapses
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)


def test_order_and_neurons_scale_a_network():
    brunel = experiment.load("brunel", order=100).config
    assert [p.size for p in brunel.populations] == [400, 100]
    assert [p.k for p in brunel.projections] == [40, 40, 10, 10]
    again = experiment.load("brunel", neurons=1000)  # five neurons per order
    assert again.order == 200 and again.config.n_neurons == 1000
    cuba = experiment.load("cuba", neurons=1000).config
    assert [p.size for p in cuba.populations] == [800, 200]
    assert all(p.p == pytest.approx(0.08) for p in cuba.projections)  # expected in-degree 80 kept
    with pytest.raises(ParameterError, match="order: only a network"):
        experiment.load("square", order=3)


@pytest.mark.parametrize("text, message", [
    ('[[population]]\nsize = 3\n', r"population\[0\].name is needed"),
    ('[[population]]\nname = "E"\nsize = 3\nshape = 1\n', r"unknown key population\[0\].shape"),
    ('[[population]]\nname = "E"\nsize = { order = 2 }\n', r"population\[0\].size: \{order = ...\} needs the file's order"),
    ('[[population]]\nname = "E"\nsize = "big"\n', r"population\[0\].size must be a whole number or \{order"),
    ('[[population]]\nname = "E"\nsize = 3\nreceptors = [{ name = "x", kind = "gaba" }]\n',
     r"population\[0\].receptors\[0\]: receptor x.kind must be one of exponential, delta"),
    ('[[population]]\nname = "E"\nsize = 3\n[[projection]]\nsource = "E"\ntarget = "E"\nrule = "fixed_indegree"\n'
     'k = 4\n', r"projection\[0\].k must be a whole number in \[0, 3\]"),
    ('[[population]]\nname = "E"\nsize = 3\n[[projection]]\nsource = "E"\n', r"projection\[0\].target is needed"),
    ('[[population]]\nname = "E"\nsize = 3\n[[projection]]\nsource = "E"\ntarget = "E"\nweight = { cauchy = [0, 1] }\n',
     r"projection\[0\].weight must be \{normal = \[mean, sd\]\} or \{uniform = \[low, high\]\}"),
    ('neurons = 4\n[[population]]\nname = "E"\nsize = 3\n', "a network's size is the sum of its populations"),
    ('[[population]]\nname = "E"\nsize = 3\n[record]\nneurons = { F = [0] }\n', "record.neurons: no population 'F'"),
    ('[[population]]\nname = "E"\nsize = 3\n[record]\nneurons = { E = [3] }\n', r"record.neurons.E must be in \[0, 2\]"),
])
def test_network_file_refusals_name_the_key(tmp_path, text, message):
    with pytest.raises(ParameterError, match=message):
        experiment.load(str(write(tmp_path, text)))


def test_run_a_network_on_the_command_line(tmp_path, capsys):
    assert cli.main(["run", "brunel", "--order", "60", "--duration", "60", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "population E (neurons 0–239)" in out and "spikes delivered" in out
    import json

    data = json.loads((tmp_path / "brunel.json").read_text())
    assert [(p["name"], p["first"], p["stop"]) for p in data["populations"]] == [("E", 0, 240), ("I", 240, 300)]
    stats = {p["name"]: p for p in data["population_statistics"]}
    assert stats["E"]["mean_rate_hz"] > 0 and "cv_isi" in stats["I"]
    assert len(data["spikes"]["times_ms"]) == len(data["spikes"]["neuron"]) > 0
    assert data["synapses"] == 300 * (24 + 6)
    assert (tmp_path / "brunel.png").stat().st_size > 20_000
    arrays = np.load(tmp_path / "brunel.npz")
    np.testing.assert_array_equal(arrays["recorded_neurons"], [0, 1, 240])


def test_bench_runs_the_networks_on_tiny_sizes(capsys):
    import json

    assert cli.main(["bench", "cuba", "--neurons", "400", "--duration", "20", "--threads", "1", "--json"]) == 0
    cuba = json.loads(capsys.readouterr().out)
    assert cuba["neurons"] == 400 and cuba["synapses"] > 0 and cuba["synaptic_events_per_s"] > 0
    assert cuba["build_s"] >= 0 and cuba["process_s"] > 0 and cuba["peak_rss_mib"] > 0
    assert cli.main(["bench", "brunel", "--order", "20", "--duration", "20", "--json"]) == 0
    brunel = json.loads(capsys.readouterr().out)
    assert brunel["neurons"] == 100 and brunel["synapses"] == 100 * 10 and set(brunel["rates_hz"]) == {"E", "I"}
    assert cli.main(["bench", "A", "--order", "3"]) == 2
