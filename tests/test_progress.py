"""Progress: the bar moves from inside long chunks, without changing any result, and shows on
a real pseudo-terminal; nothing but the summary reaches a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import lifsim
from lifsim import engines
from lifsim.simulation import simulate as simulate_module
from lifsim.simulation.plan import chunk_steps

from helpers import assert_same



class _Terminal:
    """A stream tqdm takes for a terminal; what it is sent is dropped."""

    def isatty(self):
        return True

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _runs_with_reports(monkeypatch, config):
    """The run without a bar, and with one on a terminal whose engine reports after every
    part it can cut a chunk into (interval 0); the steps reported within each chunk."""
    plain = lifsim.simulate(config)
    reported = []

    class Spy(simulate_module._ChunkProgress):
        def __call__(self, done):
            reported.append(done)
            super().__call__(done)

    monkeypatch.setattr(engines, "PROGRESS_INTERVAL_S", 0.0)
    if config.engine == "numba":
        from lifsim.engines import numba_engine

        monkeypatch.setattr(numba_engine._Parts, "FIRST", 1)  # the first part as short as the others
    monkeypatch.setattr(simulate_module, "_ChunkProgress", Spy)
    monkeypatch.setattr(simulate_module, "_progress_bar",
                        lambda total, enabled, stream=None, initial=0: _tqdm(total, initial))
    return plain, lifsim.simulate(config, progress=True), reported


def _tqdm(total, initial):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, file=_Terminal(), delay=0, disable=False)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_network_reports_within_its_chunks_at_slice_ends_with_the_same_results(monkeypatch, engine):
    exp = lifsim.load_experiment("cuba", neurons=300, duration_ms=30.0, engine=engine)
    config = exp.config.replace(record=lifsim.Record(("u", "i_syn"), neurons="sample"),
                                projections=tuple(replace(p, delay_ms=0.3) for p in exp.config.projections))
    plain, reported_run, reported = _runs_with_reports(monkeypatch, config)
    assert_same(plain, reported_run, exact=True)
    inside = [done for done in reported if 0 < done < config.steps]
    assert inside, "no report from inside the chunk"
    if engine == "numba":  # parts end on slice boundaries: a delay of 3 steps
        assert inside == list(range(3, config.steps, 3))
    else:  # the reference engine: after every step
        assert inside == list(range(1, config.steps))


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_population_reports_within_its_chunks_with_the_same_results(monkeypatch, engine):
    config = lifsim.RunConfig(stimuli=[lifsim.NoiseCurrent(mean=1.5, sd=1.0, start_ms=5.0)], n_neurons=50,
                              duration_ms=40.0, dt_ms=0.1, method="exact", engine=engine, seed=4,
                              record=lifsim.Record(("u", "i_in"), neurons=[0, 7, 49], every=3))
    plain, reported_run, reported = _runs_with_reports(monkeypatch, config)
    assert_same(plain, reported_run, exact=True)
    assert chunk_steps(config) >= config.steps  # one chunk: every report is from inside it
    assert [done for done in reported if done < config.steps] == list(range(1, config.steps))


def _pty_run(args, cwd, limit_s=240):
    """Run lifsim in a pseudo-terminal of 120 × 30 characters until its bar has shown
    two different step counts, then stop it with Ctrl-C; returns what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(Path(lifsim.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "lifsim", *args], stdin=slave, stdout=slave, stderr=slave,
                               cwd=cwd, env=env, close_fds=True,
                               # a shell's background job ignores SIGINT, and its children inherit that
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    seen, counts = b"", []
    deadline = time.monotonic() + limit_s  # a guard against a hang, not a measure
    try:
        while time.monotonic() < deadline and len(set(counts)) < 2:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                counts = [_steps(n) for n in re.findall(rb"\| *([0-9.]+[kM]?)/[0-9.]+[kM]? \[", seen)]
            elif process.poll() is not None:
                break
    finally:
        process.send_signal(signal.SIGINT)
        status = process.wait(60)
        os.close(master)
    return seen.decode(errors="replace"), counts, status


def _steps(text: bytes) -> float:
    scale = {b"k": 1e3, b"M": 1e6}.get(text[-1:], 1.0)
    return float(text.rstrip(b"kM")) * scale


# runs of seconds on any machine, stopped once the bar has moved: CUBA on the reference engine is
# one chunk of 50,000 steps, so its bar moves only if the engine reports from inside the chunk;
# the benchmark, a million steps on numba
@pytest.mark.parametrize("command", [["run", "cuba", "--engine", "numpy", "--duration", "5000", "--out", "out"],
                                     ["bench", "cuba", "--dt", "0.01", "--duration", "10000"]])
def test_a_long_run_shows_a_moving_bar_in_a_pseudo_terminal(tmp_path, command):
    drawn, counts, status = _pty_run(command, tmp_path)
    assert len(set(counts)) >= 2, drawn[-2000:]  # the bar moved
    assert re.search(r"\d+%\|", drawn) and "step/s" in drawn and "<" in drawn, drawn[-2000:]  # rate, time left
    assert status == 130 and "Traceback" not in drawn


def test_nothing_but_the_summary_reaches_a_pipe(tmp_path):
    """A run long enough to show its bar on a terminal (seconds) prints only its summary to pipes."""
    done = subprocess.run([sys.executable, "-m", "lifsim", "run", "cuba", "--dt", "0.01", "--duration", "2000",
                           "--out", "o"],
                          capture_output=True, text=True, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(Path(lifsim.__file__).resolve().parents[1])))
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("cuba: ") and done.stdout.rstrip().endswith("cuba.timings.json")


def test_the_engines_report_less_often_than_the_interval(monkeypatch):
    """With the interval long, a chunk is run in one part: no report from inside it."""
    monkeypatch.setattr(engines, "PROGRESS_INTERVAL_S", 1e9)
    config = lifsim.RunConfig(stimuli=[lifsim.ConstantCurrent(1.5)], n_neurons=3, duration_ms=50.0, engine="numpy")
    reported = []
    monkeypatch.setattr(simulate_module, "_progress_bar",
                        lambda total, enabled, stream=None, initial=0: _tqdm(total, initial))
    monkeypatch.setattr(simulate_module._ChunkProgress, "__call__",
                        lambda self, done: reported.append(done) or None)
    lifsim.simulate(config, progress=True)
    assert all(done == config.steps for done in reported) and np.size(reported) == 1
