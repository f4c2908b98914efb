"""The TensorFlow engine: switches, devices, and its absence."""

import subprocess
import sys

import numpy as np
import pytest

import lifsim
from lifsim import engines


def small_population(**changes):
    settings = dict(model=lifsim.LIFParams(tau_rest=[2.0, 3.0, 4.0] * 400), n_neurons=1200,
                    stimuli=[lifsim.NoiseCurrent(1.0, 1.0), lifsim.PoissonSynapses(8, 30.0)], duration_ms=60.0,
                    dt_ms=0.5, method="exact", record=lifsim.Record(("u", "i_in"), neurons=[0, 599, 1199], every=2))
    settings.update(changes)
    return lifsim.RunConfig(**settings)


def test_missing_tensorflow_is_refused_with_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow now fails
    monkeypatch.delitem(sys.modules, "lifsim.engines.tensorflow_engine", raising=False)
    with pytest.raises(lifsim.ParameterError, match=r"pip install 'lifsim\[tensorflow\]'"):
        engines.load_engine("tensorflow")


def test_missing_tensorflow_on_the_command_line():
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from lifsim.cli import main\n"
            "sys.exit(main(['run', 'square', '--engine', 'tensorflow', '--out', 'unused-dir']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "pip install 'lifsim[tensorflow]'" in done.stderr and "Traceback" not in done.stderr


tf = pytest.importorskip("tensorflow")


def run(config, **options):
    return lifsim.simulate(config.replace(engine="tensorflow"), engine_options=tuple(options.items()))


def test_xla_on_and_off_give_the_reference_spikes():
    config = small_population()
    reference = lifsim.simulate(config.replace(engine="numpy"))
    for jit in (True, False):
        result = run(config, jit_compile=jit)
        np.testing.assert_array_equal(result.spike_times_ms, reference.spike_times_ms)
        np.testing.assert_array_equal(result.traces["u"], reference.traces["u"])


def test_float64_population():
    config = small_population(precision="float64")
    reference = lifsim.simulate(config.replace(engine="numpy"))
    result = run(config)
    np.testing.assert_array_equal(result.spike_times_ms, reference.spike_times_ms)
    np.testing.assert_allclose(result.traces["i_in"], reference.traces["i_in"], rtol=1e-15)


def test_explicit_cpu_device():
    config = small_population(duration_ms=10.0)
    result = run(config, device="cpu")
    assert result.spike_times_ms.size == lifsim.simulate(config.replace(engine="numpy")).spike_times_ms.size


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU is present")
def test_gpu_refused_when_tensorflow_sees_none():
    with pytest.raises(lifsim.ParameterError, match="device gpu: TensorFlow sees no GPU"):
        run(small_population(), device="gpu")


def test_unknown_engine_option_refused():
    with pytest.raises(lifsim.ParameterError, match="engine option must be device or jit_compile"):
        run(small_population(), fastest=True)


def test_info_lists_tensorflow_devices(capsys):
    from lifsim import cli

    assert cli.main(["info"]) == 0
    line = [text for text in capsys.readouterr().out.splitlines() if "tensorflow" in text][0]
    assert tf.__version__ in line and "cpu" in line


def test_device_option_needs_the_tensorflow_engine(tmp_path, capsys):
    from lifsim import cli

    assert cli.main(["run", "square", "--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "apply to the tensorflow engine only" in capsys.readouterr().err


def test_article_baseline_script_runs():
    done = subprocess.run([sys.executable, "benchmarks/article_tf.py", "--steps", "300"], capture_output=True,
                          text=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["same_spikes"] is True and row["steps"] == 300 and row["speedup"] > 0
