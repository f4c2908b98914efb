"""Fitting: the recorded-current stimulus, differentiable runs (same forward pass as the
reference engine, gradients equal to finite differences of the smooth loss), the search
and refinement recovering known parameters, the files, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import lifsim
from lifsim.errors import ParameterError
from lifsim.fit.data import recording_from_arrays
from lifsim.io import experiment_file

tf = pytest.importorskip("tensorflow")
from lifsim.fit.gradients import GradientOptions, Target, gradients  # noqa: E402
from lifsim.fit.fitting import FitSettings, fit  # noqa: E402
from lifsim.fit.report import save  # noqa: E402

DT = 0.1
TRUE = dict(tau_m=15.0, R=1.3, u_thresh=1.2, tau_rest=2.0)
BOUNDS = {"tau_m": (2.0, 50.0), "R": (0.1, 10.0), "u_thresh": (0.5, 3.0)}


def ou_current(steps: int, seed: int = 7, mean: float = 1.1, sd: float = 0.6, tau_ms: float = 10.0) -> np.ndarray:
    """An Ornstein–Uhlenbeck current, mA, sampled every DT ms (exact update)."""
    rng = np.random.default_rng(seed)
    decay = np.exp(-DT / tau_ms)
    x = np.zeros(steps)
    for k in range(1, steps):
        x[k] = x[k - 1] * decay + sd * np.sqrt(1 - decay**2) * rng.normal()
    return mean + x


def recorded(current, **model) -> lifsim.Result:
    config = lifsim.RunConfig(stimuli=(lifsim.RecordedCurrent(samples=current, sample_dt_ms=DT),),
                              duration_ms=current.size * DT, dt_ms=DT, method="exact",
                              model=lifsim.LIFParams(**model), record=lifsim.Record(variables=("u",), neurons="all"))
    return lifsim.simulate(config)


@pytest.fixture(scope="module")
def synthetic():
    current = ou_current(15_000)
    run = recorded(current, **TRUE)
    assert run.spike_times_ms.size > 30  # a fit needs spikes to learn the threshold from
    return current, run


# ---------------------------------------------------------------- the recorded current


def test_recorded_current_drives_every_engine_alike_and_stops_after_its_samples():
    samples = np.linspace(0.5, 2.0, 300)
    config = lifsim.RunConfig(stimuli=(lifsim.RecordedCurrent(samples=samples, sample_dt_ms=0.1),),
                              duration_ms=40.0, dt_ms=0.1, method="exact", n_neurons=2,
                              model=lifsim.LIFParams(tau_m=np.array([5.0, 9.0])),
                              record=lifsim.Record(variables=("u", "i_in"), neurons="all"))
    runs = [lifsim.simulate(config.replace(engine=e)) for e in ("numpy", "numba", "tensorflow")]
    assert np.array_equal(runs[0].traces["i_in"][:300, 0], samples.astype(np.float32))
    assert not runs[0].traces["i_in"][300:].any()
    for run in runs[1:]:
        assert np.array_equal(run.spike_times_ms, runs[0].spike_times_ms)
        assert np.array_equal(run.traces["u"], runs[0].traces["u"])


def test_recorded_current_goes_through_an_experiment_file():
    config = lifsim.RunConfig(stimuli=(lifsim.RecordedCurrent(samples=[1.5, 2.5, 0.25], sample_dt_ms=0.5),),
                              duration_ms=2.0, dt_ms=0.5)
    text = experiment_file.render_config(config)
    assert 'kind = "recorded"' in text and "samples = [1.5, 2.5, 0.25]" in text
    again = experiment_file.from_data(experiment_file.parse(text, "test"), "test").config
    assert np.array_equal(again.stimuli[0].samples, [1.5, 2.5, 0.25])


@pytest.mark.parametrize("change, named", [
    (dict(sample_dt_ms=0.2), "sample_dt_ms must equal the run's dt"),
    (dict(samples=[1.0, float("nan")]), "samples"),
    (dict(samples=[]), "samples must be a non-empty list"),
    (dict(sample_dt_ms=-1.0), "sample_dt_ms"),
])
def test_recorded_current_refuses_bad_values(change, named):
    stimulus = lifsim.RecordedCurrent(**{"samples": [1.0, 2.0], "sample_dt_ms": 0.1, **change})
    with pytest.raises(ParameterError, match=named):
        lifsim.simulate(stimuli=(stimulus,), duration_ms=1.0, dt_ms=0.1)


# ---------------------------------------------------------------- differentiable runs


def _synaptic_config(method, precision="float32", steps=1500):
    stimuli = (lifsim.RecordedCurrent(samples=0.5 + 0.1 * np.sin(np.arange(steps) / 30), sample_dt_ms=DT),
               lifsim.PoissonSynapses(synapses=25, rate_hz=20, q=1.5))
    model = lifsim.LIFParams(tau_m=np.array([8.0, 10.0, 12.0]), tau_syn=np.array([5.0, 10.0, 15.0]), tau_rest=2.0)
    return lifsim.RunConfig(stimuli=stimuli, duration_ms=steps * DT, dt_ms=DT, method=method, n_neurons=3,
                            model=model, precision=precision, engine="numpy",
                            record=lifsim.Record(variables=("u",), neurons="all"))


@pytest.mark.parametrize("method", ["exact", "article"])
def test_differentiable_forward_pass_is_the_reference_engines(method):
    config = _synaptic_config(method)
    reference = lifsim.simulate(config)
    target = Target(voltage=np.full(config.steps, 0.5), spike_times_ms=np.array([5.0, 52.0]))
    run = gradients(config, ["tau_m", "u_thresh", "tau_syn"], target, GradientOptions(chunk_steps=400), keep_u=True)
    assert np.array_equal(run.u, reference.traces["u"])
    offset = lifsim.neuron.rule.METHOD_TABLE[method].spike_offset_steps
    assert np.array_equal((run.spike_steps + offset) * DT, reference.spike_times_ms)
    assert np.array_equal(run.spike_neurons, reference.spike_neurons)
    assert reference.spike_times_ms.size > 5


def _finite_difference(config, target, options, name, eps=1e-6):
    def loss(delta):
        if name.startswith("stimulus."):
            index = int(name.split(".")[1])
            stimuli = list(config.stimuli)
            s = stimuli[index]
            stimuli[index] = (lifsim.RecordedCurrent(samples=s.samples * (1 + delta), sample_dt_ms=DT)
                              if index == 0 else lifsim.PoissonSynapses(synapses=25, rate_hz=20, q=1.5 * (1 + delta)))
            changed = config.replace(stimuli=tuple(stimuli))
        else:
            fields = {f: getattr(config.model, f) for f in ("tau_m", "tau_syn", "tau_rest", "R", "u_thresh", "u_rest")}
            fields[name] = np.asarray(fields[name], float) + delta
            changed = config.replace(model=lifsim.LIFParams(**fields))
        return gradients(changed, [], target, options).loss
    return (loss(eps) - loss(-eps)) / (2 * eps)


ALL_GRADIENTS = ["tau_m", "R", "u_thresh", "u_rest", "tau_syn", "stimulus.0.scale", "stimulus.1.scale"]


@pytest.mark.parametrize("method, surrogate, names", [("exact", "superspike", ALL_GRADIENTS),
                                                      ("article", "sigmoid", ALL_GRADIENTS),
                                                      ("exact", "triangle", ["tau_m", "u_thresh", "tau_syn"])])
def test_gradients_equal_finite_differences_of_the_smooth_loss(method, surrogate, names):
    config = _synaptic_config(method, "float64", steps=600)
    target = Target(voltage=np.full(config.steps, 0.5), spike_times_ms=np.array([5.0, 52.0]))
    options = GradientOptions(soft_spikes=True, detach_reset=False, surrogate=surrogate, scale=5.0, chunk_steps=250)
    run = gradients(config, names, target, options)
    for name in names:
        expected = _finite_difference(config, target, options, name)
        assert np.allclose(run.gradients[name], expected, rtol=1e-5, atol=1e-7), name
        assert np.any(np.abs(expected) > 1e-3), name  # a gradient worth checking


def test_hard_gradients_are_exact_below_threshold():
    """Without spikes the surrogate plays no part: the gradient is the true one."""
    current = 0.5 + 0.2 * np.sin(np.arange(1000) / 40)
    config = lifsim.RunConfig(stimuli=(lifsim.RecordedCurrent(samples=current, sample_dt_ms=DT),), duration_ms=100.0,
                              dt_ms=DT, method="exact", precision="float64",
                              model=lifsim.LIFParams(tau_m=12.0, R=1.1))
    target = Target(voltage=np.full(1000, 0.3))
    run = gradients(config, ["tau_m", "R"], target)
    assert run.spike_steps.size == 0
    for name in ("tau_m", "R"):
        assert np.allclose(run.gradients[name], _finite_difference(config, target, GradientOptions(), name),
                           rtol=1e-6)


def test_chunking_does_not_change_the_gradients():
    config = _synaptic_config("exact", "float64", steps=900)
    target = Target(voltage=np.full(config.steps, 0.5), spike_times_ms=np.array([5.0, 52.0]))
    whole = gradients(config, ["tau_m", "R", "tau_syn"], target, GradientOptions(chunk_steps=900))
    cut = gradients(config, ["tau_m", "R", "tau_syn"], target, GradientOptions(chunk_steps=97))
    assert np.allclose(whole.loss, cut.loss, rtol=1e-12)
    for name in whole.gradients:
        assert np.allclose(whole.gradients[name], cut.gradients[name], rtol=1e-9), name


def test_detached_reset_changes_only_the_gradient():
    config = _synaptic_config("exact")
    target = Target(spike_times_ms=np.array([5.0, 52.0, 100.0]))
    detached = gradients(config, ["tau_m"], target, GradientOptions(detach_reset=True))
    attached = gradients(config, ["tau_m"], target, GradientOptions(detach_reset=False))
    assert np.array_equal(detached.loss, attached.loss)
    assert not np.allclose(detached.gradients["tau_m"], attached.gradients["tau_m"])


def test_gradient_runs_refuse_what_they_cannot_do():
    config = _synaptic_config("exact")
    target = Target(voltage=np.zeros(config.steps))
    with pytest.raises(ParameterError, match="needs .* GiB"):
        gradients(config, ["tau_m"], target, memory_limit=1000)
    with pytest.raises(ParameterError, match="gradient parameter must be one of"):
        gradients(config, ["tau_rest"], target)
    with pytest.raises(ParameterError, match="stimulus K of the run"):
        gradients(config, ["stimulus.5.scale"], target)
    with pytest.raises(ParameterError, match="target.voltage must hold"):
        gradients(config, ["tau_m"], Target(voltage=np.zeros(3)))
    with pytest.raises(ParameterError, match="surrogate"):
        GradientOptions(surrogate="step")


# ---------------------------------------------------------------- fits


def test_fit_recovers_tau_m_R_and_threshold_from_a_voltage_trace(synthetic, tmp_path):
    current, run = synthetic
    data = recording_from_arrays(dt_ms=DT, current_mA=current, u_mV=run.traces["u"][:, 0].astype(float))
    result = fit(data, BOUNDS, lifsim.LIFParams(tau_rest=2.0), population=300, evaluations=15_000, restarts=2,
                 refine_steps=3, seed=1)
    for name, value in result.parameters.items():
        assert abs(value / TRUE[name] - 1) < 0.05, (name, value)
    assert result.test_score < 1e-2 and result.metric == "mse"
    assert result.evaluations <= 2 * 15_000
    perfect = all(r["search_score"] <= 1e-12 * np.mean(np.square(data.voltage)) for r in result.restarts)
    assert result.gradient_steps == (0 if perfect else 3)  # a perfect search needs no descent
    assert set(result.spread) == set(BOUNDS)

    files = save(result, tmp_path)
    assert [p.name for p in files] == ["fit.json", "fit.toml", "fit.png"]
    summary = json.loads((tmp_path / "fit.json").read_text())
    assert summary["parameters"] == pytest.approx(result.parameters) and summary["units"]["tau_m"] == "ms"
    assert any(h["stage"] == "search" for h in summary["history"])
    rerun = lifsim.simulate(experiment_file.load(str(tmp_path / "fit.toml")).config)
    assert np.array_equal(rerun.spike_times_ms, result.result.spike_times_ms)
    assert np.array_equal(rerun.traces["u"], result.result.traces["u"])


def test_fit_from_spike_times_alone_reaches_a_held_out_gamma_factor_of_0_9(synthetic):
    current, run = synthetic
    data = recording_from_arrays(dt_ms=DT, current_mA=current, spike_times_ms=run.spike_times_ms)
    result = fit(data, BOUNDS, lifsim.LIFParams(tau_rest=2.0), population=300, evaluations=15_000, restarts=1,
                 refine_steps=2, seed=3)
    assert result.metric == "gamma"
    assert result.test_score >= 0.9, result.test_score


def test_scores_are_the_metric_on_the_parts_split_cuts_and_the_figure_uses_the_fits_tau(synthetic):
    from lifsim.fit.metrics import van_rossum_distance

    current, run = synthetic
    data = recording_from_arrays(dt_ms=DT, current_mA=current[:3000], spike_times_ms=run.spike_times_ms[
        run.spike_times_ms < 300.0])
    result = fit(data, BOUNDS, lifsim.LIFParams(tau_rest=2.0), metric="van_rossum", tau_ms=4.0, population=32,
                 evaluations=64, restarts=1, refine_steps=0, seed=2)
    model = recording_from_arrays(dt_ms=DT, current_mA=current[:3000], spike_times_ms=result.result.spike_times_ms)
    scores = [van_rossum_distance(m.spike_times_ms, d.spike_times_ms, 4.0, d.duration_ms)
              for m, d in zip(model.split(1 / 3), data.split(1 / 3))]
    assert (result.train_score, result.test_score) == pytest.approx(scores, rel=1e-12)
    assert result.tau_ms == 4.0 and result.split_step == data.split(1 / 3)[0].steps
    from lifsim.fit.report import draw

    labels = [ax.get_ylabel() for ax in draw(result).axes]
    assert any("τ = 4 ms" in label for label in labels), labels


def test_cma_search_improves_on_its_first_generation(synthetic):
    current, run = synthetic
    data = recording_from_arrays(dt_ms=DT, current_mA=current[:3000], u_mV=run.traces["u"][:3000, 0].astype(float))
    result = fit(data, BOUNDS, lifsim.LIFParams(tau_rest=2.0), optimizer="cma", population=64, evaluations=1_280,
                 restarts=1, refine_steps=0)
    history = [h["best_score"] for h in result.history]
    assert history[-1] < history[0] and result.gradient_steps == 0


def test_a_search_stops_when_it_no_longer_improves_or_is_perfect(synthetic):
    current, run = synthetic
    data = recording_from_arrays(dt_ms=DT, current_mA=current[:3000], u_mV=run.traces["u"][:3000, 0].astype(float))
    reports = []
    result = fit(data, {"tau_m": (2.0, 50.0)}, lifsim.LIFParams(R=1.3, u_thresh=1.2, tau_rest=2.0), population=40,
                 evaluations=400_000, restarts=1, patience=3, refine_steps=0,
                 report=lambda *args: reports.append(args))
    scores = [h["best_score"] for h in result.history]
    assert result.evaluations < 400_000 and len(scores) == result.evaluations // 40
    perfect = scores[-1] == 0.0
    assert perfect or (len(scores) > 3 and scores[-4] == scores[-1])
    stage, restart, count, score, best = reports[-1]
    assert (stage, restart, count, score) == ("search", 0, result.evaluations, scores[-1])
    assert best == pytest.approx(result.parameters)


@pytest.mark.parametrize("bounds, settings, named", [
    ({"tau_m": (5.0, 2.0)}, {}, "low must be < high"),
    ({"tau_m": (-1.0, 5.0)}, {}, "bounds must be > 0"),
    ({"tau_x": (1.0, 5.0)}, {}, "unknown parameter"),
    ({}, {}, "at least one parameter"),
    ({"u_thresh": (-3.0, -1.0)}, {}, "u_thresh is at or below the reset"),
    ({"tau_m": (0.05, 5.0)}, {"method": "article"}, "dt must be in"),
    ({"tau_m": (2.0, 5.0)}, {"population": 2}, "population"),
    ({"tau_m": (2.0, 5.0)}, {"test_fraction": 1.0}, "test_fraction"),
    ({"tau_m": (2.0, 5.0)}, {"metric": "gamma"}, "needs spike times"),
])
def test_fit_refuses_bad_settings_before_any_work(bounds, settings, named):
    data = recording_from_arrays(dt_ms=DT, current_mA=np.ones(200), u_mV=np.zeros(200))
    with pytest.raises(ParameterError, match=named):
        fit(data, bounds, **settings)


def test_fit_settings_are_checked():
    with pytest.raises(ParameterError, match="evaluations"):
        FitSettings(population=100, evaluations=10)
    with pytest.raises(ParameterError, match="optimizer"):
        FitSettings(optimizer="sgd")


# ---------------------------------------------------------------- the command line


def _lifsim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "lifsim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _write_csv(path, current, u=None, spikes=None):
    columns, names = [np.arange(current.size) * DT, current], ["t_ms", "current_mA"]
    if u is not None:
        columns.append(u)
        names.append("u_mV")
    np.savetxt(path, np.column_stack(columns), delimiter=",", header=",".join(names), comments="", fmt="%.10g")


def test_command_line_fit_writes_its_files_and_the_toml_reruns(synthetic, tmp_path):
    current, run = synthetic
    _write_csv(tmp_path / "rec.csv", current[:4000], run.traces["u"][:4000, 0])
    done = _lifsim("fit", "rec.csv", "--fit", "tau_m=2:50", "--fit", "R=0.1:10", "--set", "tau_rest=2",
                   "--set", "u_thresh=1.2", "--population", "100", "--evaluations", "1000", "--restarts", "2",
                   "--refine-steps", "2", "--out", "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fit: tau_m = ") and "held out" in done.stdout
    summary = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert set(summary["parameters"]) == {"tau_m", "R"} and summary["gradient_steps"] == 2
    rerun = _lifsim("run", "out/fit.toml", "--out", "again", "--quiet", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    times = json.loads((tmp_path / "again" / "fitted.json").read_text())["spikes"]["times_ms"]
    model = lifsim.simulate(experiment_file.load(str(tmp_path / "out" / "fit.toml")).config)
    assert np.allclose(times, model.spike_times_ms)


@pytest.mark.parametrize("args, named", [
    (["--fit", "tau_m=5"], "--fit tau_m must be LOW:HIGH"),
    (["--fit", "tau_m"], "--fit must be NAME=LOW:HIGH"),
    (["--fit", "tau_m=a:5"], "must be a number"),
    (["--fit", "tau_m=nan:5"], "finite"),
    (["--fit", "tau_m=2:5", "--set", "tau_m=3"], "set it or fit it"),
    (["--fit", "tau_m=2:5", "--set", "colour=3"], "unknown parameter"),
    (["--fit", "tau_m=2:5", "--evaluations", "3"], "evaluations"),
    (["--fit", "R=0:5"], "bounds must be > 0"),
    (["--fit", "tau_m=2:5", "--metric", "gamma"], "needs spike times"),
])
def test_command_line_refuses_bad_input_in_one_line(tmp_path, args, named):
    _write_csv(tmp_path / "rec.csv", np.ones(300), np.zeros(300))
    done = _lifsim("fit", "rec.csv", *args, "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("lifsim: error:") and named in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_command_line_refuses_bad_data_files(tmp_path):
    (tmp_path / "bad.csv").write_text("t_ms,current_mA,u_mV\n0,1,0\n0.1,nan,0\n0.2,1,0\n")
    done = _lifsim("fit", "bad.csv", "--fit", "tau_m=2:5", cwd=tmp_path)
    assert done.returncode == 2 and "current_mA" in done.stderr and done.stderr.count("\n") == 1
    done = _lifsim("fit", "missing.csv", "--fit", "tau_m=2:5", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("lifsim: error:")
