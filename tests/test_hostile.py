"""Hostile input, class by class: refused before any work with one line naming the
parameter (exit 2 on the command line, ParameterError in Python), nothing left behind,
and a run that still turns non-finite stops naming the neuron, the step and the variable."""

import numpy as np
import pytest

import lifsim
from lifsim import cli
from lifsim.errors import NonFiniteError


def refused(capsys, tmp_path, *argv, says):
    """The command line refuses ``argv``: exit 2, one line naming ``says``, no --out left."""
    out = tmp_path / "out"
    argv = [*argv, "--out", str(out)] if argv[0] == "run" and "--out" not in argv else list(argv)
    try:
        status = cli.main(argv)
    except SystemExit as usage_error:  # argparse refuses an option's form itself
        status = usage_error.code
    assert status == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("lifsim") and says in err, err
    assert not out.exists()


@pytest.mark.parametrize("argv, says", [
    (["run", "square", "--duration", "1e308", "--dt", "0.1"], "duration/dt must be at most"),
    (["run", "square", "--dt", "5e-324", "--method", "exact"], "duration/dt must be at most"),
    (["run", "square", "--neurons", "1000000000000"], "neurons must be a whole number in [1, 2147483647]"),
    (["run", "noise", "--neurons", "18446744073709551617"], "neurons must be"),
    (["bench", "A", "--neurons", "1000000000000"], "neurons must be"),
    (["run", "fi", "--currents", "0:1e15:1"], "--currents"),
    (["run", "square", "--dt", "1e-6", "--duration", "1e5"], "memory"),  # the estimate refuses it, and --out is not made
    (["run", "square", "--dt", "1e-12"], "tau_rest must be at most 2147483646 steps"),
    (["run", "square", "--out", ""], "must name a file or folder"),
])
def test_sizes_and_step_counts_are_refused_before_any_allocation(argv, says, tmp_path, capsys):
    refused(capsys, tmp_path, *argv, says=says)


def test_a_refractory_period_beyond_int32_steps_is_refused_not_wrapped():
    with pytest.raises(lifsim.ParameterError, match="tau_rest must be at most 2147483646 steps"):
        lifsim.simulate(model=lifsim.LIFParams(tau_rest=3e9), engine="numpy")
    with pytest.raises(lifsim.ParameterError, match="tau_rest"):
        lifsim.refractory_steps(2.0**31, 1.0)


@pytest.mark.parametrize("settings, says", [
    (dict(model=lifsim.LIFParams(R=1e40)), "model.R"),
    (dict(model=lifsim.LIFParams(u_thresh=1e39)), "model.u_thresh"),
    (dict(model=lifsim.LIFParams(tau_syn=1e-300), stimuli=[lifsim.PoissonSynapses()]), "tau_syn"),
    (dict(stimuli=[lifsim.NoiseCurrent(sd=1e39)]), "stimulus[0].sd"),
    (dict(stimuli=[lifsim.PoissonSynapses(q=1e308)]), "stimulus[0].q"),
    (dict(stimuli=[lifsim.ConstantCurrent(1e308), lifsim.ConstantCurrent(1e308)], precision="float64"),
     "currents add up"),
])
def test_values_the_precision_cannot_hold_are_refused_with_the_reason(settings, says):
    with pytest.raises(lifsim.ParameterError, match=None) as error:
        lifsim.simulate(engine="numpy", **settings)
    assert says in str(error.value)


def test_the_exact_method_keeps_finite_propagators_for_tiny_time_constants():
    result = lifsim.simulate(model=lifsim.LIFParams(tau_m=0.001), method="exact", engine="numpy",
                             stimuli=[lifsim.PoissonSynapses()], duration_ms=50)
    assert np.all(np.isfinite(result.traces["u"])) and np.all(np.isfinite(result.traces["i_in"]))


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_state_turning_non_finite_stops_the_run_naming_neuron_step_and_variable(engine):
    # R·I = 1e40 mV overflows float32 in the first step, though R and I each fit
    with pytest.raises(NonFiniteError, match=r"u of neuron 2 is inf at step 0 \(t = 0 ms\)"):
        lifsim.simulate(model=lifsim.LIFParams(R=1e30), stimuli=[lifsim.ConstantCurrent([0.0, 0.0, 1e10])],
                        engine=engine)


@pytest.mark.parametrize("text, says", [
    (b"\xff\xfename = 'x'\n", "must be UTF-8"),
    (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nest too deeply"),
    (b"record = 5\n", "record"),
    (b"plot = []\n", "plot must be a table"),
    (b"[plot]\npanels = []\n", "plot.panels must name at least one panel"),
    (b"[record]\nvariables = ['u']\n[plot]\npanels = ['i_syn']\n", "'i_syn' needs i_syn recorded"),
    (b"[plot]\npanels = ['fi']\n", "'fi' needs a constant current"),
    (b"[model]\ntau_m = []\n", "tau_m"),
    (b"[model]\ntau_m = {start = 1, stop = 1e12, step = 1e-3}\n", "at most 100000000 values"),
])
def test_bad_experiment_files_are_refused_naming_the_key(text, says, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_bytes(text)
    refused(capsys, tmp_path, "run", str(path), says=says)
    assert cli.main(["show", str(path)]) == cli.EXIT_BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", ".", "..", "../escape", "/tmp/abs", "a/b", "a\\b", "nul\0byte", "x" * 101])
def test_a_run_name_that_is_not_a_plain_file_name_is_refused(name, tmp_path, capsys):
    path = tmp_path / "named.toml"
    path.write_text(f"name = {name!r}\n".replace("'", '"').replace("\\", "\\\\").replace("\0", "\\u0000"))
    refused(capsys, tmp_path, "run", str(path), says="name must be")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named.toml"]  # nothing written beside --out


def test_output_paths_are_checked_before_the_run(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "folder.nix").mkdir()
    refused(capsys, tmp_path, "run", "square", "--save", str(tmp_path / "folder.nix"), says="is a folder")
    refused(capsys, tmp_path, "run", "square", "--save", "/proc/x.nix", says="save")
    assert cli.main(["run", "square", "--out", str(tmp_path / "a-file"), "--quiet"]) == cli.EXIT_BAD_INPUT
    assert "out must be a folder" in capsys.readouterr().err


@pytest.mark.parametrize("make", [
    lambda: lifsim.LIFParams(tau_m="10"),
    lambda: lifsim.LIFParams(tau_m=True),
    lambda: lifsim.LIFParams(R=1 + 2j),
    lambda: lifsim.LIFParams(u_rest=None),
    lambda: lifsim.simulate(dt_ms=[], engine="numpy"),
    lambda: lifsim.simulate(duration_ms="5", engine="numpy"),
    lambda: lifsim.simulate(stimuli=3),
    lambda: lifsim.simulate(model=3),
    lambda: lifsim.simulate(record=3),
    lambda: lifsim.simulate(initial_state=3, engine="numpy"),
    lambda: lifsim.simulate(engine=np.array(["numpy", "numba"])),
    lambda: lifsim.simulate(n_neurons=2**70),
    lambda: lifsim.simulate(memory_limit="1", engine="numpy"),
    lambda: lifsim.simulate(progress=np.array([1, 2]), engine="numpy"),
    lambda: lifsim.simulate(stimuli=[lifsim.SquarePulses(5)]),
    lambda: lifsim.simulate(stimuli=[lifsim.SquarePulses(((None, 5.0, 1.0),))], engine="numpy"),
    lambda: lifsim.simulate(stimuli=[lifsim.NoiseCurrent(mean=[[1.0]])], engine="numpy"),
    lambda: lifsim.simulate(stimuli=[lifsim.PoissonSynapses(rate_hz=[])], engine="numpy"),
    lambda: lifsim.simulate(stimuli=[lifsim.PoissonSynapses(rate_hz=1e-320)], engine="numpy"),
    lambda: lifsim.simulate(stimuli=[lifsim.SpikeTimes(times_ms="1")], engine="numpy"),
    lambda: lifsim.Record(variables=5),
    lambda: lifsim.Record(input_spikes="yes"),
    lambda: lifsim.Population("p", 10, u_init=1j),
    lambda: lifsim.Receptor("r", tau_ms=[]),
    lambda: lifsim.coefficients(lifsim.LIFParams(), -1.0, "exact"),
])
def test_api_values_of_the_wrong_type_raise_parameter_error(make):
    with pytest.raises(lifsim.ParameterError):
        make()


def test_an_explicit_projection_with_no_synapses_runs():
    # found by the property tests: no synapses and per-synapse delays (an empty list)
    populations = (lifsim.Population("P", 3),)
    nothing = lifsim.Projection("P", "P", "explicit", pre=[], post=[], weight=[], delay_ms=[])
    result = lifsim.simulate(populations=populations, projections=(nothing,), engine="numpy", duration_ms=5)
    assert result.synapses == 0 and result.spike_times_ms.size == 0
