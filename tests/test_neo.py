"""Neo objects, NIX files, and Elephant on lifsim's output."""

import json

import numpy as np
import pytest

import lifsim

neo = pytest.importorskip("neo")
pq = pytest.importorskip("quantities")


@pytest.fixture(scope="module")
def result():
    return lifsim.simulate(stimuli=[lifsim.NoiseCurrent(1.4, 1.2), lifsim.PoissonSynapses(5, 40.0)], n_neurons=40,
                           duration_ms=400.0, dt_ms=0.5, method="exact", engine="numpy", seed=3,
                           record=lifsim.Record(("u", "i_syn"), neurons=[1, 7, 30], every=2))


def test_block_structure(result):
    block = result.to_neo()
    assert len(block.segments) == 1
    segment = block.segments[0]
    assert len(segment.spiketrains) == 40
    train = segment.spiketrains[7]
    assert train.units == pq.ms and float(train.t_stop) == 400.0
    np.testing.assert_array_equal(train.magnitude, result.spikes_of(7))
    assert train.annotations["neuron"] == 7
    u = next(s for s in segment.analogsignals if s.name == "u")
    assert u.units == pq.mV and u.shape == (400, 3)
    assert float(u.sampling_period.rescale(pq.ms)) == 1.0
    np.testing.assert_array_equal(u.array_annotations["neuron"], [1, 7, 30])
    i_syn = next(s for s in segment.analogsignals if s.name == "i_syn")
    assert i_syn.units == pq.mA
    annotations = block.annotations
    assert annotations["lifsim_method"] == "exact" and annotations["lifsim_engine"] == "numpy"
    assert annotations["lifsim_seed"] == 3 and annotations["model_tau_m_ms"] == 10.0


def test_nix_round_trip(result, tmp_path):
    pytest.importorskip("nixio")
    from lifsim.io.neo_io import load_nix, save_nix

    path = save_nix(result, tmp_path / "run.nix")
    (block,) = load_nix(path)
    segment = block.segments[0]
    trains = sorted(segment.spiketrains, key=lambda t: t.annotations["neuron"])
    assert len(trains) == 40
    for train in trains:
        np.testing.assert_array_equal(train.rescale(pq.ms).magnitude, result.spikes_of(train.annotations["neuron"]))
    for name, trace in result.traces.items():
        signal = next(s for s in segment.analogsignals if s.name == name)
        np.testing.assert_array_equal(signal.magnitude, trace)
    assert block.annotations["lifsim_method"] == "exact"


def test_elephant_agrees_with_lifsim(result):
    pytest.importorskip("elephant")
    from elephant.statistics import cv, isi, mean_firing_rate

    trains = result.to_neo().segments[0].spiketrains
    rates = [float(mean_firing_rate(t).rescale(pq.Hz)) for t in trains]
    np.testing.assert_allclose(rates, result.firing_rates(), rtol=1e-12)
    ours = result.cv()
    for train in trains:
        n = train.annotations["neuron"]
        if len(train) >= 3:
            assert cv(isi(train)) == pytest.approx(ours[n], rel=1e-10)
    assert np.sum(np.isfinite(ours)) > 20


def test_save_option_on_the_command_line(tmp_path):
    from lifsim import cli
    from lifsim.io.neo_io import load_nix

    pytest.importorskip("nixio")
    assert cli.main(["run", "square", "--out", str(tmp_path), "--save", str(tmp_path / "sq.nix"), "--quiet"]) == 0
    (block,) = load_nix(tmp_path / "sq.nix")
    assert len(block.segments[0].spiketrains[0]) == 6


def test_save_needs_a_nix_name(tmp_path, capsys):
    from lifsim import cli

    assert cli.main(["run", "square", "--out", str(tmp_path / "o"), "--save", str(tmp_path / "x.h5")]) == 2
    assert "must end in .nix" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_all_saves_every_run_into_the_one_file_it_names(tmp_path, capsys):
    from lifsim import cli

    pytest.importorskip("nixio")
    assert cli.main(["run", "all", "--out", str(tmp_path / "o"), "--save", str(tmp_path / "all.nix")]) == 0
    assert "wrote " + str(tmp_path / "all.nix") + ": one Neo block per run (square, noise, synaptic)" \
        in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.glob("*.nix")) == ["all.nix"]
    blocks = lifsim.load_nix(tmp_path / "all.nix")
    assert [b.name for b in blocks] == ["square", "noise", "synaptic"]
    saved = json.loads((tmp_path / "o" / "noise.json").read_text())["spikes"]["times_ms"]
    np.testing.assert_allclose(blocks[1].segments[0].spiketrains[0].times.magnitude, saved, atol=1e-9)


def test_runs_of_one_name_are_told_apart_by_method(tmp_path):
    from lifsim.io.neo_io import block_names

    results = [lifsim.simulate(lifsim.RunConfig(stimuli=[lifsim.ConstantCurrent(1.5)], duration_ms=20.0,
                                                engine="numpy", method=m)) for m in ("article", "exact")]
    assert block_names(results) == ["custom (article)", "custom (exact)"]
    path = lifsim.save_nix(results, tmp_path / "both.nix")
    assert [b.name for b in lifsim.load_nix(path)] == ["custom (article)", "custom (exact)"]


def test_the_documented_functions_are_reachable_from_lifsim():
    import lifsim.io.neo_io as neo_io

    assert lifsim.save_nix is neo_io.save_nix and lifsim.load_nix is neo_io.load_nix
    assert lifsim.load_experiment("square").config.name == "square"
