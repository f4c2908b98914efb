"""Streamed runs: committed segments survive kill -9, and a resumed run is the run never
interrupted, spike for spike and value for value, on every engine."""

import dataclasses
import filecmp
import json
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import lifsim
from lifsim import cli
from lifsim.io import experiment_file
from lifsim.io.neo_io import load_nix
from lifsim.neuron.rule import METHOD_TABLE
from lifsim.io.stream import MANIFEST, StreamError, read


def assert_same_run(a, b):
    assert np.array_equal(a.spike_times_ms, b.spike_times_ms)
    assert np.array_equal(a.spike_neurons, b.spike_neurons)
    assert a.traces.keys() == b.traces.keys()
    for name in a.traces:
        assert np.array_equal(a.traces[name], b.traces[name]), name
    assert (a.input_spikes is None) == (b.input_spikes is None)
    for name in a.input_spikes or {}:
        assert np.array_equal(a.input_spikes[name], b.input_spikes[name]), name
    for name in ("u", "ref", "i_syn", "pending"):
        assert np.array_equal(getattr(a.final_state, name), getattr(b.final_state, name)), name
    assert [w.tolist() for w in a.weights] == [w.tolist() for w in b.weights]


def keep_segments(folder, count):
    """The stream as a process killed just after committing its first ``count`` segments leaves it."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest.update(segments=manifest["segments"][:count], complete=False)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def event_poisson(config):
    stimuli = tuple(dataclasses.replace(s, generation="event") if s.kind == "poisson" else s
                    for s in config.stimuli)
    return config.replace(stimuli=stimuli, record=lifsim.Record(input_spikes=True, neurons=(0, 7)))


RUNS = {
    # Poisson synapses drawn per step and as events (geometric gaps drawn ahead), input spikes recorded
    "synaptic": lambda engine: experiment_file.load("synaptic", engine=engine, neurons=300, duration_ms=1200).config,
    "synaptic-events": lambda engine: event_poisson(
        experiment_file.load("synaptic", engine=engine, neurons=5000, duration_ms=3000).config),
    "noise": lambda engine: experiment_file.load("noise", engine=engine, neurons=3000, duration_ms=3000).config,
    # Poisson input beside noise: the noise is drawn ahead on a thread of its own, and the
    # Poisson input with it (not by the engine), so that each checkpoint holds both as they were
    "noise-poisson-input": lambda engine: experiment_file.load("noise", engine=engine, neurons=3000,
                                                               duration_ms=3000).config.replace(
        stimuli=(lifsim.NoiseCurrent(1.0, 0.5), lifsim.PoissonInput(2000.0, 0.01)), threads=2),
    # a network: delayed spikes pending across segments, PoissonInput drawn on several streams
    "brunel": lambda engine: experiment_file.load("brunel", engine=engine, order=1000, duration_ms=200).config,
}


def check_resume(config, folder, points=None):
    """The run streamed, then resumed from ``points`` (numbers of committed segments;
    default: none, the first checkpoint and the last), equals the run not streamed."""
    reference = lifsim.simulate(config)
    streamed = lifsim.simulate(config, stream=folder, segment_s=0)
    assert_same_run(reference, streamed)
    segments = len(json.loads((folder / MANIFEST).read_text())["segments"])
    assert segments >= 3  # the run is cut into several segments, so resuming has something to prove
    for count in points or sorted({0, 1, segments - 1}):
        keep_segments(folder, count)
        assert_same_run(reference, lifsim.simulate(config, stream=folder, resume=True, segment_s=0))
    assert_same_run(reference, lifsim.simulate(config, stream=folder, resume=True))  # complete: read back


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_resumed_run_is_the_run_never_interrupted(run, engine, tmp_path):
    check_resume(RUNS[run](engine), tmp_path / "stream")


def test_a_resumed_run_on_tensorflow_is_the_run_never_interrupted(tmp_path):
    pytest.importorskip("tensorflow")
    config = experiment_file.load("brunel", engine="tensorflow", order=200, duration_ms=1000).config
    check_resume(config, tmp_path / "stream", points=[1])


def test_segments_hold_the_run_in_order_and_the_manifest_lists_them(tmp_path):
    config = RUNS["synaptic"]("numpy")
    result = lifsim.simulate(config, stream=tmp_path, segment_s=0)
    committed = read(tmp_path, config)
    manifest = committed.manifest
    assert manifest["complete"] and manifest["steps"] == config.steps
    bounds = [(s["k0"], s["k1"]) for s in manifest["segments"]]
    assert bounds[0][0] == 0 and bounds[-1][1] == config.steps
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    offset = METHOD_TABLE[config.method].spike_offset_steps
    assert np.array_equal((committed.spike_step + offset) * config.dt_ms, result.spike_times_ms)
    assert np.array_equal(committed.traces["u"], result.traces["u"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["experiment.toml", MANIFEST] + [s["file"] for s in manifest["segments"]])


def test_a_stream_is_resumed_only_by_the_run_that_wrote_it(tmp_path):
    config = RUNS["synaptic"]("numpy")
    lifsim.simulate(config, stream=tmp_path, segment_s=0)
    keep_segments(tmp_path, 1)
    for other, named in ((config.replace(seed=7), "another run"), (config.replace(engine="numba"), "engine")):
        with pytest.raises(StreamError, match=named):
            lifsim.simulate(other, stream=tmp_path, resume=True)
    with pytest.raises(StreamError, match="already holds a run"):
        lifsim.simulate(config, stream=tmp_path)
    state = lifsim.LIFState.resting(config.n_neurons, -60.0, np.float32)
    with pytest.raises(StreamError, match="initial_state"):
        lifsim.simulate(config, stream=tmp_path, resume=True, initial_state=state)


def test_a_damaged_segment_is_refused_by_name(tmp_path):
    config = RUNS["synaptic"]("numpy")
    lifsim.simulate(config, stream=tmp_path, segment_s=0)
    damaged = tmp_path / "segment-000002.npz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(StreamError, match="segment-000002.npz does not match"):
        read(tmp_path)


def test_stream_options_refused_on_the_command_line_before_any_run(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    out = tmp_path / "out"
    cases = [(["--resume"], "--resume needs --stream"), (["--segment-s", "1"], "--segment-s needs --stream"),
             (["--stream", str(tmp_path / "file" / "x")], "stream must be a folder"),
             (["--stream", str(tmp_path), "--segment-s", "-1"], "--segment-s must be"),
             (["--stream", str(tmp_path / "full"), "--resume"], None)]
    for extra, message in cases[:4]:
        assert cli.main(["run", "square", "--out", str(out), *extra]) == cli.EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
    shutil.move(tmp_path / "full", tmp_path / "square")  # the run's folder holds someone's file
    assert cli.main(["run", "square", "--out", str(out), "--stream", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "holds other files" in capsys.readouterr().err and not out.exists()


def test_export_writes_what_run_writes(tmp_path, capsys):
    run = ["run", "synaptic", "--neurons", "20", "--quiet"]
    assert cli.main([*run, "--out", str(tmp_path / "plain")]) == 0
    assert cli.main([*run, "--out", str(tmp_path / "streamed"), "--stream", str(tmp_path / "s")]) == 0
    assert cli.main(["export", str(tmp_path / "s" / "synaptic"), "--out", str(tmp_path / "exported"),
                     "--save", str(tmp_path / "run.nix"), "--quiet"]) == 0
    for name in ("synaptic.npz", "synaptic.json"):
        for folder in ("streamed", "exported"):
            assert filecmp.cmp(tmp_path / "plain" / name, tmp_path / folder / name, shallow=False), (folder, name)
    blocks = load_nix(tmp_path / "run.nix")
    assert sum(len(st) for st in blocks[0].segments[0].spiketrains) == len(
        json.loads((tmp_path / "plain" / "synaptic.json").read_text())["spikes"]["neuron"])
    keep_segments(tmp_path / "s" / "synaptic", 1)
    assert cli.main(["export", str(tmp_path / "s" / "synaptic"), "--out", str(tmp_path / "x")]) == 2
    assert "is not finished" in capsys.readouterr().err and not (tmp_path / "x").exists()


KILLED_RUN = ["run", "brunel", "--order", "400", "--duration", "1000", "--quiet"]


def lifsim_process(*args):
    return subprocess.Popen([sys.executable, "-m", "lifsim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def committed_segments(folder) -> int:
    try:
        return len(json.loads((folder / MANIFEST).read_text())["segments"])
    except (FileNotFoundError, json.JSONDecodeError):  # not begun yet (the manifest is replaced whole)
        return 0


def test_kill_9_at_random_moments_keeps_every_committed_segment_and_resume_is_exact(tmp_path):
    reference = tmp_path / "reference"
    assert lifsim_process(*KILLED_RUN, "--out", str(reference)).wait() == 0
    rng = random.Random(9)
    # kill once before anything is committed, then after a random number of commits plus a
    # random delay (so that kills fall anywhere: between commits, and within a commit)
    plans = [(0, 0.3)] + [(rng.randint(1, 8), rng.uniform(0.0, 0.05)) for _ in range(4)]
    committed = []
    for trial, (segments, delay) in enumerate(plans):
        stream, out = tmp_path / f"s{trial}", tmp_path / f"o{trial}"
        process = lifsim_process(*KILLED_RUN, "--out", str(out), "--stream", str(stream), "--segment-s", "0")
        while committed_segments(stream / "brunel") < segments and process.poll() is None:
            time.sleep(0.002)
        time.sleep(delay)
        process.kill()  # SIGKILL: no handler runs, nothing is flushed
        process.wait()
        if (stream / "brunel" / MANIFEST).exists():
            committed.append(len(read(stream / "brunel").manifest["segments"]))  # readable, checksums hold
        resumed = lifsim_process(*KILLED_RUN, "--out", str(out), "--stream", str(stream), "--resume")
        assert resumed.wait() == 0, resumed.stderr.read()
        for name in ("brunel.npz", "brunel.json"):
            assert filecmp.cmp(reference / name, out / name, shallow=False), (segments, delay, name)
    assert any(0 < c < 10 for c in committed), committed  # kills fell in the middle of the run


def test_ctrl_c_during_a_stream_says_how_far_it_got(tmp_path, monkeypatch, capsys):
    from lifsim.simulation import simulate as simulate_module

    real = simulate_module.simulate

    def interrupted_after_the_stream_began(config, **options):
        real(config, **{**options, "segment_s": 0})
        keep_segments(options["stream"], 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate_module, "simulate", interrupted_after_the_stream_began)
    stream = tmp_path / "s"
    code = cli.main(["run", "synaptic", "--neurons", "300", "--duration", "2000", "--out", str(tmp_path / "o"),
                     "--stream", str(stream), "--quiet"])
    assert code == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err.strip().splitlines()
    reached = read(stream / "synaptic").step  # 2 segments of whole chunks
    assert 0 < reached < 2000
    assert err == [f"lifsim: interrupted; nothing was saved; {stream / 'synaptic'} holds {reached:g} of 2000 ms: "
                   "continue with --resume"]
