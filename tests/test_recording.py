"""Recording control, chunked runs, memory estimates and progress reporting."""

import io
import time

import numpy as np
import pytest

import lifsim
import lifsim.engines
from lifsim.simulation import plan as run_module, simulate as simulate_module


def config(engine="numpy", record=None, n=300, stimuli=(lifsim.NoiseCurrent(1.2, 1.0), lifsim.PoissonSynapses(5, 30.0)),
           **kw):
    return lifsim.RunConfig(stimuli=stimuli, n_neurons=n, duration_ms=100.0, dt_ms=0.5, engine=engine, method="exact",
                            record=record or lifsim.Record(("u", "i_syn", "i_in")), **kw)


def _installed(name):
    try:
        lifsim.engines.load_engine(name)
        return True
    except lifsim.ParameterError:
        return False


@pytest.fixture(scope="module", params=[name for name in lifsim.engines.engine_names() if _installed(name)])
def full(request):
    return request.param, lifsim.simulate(config(request.param))


def test_every_k_steps(full):
    engine, everything = full
    sparse = lifsim.simulate(config(engine, lifsim.Record(("u", "i_in"), every=7)))
    np.testing.assert_array_equal(sparse.t_ms, everything.t_ms[::7])
    np.testing.assert_array_equal(sparse.traces["u"], everything.traces["u"][::7])
    np.testing.assert_array_equal(sparse.traces["i_in"], everything.traces["i_in"][::7])
    assert set(sparse.traces) == {"u", "i_in"}
    np.testing.assert_array_equal(sparse.spike_times_ms, everything.spike_times_ms)


def test_chosen_neurons(full):
    engine, everything = full
    chosen = [299, 3, 150]
    some = lifsim.simulate(config(engine, lifsim.Record(("i_syn",), neurons=chosen)))
    np.testing.assert_array_equal(some.recorded_neurons, sorted(chosen))
    np.testing.assert_array_equal(some.traces["i_syn"], everything.traces["i_syn"][:, sorted(chosen)])


def test_no_traces_still_keeps_every_spike(full):
    engine, everything = full
    none = lifsim.simulate(config(engine, lifsim.Record(neurons="none")))
    assert all(trace.shape[1] == 0 for trace in none.traces.values())
    np.testing.assert_array_equal(none.spike_neurons, everything.spike_neurons)
    assert everything.spike_times_ms.size > 100


def test_many_small_chunks_give_the_same_run(monkeypatch, full):
    engine, everything = full
    noise_only = config(engine, stimuli=[lifsim.NoiseCurrent(1.2, 1.0)])
    whole = lifsim.simulate(noise_only)
    monkeypatch.setattr(run_module, "CHUNK_ELEMENTS", 300 * 13)  # 13 steps per chunk
    assert run_module.plan(noise_only).chunk_steps == 13
    chunked = lifsim.simulate(noise_only)
    np.testing.assert_array_equal(chunked.spike_times_ms, whole.spike_times_ms)
    np.testing.assert_array_equal(chunked.traces["u"], whole.traces["u"])


def test_chunk_memory_is_bounded():
    big = lifsim.RunConfig(stimuli=[lifsim.NoiseCurrent(1.0, 1.0)], n_neurons=1_000_000, duration_ms=1000.0,
                           dt_ms=0.1, record=lifsim.Record(neurons="none"))
    plan = run_module.plan(big)
    assert plan.chunk_steps * big.n_neurons <= run_module.CHUNK_ELEMENTS
    assert plan.memory_bytes["traces"] == 0


def test_memory_estimate_counts_traces():
    small = run_module.plan(config(record=lifsim.Record(("u",), neurons=[0]))).memory_bytes["traces"]
    large = run_module.plan(config(record=lifsim.Record(("u", "i_in")))).memory_bytes["traces"]
    assert small == 200 * 1 * 4 and large == 200 * 300 * 4 * 2


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_terminals_and_after_a_delay(monkeypatch):
    monkeypatch.setattr(simulate_module, "PROGRESS_DELAY_S", 0.05)
    terminal, pipe = FakeTerminal(), io.StringIO()
    for stream in (terminal, pipe):
        with simulate_module._progress_bar(100, True, stream) as bar:
            time.sleep(0.1)
            bar.update(50)
    assert "50%" in terminal.getvalue() and "step" in terminal.getvalue()
    assert pipe.getvalue() == ""
    quick = FakeTerminal()
    with simulate_module._progress_bar(100, True, quick) as bar:
        bar.update(100)  # over before the delay: nothing shown
    assert quick.getvalue() == ""
    assert isinstance(simulate_module._progress_bar(100, False), simulate_module._NoBar)


def test_a_record_refuses_repeated_and_negative_neurons_when_built():
    with pytest.raises(lifsim.ParameterError, match=r"must not repeat an index \(3 appears 2 times\)"):
        lifsim.Record(neurons=[0, 3, 3])
    with pytest.raises(lifsim.ParameterError, match="record.neurons"):
        lifsim.Record(neurons=[-1])
    with pytest.raises(lifsim.ParameterError, match=r"must be in \[0, 9\] \(got 12\)"):
        lifsim.RunConfig(n_neurons=10, record=lifsim.Record(neurons=[12]))


@pytest.mark.parametrize("n, expected", [(1, [0]), (5, [0, 1, 2, 3, 4]), (8, list(range(8))),
                                         (100, [0, 14, 28, 42, 57, 71, 85, 99])])
def test_sample_records_at_most_eight_neurons_spread_evenly(n, expected):
    assert lifsim.Record(neurons="sample").neuron_indices(n).tolist() == expected


def test_built_in_populations_record_spikes_of_all_and_traces_of_a_few(tmp_path):
    from lifsim import cli

    assert cli.main(["run", "noise", "--neurons", "500", "--out", str(tmp_path), "--quiet"]) == 0
    arrays = np.load(tmp_path / "noise.npz")
    assert arrays["u"].shape == (200, 8) and arrays["i_in"].shape == (200, 8)
    assert arrays["recorded_neurons"].tolist() == [0, 71, 143, 214, 285, 356, 428, 499]
    assert np.unique(arrays["spike_neurons"]).size > 400  # spikes of (nearly) every neuron


def test_an_experiment_file_without_record_neurons_records_a_sample(tmp_path):
    path = tmp_path / "few.toml"
    path.write_text('neurons = 50\n[[stimulus]]\nkind = "constant"\namplitude = 1.5\n')
    exp = lifsim.load_experiment(str(path))
    assert exp.config.record.neurons == "sample" and exp.config.record.count(50) == 8


def test_the_plan_of_a_command_line_run_counts_its_files_and_figure():
    cfg = config(record=lifsim.Record(("u",), neurons="all"))
    without = run_module.plan(cfg).memory_bytes
    with_files = run_module.plan(cfg, outputs=True).memory_bytes
    assert without["outputs"] == 0
    spikes = with_files["spikes"] / run_module.BYTES_PER_SPIKE
    figure = (8 * 200 + spikes * 1.0 + 100.0) * run_module.FIGURE_BYTES_PER_POINT  # 8 of 300 traces drawn
    assert with_files["outputs"] == pytest.approx(run_module.OUTPUT_BYTES_PER_SPIKE * spikes + figure, rel=1e-6)
    with pytest.raises(lifsim.ParameterError, match="outputs"):
        run_module.plan(cfg, memory_limit=sum(without.values()) + 1, outputs=True)
