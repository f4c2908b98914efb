"""The article's way of stepping against lifsim's TensorFlow engine, same run, same machine.

The article (Corvoysier, 2018) builds the LIF neuron as a TensorFlow graph and calls it
once per time step from Python. ``ArticleNeuron`` keeps that approach, in TensorFlow 2:
the step is one compiled ``tf.function`` (``tf.case`` over resting, firing and
integrating, state in ``tf.Variable``s) and Python calls it for every step, feeding the
input current and reading the potential back. lifsim's engine runs the whole loop in
one compiled call per chunk. Both simulate one neuron with the article's parameters
under a constant 1.5 mA for ``--steps`` steps of 1 ms, recording u at every step.

    python benchmarks/article_tf.py --steps 100000

prints one JSON object: both wall times, steps per second, the speed-up, and whether
the two runs give the same spike steps.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import tensorflow as tf

import lifsim

PARAMS = lifsim.LIFParams()  # u_rest 0 mV, u_thresh 1 mV, tau_rest 4 ms, R 1 Ω, tau_m 10 ms
DT_MS = 1.0


class ArticleNeuron:
    """The article's LIF graph: one compiled call per step, driven from Python."""

    def __init__(self, params=PARAMS, dt_ms=DT_MS):
        self.p, self.dt = params, dt_ms
        self.u = tf.Variable(float(params.u_rest), dtype=tf.float32)
        self.t_rest = tf.Variable(0.0, dtype=tf.float32)

    @tf.function
    def step(self, i_app):
        p = self.p

        def resting():
            self.t_rest.assign_sub(self.dt)
            return self.u.assign(p.u_rest)

        def firing():
            self.t_rest.assign(p.tau_rest)
            return self.u.assign(p.u_rest)

        def integrating():
            self.t_rest.assign(0.0)
            return self.u.assign_add(self.dt * (p.R * i_app - self.u) / p.tau_m)

        return tf.case([(self.t_rest > 0.0, resting), (self.u > p.u_thresh, firing)], default=integrating)


def run_article(current: np.ndarray) -> tuple[np.ndarray, float]:
    neuron = ArticleNeuron()
    neuron.step(tf.constant(0.0))  # trace and compile outside the timing
    neuron.u.assign(0.0)
    neuron.t_rest.assign(0.0)
    trace = np.empty(current.size, np.float32)
    start = time.perf_counter()
    for k, i_app in enumerate(current):
        trace[k] = neuron.step(tf.constant(i_app)).numpy()
    return trace, time.perf_counter() - start


def run_lifsim(steps: int, current_mA: float, jit_compile: bool = True):
    config = lifsim.RunConfig(model=PARAMS, stimuli=[lifsim.ConstantCurrent(current_mA)], duration_ms=steps * DT_MS,
                              dt_ms=DT_MS, engine="tensorflow", record=lifsim.Record(("u",)))
    result = lifsim.simulate(config, engine_options=(("jit_compile", jit_compile),))
    return result, result.timings["wall_s"] + result.timings["input_s"], result.timings["total_s"]


def firing_steps(trace: np.ndarray) -> np.ndarray:
    """Steps of firing in the article's convention: the step after u is shown above threshold."""
    return np.flatnonzero(trace[:-1] > PARAMS.u_thresh) + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--current", type=float, default=1.5, help="mA (default: %(default)s)")
    args = parser.parse_args()
    trace, article_s = run_article(np.full(args.steps, args.current, np.float32))
    result, lifsim_s, lifsim_total_s = run_lifsim(args.steps, args.current)
    lifsim_steps = np.rint(result.spike_times_ms / DT_MS).astype(np.int64)
    print(json.dumps({
        "steps": args.steps,
        "article_per_step_s": round(article_s, 4),
        "article_us_per_step": round(1e6 * article_s / args.steps, 2),
        "lifsim_tensorflow_s": round(lifsim_s, 5),
        "lifsim_tensorflow_total_s": round(lifsim_total_s, 4),
        "speedup": round(article_s / lifsim_s, 1),
        "speedup_including_compilation": round(article_s / lifsim_total_s, 1),
        "same_spikes": bool(np.array_equal(firing_steps(trace)[firing_steps(trace) < args.steps], lifsim_steps)),
        "spikes": int(lifsim_steps.size),
        "tensorflow": tf.__version__,
        "device": "gpu" if tf.config.list_physical_devices("GPU") else "cpu",
    }))


if __name__ == "__main__":
    main()
