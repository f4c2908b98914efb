"""The benchmark scripts still run on tiny sizes; the documentation builds without warnings."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lifsim

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_peer_script_runs_lifsim_rows_without_peers():
    out = run("benchmarks/peers.py", "--peers", "", "--cases", "A,B", "--neurons-a", "300", "--neurons-b", "100",
              "--duration", "20", "--repeats", "1", "--cores", "0", "--cores-2", "0,1")
    assert out.count("| lifsim numba, 1 thread |") == 2 and "Case B: 100 neurons × 200 steps" in out


def test_core_script_measures_both_loops(tmp_path):
    out = run("benchmarks/cores.py", "--scale", "0.001", "--json", str(tmp_path / "cores.json"))
    rows = re.findall(r"^\| (vector arithmetic|dependent scalar chain) \| [0-9.]+ \| [0-9.]+ \| ([0-9.]+)× \|$", out,
                      flags=re.MULTILINE)
    assert [name for name, _ in rows] == ["vector arithmetic", "dependent scalar chain"]
    saved = json.loads((tmp_path / "cores.json").read_text())["rows"]
    assert [round(r["speed_up"], 2) for r in saved] == [float(ratio) for _, ratio in rows]


def test_engine_script_runs():
    out = run("benchmarks/engines.py", "--engines", "numpy,numba", "--neurons", "200", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith("| A |")]
    assert len(rows) == 2 and "| numba |" in rows[1]


def test_network_script_runs_lifsim_rows_without_peers():
    # Brunel only: CUBA goes through the same code, and the validation test below runs it
    out = run("benchmarks/networks.py", "--peers", "", "--networks", "brunel", "--brunel-order", "20",
              "--duration", "50", "--repeats", "1", "--cores", "0", "--cores-2", "0,1")
    assert out.count("| lifsim numba, 2 threads |") == 1 and "brunel: loop and whole process" in out


def test_network_validation_runs_over_seeds():
    out = run("benchmarks/networks.py", "--peers", "", "--networks", "cuba", "--cuba-neurons", "200",
              "--duration", "50", "--validate", "2", "--cores", "0")
    rows = re.findall(r"^\| lifsim \| (E|I) \| [0-9.]+ ± [0-9.]+ \|", out, flags=re.MULTILINE)
    assert rows == ["E", "I"] and "cuba: mean over 2 seeds" in out


def test_delay_script_runs():
    out = run("benchmarks/delays.py", "--order", "20", "--duration", "50", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith("| uniform [0.5, 2.5] ms |")]
    assert len(rows) == 2 and "| 1000 |" in rows[0]  # 100 neurons × 10 synapses each


def test_kill_resume_script_runs():
    out = run("benchmarks/kill_resume.py", "--trials", "1", "--order", "50", "--duration", "200")
    assert "1 of 1 resumed runs byte-identical" in out


def test_sweep_script_runs():
    pytest.importorskip("distributed")
    out = run("benchmarks/sweeps.py", "--points", "20", "--noise-points", "10", "--trials", "2", "--duration", "20",
              "--repeats", "1")
    assert "constant: 20 points × 2 trials (40 neurons)" in out and "noise: 10 points × 2 trials" in out
    assert out.count("sweep, dask 2 workers") == 2 and "a task's round trip" in out


def test_fitting_script_runs_lifsim_alone(tmp_path):
    pytest.importorskip("scipy")  # the fit's differential evolution
    pytest.importorskip("tensorflow")  # its refinement
    figures = tmp_path / "fitting.json"
    out = run("benchmarks/fitting.py", "--quick", "--lifsim-only", "--cores", "0", "--json", str(figures))
    rows = [line for line in out.splitlines() if line.startswith("| lifsim DE 40, 1 restart(s) | 1 |")]
    assert len(rows) == 1 and "3000 steps (0.3 s" in out
    row = json.loads(figures.read_text())["rows"][0]
    assert row["evaluations"] > 0 and row["gradient_steps"] == 2 and 0 < row["fit_s"] <= row["process_s"]
    assert set(row["parameters"]) == {"tau_m", "R", "u_thresh"} and row["test_mse"] >= 0 and row["train_mse"] >= 0


def test_engine_script_runs_a_network():
    out = run("benchmarks/engines.py", "--case", "cuba", "--engines", "numpy,numba", "--neurons", "200",
              "--duration", "50", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith("| cuba |")]
    assert len(rows) == 2 and "| numba |" in rows[1]


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in lifsim.__all__:
        assert name in api, name


def test_readme_test_command_is_what_ci_runs():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not re.match(r"\s*(#|set |cd )", line)]
    readme = (ROOT / "README.md").read_text()
    assert ci[-1] in readme
