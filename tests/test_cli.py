"""The command line: outputs, help, and refused input (exit 2, one line, no traceback)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lifsim import cli, engines
from lifsim.errors import ParameterError


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lifsim", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def all_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    done = run_cli("run", "all", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, done


def test_run_all_writes_figures_arrays_and_json(all_outputs):
    out, done = all_outputs
    for name in ("square", "noise", "synaptic"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        data = json.loads((out / f"{name}.json").read_text())
        for key in ("experiment", "engine", "method", "dt_ms", "duration_ms", "seed", "model", "spikes"):
            assert key in data
        assert data["experiment"] == name and data["dt_ms"] == 1.0 and data["duration_ms"] == 200.0
        assert data["model"]["tau_m"] == 10.0 and data["model"]["tau_rest"] == 4.0
        spikes = data["spikes"]
        assert len(spikes["times_ms"]) == len(spikes["neuron"]) > 0
        arrays = np.load(out / f"{name}.npz")
        assert arrays["t_ms"].shape == (200,) and arrays["u"].shape == (200, 1)
        np.testing.assert_allclose(arrays["spike_times_ms"], spikes["times_ms"])
    synaptic = json.loads((out / "synaptic.json").read_text())
    assert len(synaptic["input_spikes"]["times_ms"]) == len(synaptic["input_spikes"]["synapse"]) > 0
    assert np.shape(synaptic["weights"]) == (1, 25)
    assert "square: " in done.stdout and "spikes" in done.stdout and "wrote" in done.stdout


def test_two_runs_without_seed_write_the_same_bytes(all_outputs, tmp_path):
    out, _ = all_outputs
    assert run_cli("run", "synaptic", "--out", str(tmp_path)).returncode == 0
    for name in ("synaptic.json", "synaptic.npz"):
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name
    first = json.loads((out / "synaptic.json").read_text())
    assert first["spikes"]["times_ms"] and "timings_s" not in first
    timings = json.loads((tmp_path / "synaptic.timings.json").read_text())
    assert set(timings) == {"article"} and timings["article"]["wall_s"] > 0


def test_seed_option_changes_the_draws(tmp_path):
    assert cli.main(["run", "noise", "--out", str(tmp_path), "--seed", "5", "--quiet"]) == 0
    data = json.loads((tmp_path / "noise.json").read_text())
    assert data["seed"] == 5


def test_help_documents_every_option_with_unit_and_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, words in {"--out": ["lifsim-out"], "--seed": ["2018"], "--engine": ["numpy"],
                          "--dt": ["ms", "1 ms"], "--duration": ["ms", "200 ms"], "--method": ["article"],
                          "--precision": ["float32"], "--neurons": ["1"], "--quiet": []}.items():
        assert option in text
        for word in words:
            assert word in text


def test_console_help_and_module_entry_point():
    done = run_cli("--help")
    assert done.returncode == 0 and "run" in done.stdout and "ms" in done.stdout


def test_dt_and_duration_options(tmp_path):
    assert cli.main(["run", "square", "--out", str(tmp_path), "--dt", "0.5", "--duration", "100", "--quiet"]) == 0
    data = json.loads((tmp_path / "square.json").read_text())
    assert data["dt_ms"] == 0.5 and data["steps"] == 200


REFUSED = [
    (["--dt", "0"], "dt"),
    (["--dt", "-1"], "dt"),
    (["--dt", "11"], "dt"),  # > tau_m with forward Euler
    (["--dt", "nan"], "dt"),
    (["--duration", "inf"], "duration"),
    (["--duration", "0.5"], "duration"),  # < dt
    (["--seed", "-3"], "seed"),
    (["--engine", "nonesuch"], "engine"),
    (["--neurons", "0"], "neurons"),
]


@pytest.mark.parametrize("args, name", REFUSED)
def test_refused_options(args, name, tmp_path, capsys):
    assert cli.main(["run", "square", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and name in err and "must" in err
    assert not (tmp_path / "o").exists()  # refused before any work


def test_refused_experiment_file_values(tmp_path, capsys):
    cases = {
        "rate": ("rate_hz = 1000.0", "rate·dt·1e-3 must be < 1"),
        "negative m": ("synapses = -1", "synapses"),
        "nan": ("q = nan", "q"),
    }
    base = (tmp_path / "base.toml")
    for label, (line, expected) in cases.items():
        path = tmp_path / f"{label.replace(' ', '_')}.toml"
        path.write_text(f'dt_ms = 1.0\n[[stimulus]]\nkind = "poisson"\n{line}\n')
        assert cli.main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and expected in err and str(path) in err
    assert not base.exists() and not (tmp_path / "o").exists()


def test_large_rate_dt_warns(tmp_path, capsys):
    path = tmp_path / "fast.toml"
    path.write_text('duration_ms = 20.0\n[[stimulus]]\nkind = "poisson"\nrate_hz = 200.0\n')
    assert cli.main(["run", str(path), "--out", str(tmp_path), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "no longer approximates a Poisson process" in err


def test_usage_errors_are_one_line_without_traceback():
    for args in (["run", "square", "--dt", "abc"], ["run"], ["frobnicate"], ["run", "nothing-here"]):
        done = run_cli(*args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr


def _installed(name):
    try:
        engines.load_engine(name)
        return True
    except ParameterError:
        return False


@pytest.mark.parametrize("case", ["A", "B"])
@pytest.mark.parametrize("engine", [e for e in engines.engine_names() if _installed(e)])
def test_bench_runs_on_tiny_sizes(case, engine, capsys):
    assert cli.main(["bench", case, "--neurons", "50", "--duration", "100", "--engine", engine,
                     "--threads", "1", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    for key in ("case", "engine", "threads", "neurons", "steps", "wall_s", "total_s", "neuron_steps_per_s", "spikes"):
        assert key in row
    assert (row["case"], row["engine"], row["neurons"], row["steps"]) == (case, engine, 50, 1000)
    assert row["total_s"] >= row["wall_s"] > 0 and row["neuron_steps_per_s"] > 0
    assert row["spikes"] > 0


def test_bench_human_line(capsys):
    assert cli.main(["bench", "A", "--neurons", "20", "--duration", "5"]) == 0
    assert "neuron-steps/s" in capsys.readouterr().out


def test_info_lists_engines(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "numba" in out and "cpu" in out


def test_threads_option_is_checked(tmp_path, capsys):
    assert cli.main(["run", "square", "--out", str(tmp_path), "--threads", "999"]) == 2
    assert "threads must be a whole number in [1," in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "lifsim"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("lifsim ")


def test_figures_never_touch_pyplot(tmp_path):
    code = ("import sys\nfrom lifsim.cli import main\n"
            f"assert main(['run', 'all', '--out', {str(tmp_path)!r}, '--quiet']) == 0\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # no pyplot: no GUI backend, no window, no global figures


def test_unusable_output_places_are_refused_before_running(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cli.main(["run", "square", "--out", str(blocker)]) == 2
    assert "out must be a folder" in capsys.readouterr().err
    assert cli.main(["run", "square", "--out", str(tmp_path / "o"), "--save", str(tmp_path / "no" / "x.nix")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_more_threads_than_numba_allows_is_one_line():
    import os

    done = subprocess.run([sys.executable, "-m", "lifsim", "bench", "A", "--neurons", "10", "--duration", "5",
                           "--threads", "2"], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "threads must be in [1, 1] for the numba engine" in done.stderr


def test_bench_refuses_bad_sizes(capsys):
    assert cli.main(["bench", "A", "--neurons", "0"]) == 2
    assert "neurons must be a whole number in [1, " in capsys.readouterr().err
    assert cli.main(["bench", "B", "--dt", "0"]) == 2
    assert "dt must be > 0" in capsys.readouterr().err



def test_ctrl_c_stops_with_one_line_status_130_and_says_what_was_saved(tmp_path, monkeypatch, capsys):
    from lifsim.simulation import simulate as simulate_module

    real, calls = simulate_module.simulate, []

    def interrupted_on_the_second_experiment(config, **options):
        calls.append(config.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, **options)

    monkeypatch.setattr(simulate_module, "simulate", interrupted_on_the_second_experiment)
    assert cli.main(["run", "all", "--out", str(tmp_path), "--quiet"]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines() == [f"lifsim: interrupted; saved square in {tmp_path}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["square.json", "square.npz", "square.png",
                                                          "square.timings.json"]


def test_a_missing_tensorflow_is_refused_before_any_folder_is_made(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow fails, as where it is not installed
    monkeypatch.delitem(sys.modules, "lifsim.engines.tensorflow_engine", raising=False)
    out = tmp_path / "new" / "out"
    assert cli.main(["run", "square", "--engine", "tensorflow", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["lifsim: error: engine 'tensorflow' needs tensorflow, which is not installed; "
                                "install it with: pip install 'lifsim[tensorflow]'"]
    assert not (tmp_path / "new").exists()


def test_bench_help_and_docs_name_no_file_outside_the_package(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "docs/" not in text and ".md" not in text and "--quiet" in text
