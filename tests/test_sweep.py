"""Parameter sweeps: the grid, batches equal to solo runs, the same table everywhere, faults."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
pq = pytest.importorskip("pyarrow.parquet")
xr = pytest.importorskip("xarray")

import lifsim  # noqa: E402
from lifsim.io.experiment_file import read_data  # noqa: E402
from lifsim.sweep import load_sweep, sweep  # noqa: E402
from lifsim.sweep.batch import FastPoints, SweepSpec, stack  # noqa: E402
from lifsim.sweep.grid import make_grid, parse_option, parse_values, run_seed  # noqa: E402


def same_column(a, b, name) -> None:
    x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
    assert len(x) == len(y), name
    for u, v in zip(x, y):
        assert u == v or (isinstance(u, float) and isinstance(v, float) and np.isnan(u) and np.isnan(v)), name


def same_table(a, b) -> None:
    assert a.column_names == b.column_names
    for name in a.column_names:
        same_column(a, b, name)


def lifsim_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "lifsim", *map(str, args)], capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- the grid


def test_axis_values_lists_ranges_and_words():
    assert parse_values("k", "5,10,20") == (5, 10, 20)
    assert parse_values("k", "0:1:0.25") == (0.0, 0.25, 0.5, 0.75)  # stop excluded, as {start, stop, step}
    assert parse_values("k", "exact,article") == ("exact", "article")
    axis = parse_option("model.tau_m=5,10")
    assert axis.name == "model.tau_m" and axis.keys == (("model.tau_m", 1),)


@pytest.mark.parametrize("option, message", [
    ("model.tau_m", "KEY=VALUES"), ("model.tau_m=", "no values"), ("model.tau_m=1,,2", "empty value"),
    ("model.tau_m=0:1", "start:stop:step"), ("model.tau_m=1:0:0.1", "no values"),
    ("model.tau_m=0:1:-1", "step > 0"), ("model.tau_m=0:1:nan", "finite"), ("model..x=1", "dotted path"),
    ("model.tau_m=1,inf", "finite"), ("model.tau_m=0:1e300:1e-300", "at most"),
])
def test_malformed_axes_are_refused_by_name(option, message):
    with pytest.raises(lifsim.ParameterError, match=message):
        parse_option(option)


def test_seeds_depend_on_the_sweep_seed_and_the_indices_only():
    seeds = {run_seed(7, p, t) for p in range(50) for t in range(4)}
    assert len(seeds) == 200
    assert run_seed(7, 3, 1) == run_seed(7, 3, 1) != run_seed(8, 3, 1)


def test_a_grid_too_large_for_a_table_is_refused_before_any_work(tmp_path, monkeypatch):
    with pytest.raises(lifsim.ParameterError, match="rows"):
        sweep("fi-grid", ["model.tau_m=1:100000:1", "model.tau_rest=1:100000:1"], out=tmp_path / "s")
    from lifsim.sweep import runner

    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: shutil_usage(free=10_000))
    with pytest.raises(lifsim.ParameterError, match="on disk; 9.31e-06 GiB is free under"):
        sweep("fi-grid", ["stimulus.0.amplitude=0:4:0.01"], out=tmp_path / "s")
    monkeypatch.setattr("lifsim.simulation.plan.available_memory", lambda: 10_000)
    with pytest.raises(lifsim.ParameterError, match="of memory to combine"):
        sweep("fi-grid", ["stimulus.0.amplitude=0:4:0.01"], out=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def shutil_usage(free):
    import collections

    return collections.namedtuple("usage", "total used free")(free, 0, free)


# ---------------------------------------------------------------- batches are solo runs side by side


def spec_for(experiment, axes, trials=2, **overrides):
    source, text = load_sweep(experiment)
    grid = make_grid([parse_option(a) for a in axes], trials, 11)
    return SweepSpec(text, source, grid, tuple(sorted(overrides.items())))


@pytest.mark.parametrize("experiment, axes", [
    ("noise", ["stimulus.0.sd=0.5,1.5", "model.tau_m=8,12"]),
    ("synaptic", ["stimulus.0.rate_hz=10,30", "stimulus.0.q=1,2"]),
    ("square", ["model.tau_rest=1,4"]),
])
def test_each_member_of_a_batch_spikes_exactly_as_it_does_alone(experiment, axes):
    spec = spec_for(experiment, axes, duration_ms=150.0)
    data = spec.data()
    members = [(p, t) for p in range(spec.grid.n_points) for t in range(spec.grid.trials)]
    configs = [spec.config(data, p, t) for p, t in members]
    together = lifsim.simulate(stack(configs))
    lo = 0
    for config in configs:
        alone = lifsim.simulate(config)
        n = config.n_neurons
        mine = (together.spike_neurons >= lo) & (together.spike_neurons < lo + n)
        np.testing.assert_array_equal(together.spike_times_ms[mine], alone.spike_times_ms)
        np.testing.assert_array_equal(together.spike_neurons[mine] - lo, alone.spike_neurons)
        lo += n
    assert together.spike_times_ms.size > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_members_with_poisson_input_drawn_by_the_engine_spike_as_they_do_alone(threads, monkeypatch):
    """Stacked, the members' Poisson inputs (two groups of neurons each, each member's own
    streams) are drawn by the numba engine; alone, on numpy, from the chunks."""
    numba_engine = pytest.importorskip("lifsim.engines.numba_engine")
    monkeypatch.setattr(numba_engine, "MIN_PARALLEL_SLICE", 0)
    configs = [lifsim.RunConfig(stimuli=(lifsim.PoissonInput(rate, 0.02),), n_neurons=1500, duration_ms=60.0,
                                seed=seed, engine="numba", threads=threads, record=lifsim.Record(neurons="none"))
               for rate, seed in ((8000.0, 1), (12000.0, 2), (16000.0, 3))]
    together = lifsim.simulate(stack(configs))
    for m, config in enumerate(configs):
        alone = lifsim.simulate(config.replace(engine="numpy", threads=None))
        mine = (together.spike_neurons >= 1500 * m) & (together.spike_neurons < 1500 * (m + 1))
        np.testing.assert_array_equal(together.spike_times_ms[mine], alone.spike_times_ms)
        np.testing.assert_array_equal(together.spike_neurons[mine] - 1500 * m, alone.spike_neurons)
        assert alone.spike_times_ms.size > 1000


def test_the_table_does_not_depend_on_the_batch_size(tmp_path):
    axes = ["stimulus.0.sd=0.5,1.0,1.5", "stimulus.0.mean=1,1.5"]
    one = sweep("noise", axes, trials=3, out=tmp_path / "one", batch_neurons=1, duration_ms=100.0)
    many = sweep("noise", axes, trials=3, out=tmp_path / "many", batch_neurons=7, duration_ms=100.0)
    same_table(one.table, many.table)
    assert one.timings["batches"] == 18 and many.timings["batches"] == 3
    sweep_seed = read_data("noise")[0].get("seed", 0)
    rows = zip(one.table.column("point").to_pylist(), one.table.column("trial").to_pylist())
    assert one.table.column("seed").to_pylist() == [run_seed(sweep_seed, p, t) for p, t in rows]


@pytest.mark.parametrize("experiment, axes", [
    ("fi-grid", ["stimulus.0.amplitude=1.2,2.0", "model.tau_m=5,10"]),
    ("noise", ["stimulus.0.sd=0.5,1.5", "stimulus.0.mean=1,2", "model.tau_rest=2,4"]),
    ("synaptic", ["stimulus.0.rate_hz=10,40", "stimulus.0.q=1,2.5"]),
])
def test_points_built_as_arrays_equal_points_built_one_by_one(tmp_path, experiment, axes):
    """Points differing in numbers of the model and stimuli are built from one template; an
    axis of words (here one method) makes every point's run be built on its own, then stacked."""
    fast = sweep(experiment, axes, trials=2, out=tmp_path / "fast", duration_ms=300.0, method="exact")
    general = sweep(experiment, [*axes, "method=exact"], trials=2, out=tmp_path / "general", duration_ms=300.0)
    for name in ("seed", "spikes", "rate_hz", "latency_ms", "cv_isi", "predicted_rate_hz"):
        same_column(fast.table, general.table, name)
    assert max(fast.table.column("spikes").to_pylist()) > 0
    spec = spec_for(experiment, axes, method="exact")
    assert FastPoints.make(spec, spec.data()) is not None
    spec = spec_for(experiment, [*axes, "method=exact"])
    assert FastPoints.make(spec, spec.data()) is None


def test_fi_grid_agrees_with_the_closed_form(tmp_path):
    result = sweep("fi-grid", ["stimulus.0.amplitude=1.5,2.5,3.5"], out=tmp_path / "fi")
    rates = np.array(result.table.column("rate_hz").to_pylist())
    closed = np.array(result.table.column("predicted_rate_hz").to_pylist())
    assert rates.size == 18
    # a spike waits for the next step, so a period is at most one step (0.1 ms) longer than the
    # closed form's; in 1 s the count is within one spike of 1 s over the period
    period = 1000 / closed
    assert np.all(rates >= 1000 / (period + 0.1) - 1) and np.all(rates <= 1000 / period + 1)
    mean = result.dataset["rate_hz"]
    assert mean.dims == ("stimulus.0.amplitude", "model.tau_m", "model.tau_rest")


# ---------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as local, Client(local) as client:
        yield local, client


AXES = ["stimulus.0.sd=0.5,1.0,1.5,2.0", "stimulus.0.mean=1,1.5"]


def test_the_same_table_in_process_on_a_local_cluster_and_on_a_scheduler(tmp_path, cluster):
    local, _ = cluster
    here = sweep("noise", AXES, trials=2, out=tmp_path / "here", duration_ms=100.0)
    on_two = sweep("noise", AXES, trials=2, out=tmp_path / "two", duration_ms=100.0, workers=2, batch_neurons=3)
    on_one = sweep("noise", AXES, trials=2, out=tmp_path / "one", duration_ms=100.0, workers=1, batch_neurons=4)
    done = lifsim_cli("sweep", "noise", *[f"--grid={a}" for a in AXES], "--trials", 2, "--duration", 100,
                      "--scheduler", local.scheduler_address, "--out", tmp_path / "remote", "--batch-neurons", 5)
    assert done.returncode == 0, done.stderr
    remote = pq.read_table(tmp_path / "remote" / "sweep.parquet")
    same_table(here.table, on_two.table)
    same_table(here.table, on_one.table)
    same_table(here.table, remote)
    assert on_two.timings["dask_start_s"] > 0


def test_a_killed_worker_loses_and_duplicates_no_row(tmp_path, cluster):
    local, client = cluster
    pids = list(client.run(os.getpid).values())
    folder = tmp_path / "killed"
    axes = ["stimulus.0.sd=0.2:2.2:0.1"]
    process = subprocess.Popen([sys.executable, "-m", "lifsim", "sweep", "noise", f"--grid={axes[0]}", "--trials", "4",
                                "--duration", "2000", "--batch-neurons", "2", "--scheduler", local.scheduler_address,
                                "--out", str(folder)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(folder.glob("batches/batch-*.parquet")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(pids[0], signal.SIGKILL)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    killed = pq.read_table(folder / "sweep.parquet")
    here = sweep("noise", axes, trials=4, out=tmp_path / "here", duration_ms=2000.0)
    same_table(here.table, killed)
    assert len(list(folder.glob("batches/batch-*.parquet"))) == 40


def test_an_unreachable_scheduler_is_refused_within_seconds(tmp_path):
    started = time.perf_counter()
    done = lifsim_cli("sweep", "fi-grid", "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "s")
    assert done.returncode == 2 and "cannot reach a Dask scheduler" in done.stderr and "Traceback" not in done.stderr
    assert time.perf_counter() - started < 60  # bounded: the connection times out after a few seconds


# ---------------------------------------------------------------- resume


def test_a_sweep_killed_midway_resumes_to_the_uninterrupted_table(tmp_path):
    folder = tmp_path / "sweep"
    args = ["sweep", "noise", "--grid=stimulus.0.sd=0.1:2.1:0.1", "--trials", 2, "--duration", 1500,
            "--batch-neurons", 2, "--out", folder]
    process = subprocess.Popen([sys.executable, "-m", "lifsim", *map(str, args)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(folder.glob("batches/batch-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(list(folder.glob("batches/batch-*.parquet")))
    assert 3 <= before < 20 and not (folder / "sweep.parquet").exists()
    refused = lifsim_cli(*args)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = lifsim_cli(*args[:-4], "--batch-neurons", 5, "--out", folder, "--resume")  # keeps its batches
    assert resumed.returncode == 0, resumed.stderr
    assert f"{before} batches done before" in resumed.stdout
    whole = sweep("noise", ["stimulus.0.sd=0.1:2.1:0.1"], trials=2, out=tmp_path / "whole", duration_ms=1500.0)
    same_table(whole.table, pq.read_table(folder / "sweep.parquet"))
    different = lifsim_cli(*args[:-2], "--out", folder, "--seed", 5, "--resume")
    assert different.returncode == 2 and "different sweep" in different.stderr


def test_ctrl_c_says_where_the_finished_batches_are(tmp_path):
    folder = tmp_path / "s"
    process = subprocess.Popen([sys.executable, "-m", "lifsim", "sweep", "noise", "--grid=stimulus.0.sd=0.1:2.1:0.1",
                                "--trials", "2", "--duration", "1500", "--batch-neurons", "2", "--out", str(folder)],
                               stderr=subprocess.PIPE, text=True,
                               # a shell's background job ignores SIGINT, and its children inherit that
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(folder.glob("batches/batch-*.parquet")) and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=60)[1]
    assert process.returncode == 130, err
    assert f"the finished batches are in {folder}/batches: continue with --resume" in err and "Traceback" not in err


# ---------------------------------------------------------------- files, built-ins, bad input


def test_outputs_table_grid_figure_and_csv(tmp_path):
    done = lifsim_cli("sweep", "fi-grid", "--grid", "stimulus.0.amplitude=1,2", "--grid", "model.tau_m=5,10",
                      "--grid", "model.tau_rest=2", "--csv", "--out", tmp_path / "o", "--metrics",
                      "rate_hz,predicted_rate_hz")
    assert done.returncode == 0, done.stderr
    out = tmp_path / "o"
    table = pq.read_table(out / "sweep.parquet")
    assert table.column_names == ["stimulus.0.amplitude", "model.tau_m", "model.tau_rest", "point", "trial", "seed",
                                  "rate_hz", "predicted_rate_hz"]
    assert (out / "sweep.csv").read_text().splitlines()[0].startswith('"stimulus.0.amplitude"')
    dataset = xr.open_dataset(out / "sweep.nc", engine="h5netcdf")
    assert dataset["rate_hz"].shape == (2, 2, 1)
    assert (out / "sweep.png").stat().st_size > 10_000
    assert json.loads((out / "sweep.json").read_text())["trials"] == 1


def test_brunel_phase_runs_small_with_its_regimes_in_the_table(tmp_path):
    result = sweep("brunel-phase", ["g=3,6", "eta=1,3"], out=tmp_path / "b", order=40, duration_ms=100.0)
    names = result.table.column_names
    assert {"rate_hz.E", "rate_hz.I", "cv_isi.E", "synchrony"} <= set(names)
    rates = dict(zip(zip(result.table.column("eta").to_pylist(), result.table.column("g").to_pylist()),
                     result.table.column("rate_hz").to_pylist()))
    assert rates[(3, 3)] > rates[(1, 6)]  # more drive and less inhibition: more firing


@pytest.mark.parametrize("args, message", [
    (["--grid", "model.nope=1,2"], "unknown key model.nope"),
    (["--grid", "stimulus.4.amplitude=1"], "out of range"),
    (["--grid", "model.tau_m=1,-1"], "model.tau_m must be > 0"),
    (["--trials", "0"], "trials must be"),
    (["--metrics", "rate_hz,speed"], "metrics must be among"),
    (["--workers", "0"], "workers must be"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not both"),
    (["--batch-neurons", "0"], "batch_neurons"),
])
def test_bad_sweeps_are_refused_in_one_line_before_any_work(tmp_path, args, message):
    done = lifsim_cli("sweep", "fi-grid", *args, "--out", tmp_path / "s")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
