"""The TensorFlow engine: the article's framework, with the whole time loop compiled.

One ``tf.function`` runs a whole chunk of steps in a ``tf.while_loop``, compiled with
XLA by default (``jit_compile``), on a GPU when TensorFlow sees one and on the CPU
otherwise. The state is carried in the loop; no Python runs per step. The update is
the rule of :mod:`lifsim.model` bound to TensorFlow's ``where``/``maximum``, and the
input comes from lifsim's own generator, so the spikes equal the other engines'.

Options (``engine_options`` or the command line): ``device`` = ``"cpu"`` | ``"gpu"``
(default: the GPU if there is one), ``jit_compile`` = True | False (default True).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ..errors import ParameterError
from ..model import make_rules, synapse_step
from ..state import LIFState
from . import ChunkSpikes, EngineSetup

NAME = "tensorflow"
DEVICES = ("cpu", "gpu")
_BIT_VALUES = tf.constant([1, 2, 4, 8, 16, 32, 64, 128], tf.int32)

_RULES = dict(zip(("article", "exact"), make_rules(tf.where, tf.maximum)))


def version() -> str:
    return tf.__version__


def devices() -> list[str]:
    return [f"{d.device_type.lower()}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()
            if d.device_type in ("CPU", "GPU")]


def _device_name(requested: str | None) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if requested is None:
        return "/GPU:0" if gpus else "/CPU:0"
    if requested not in DEVICES:
        raise ParameterError(f"device must be one of {', '.join(DEVICES)} (got {requested!r})")
    if requested == "gpu" and not gpus:
        raise ParameterError("device gpu: TensorFlow sees no GPU here; use --device cpu")
    return "/GPU:0" if requested == "gpu" else "/CPU:0"


def _set_threads(threads: int | None) -> None:
    """TensorFlow's thread pools are fixed once it has run: set them if still possible."""
    if threads is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process; the earlier setting stays


class Runner:
    """Advances a population chunk by chunk, each chunk one compiled TensorFlow call."""

    def __init__(self, setup: EngineSetup):
        options = dict(setup.options)
        unknown = set(options) - {"device", "jit_compile"}
        if unknown:
            raise ParameterError(f"engine option must be device or jit_compile (got {sorted(unknown)[0]!r})")
        _set_threads(setup.threads)
        self.setup = setup
        self.device = _device_name(options.get("device"))
        self.jit_compile = bool(options.get("jit_compile", True))
        self.dtype = tf.as_dtype(setup.dtype)
        self.padded = -(-setup.n_neurons // 8) * 8
        with tf.device(self.device):
            self.coefficients = type(setup.coefficients)(*(tf.constant(x) for x in setup.coefficients))
            self.decay = tf.constant(setup.decay)
        self.rule = _RULES[setup.method]
        self.chunk_fn = tf.function(self._chunk, jit_compile=self.jit_compile, autograph=False)

    def advance(self, state: LIFState, chunk, recording) -> tuple[LIFState, ChunkSpikes]:
        setup, steps = self.setup, chunk.steps
        sample_row = np.full(steps, -1, np.int32)
        sample_row[recording.rows] = np.arange(recording.rows.size, dtype=np.int32)
        injection = chunk.dense_injection(setup.n_neurons) if setup.synaptic else np.zeros((0, 0), setup.dtype)
        with tf.device(self.device):
            u, ref, i_syn, traces, packed = self.chunk_fn(
                tf.constant(state.u), tf.constant(state.ref), tf.constant(state.i_syn), tf.constant(chunk.current),
                tf.constant(injection), tf.constant(sample_row), tf.constant(recording.neurons.astype(np.int32)),
                tf.constant(np.int32(recording.rows.size)))
        for name, trace in zip(("u", "i_syn", "i_in"), traces):
            if name in recording.out:
                recording.out[name][:] = trace.numpy()
        spikes = _unpack(packed.numpy(), chunk.k0, setup.n_neurons)
        return LIFState(u.numpy(), ref.numpy(), i_syn.numpy()), spikes

    def _chunk(self, u, ref, i_syn, current, injection, sample_row, rec_neurons, n_samples):
        steps = tf.shape(sample_row)[0]
        time_varying = tf.shape(current)[0] > 1
        traces = tuple(tf.zeros(tf.stack([n_samples, tf.size(rec_neurons)]), self.dtype) for _ in range(3))
        flags = tf.TensorArray(tf.uint8, size=steps, element_shape=tf.TensorShape([self.padded // 8]))

        def body(k, u, ref, i_syn, traces, flags):
            i_ext = current[tf.where(time_varying, k, 0)]
            if self.setup.synaptic:
                i_syn = synapse_step(i_syn, injection[k], self.decay)
            u, ref, spiked, u_shown = self.rule(u, ref, i_ext, i_syn, self.coefficients)
            row = sample_row[k]
            traces = tf.cond(row >= 0, lambda: _write_sample(traces, row, rec_neurons, u_shown, i_syn, i_ext),
                             lambda: traces)
            return k + 1, u, ref, i_syn, traces, flags.write(k, self._pack(spiked))

        _, u, ref, i_syn, traces, flags = tf.while_loop(
            lambda k, *rest: k < steps, body, (tf.constant(0), u, ref, i_syn, traces, flags))
        return u, ref, i_syn, traces, flags.stack()

    def _pack(self, spiked):
        """Spike flags as bits, 8 neurons a byte: a small fixed-size record per step."""
        bits = tf.pad(tf.cast(spiked, tf.int32), [[0, self.padded - self.setup.n_neurons]])
        return tf.cast(tf.reduce_sum(tf.reshape(bits, [-1, 8]) * _BIT_VALUES, axis=1), tf.uint8)


def _write_sample(traces, row, rec_neurons, u_shown, i_syn, i_ext):
    values = (u_shown, i_syn, i_ext + i_syn)
    return tuple(tf.tensor_scatter_nd_update(trace, [[row]], [tf.gather(value, rec_neurons)])
                 for trace, value in zip(traces, values))


def _unpack(packed: np.ndarray, k0: int, n_neurons: int) -> ChunkSpikes:
    """(step, neuron) of every set bit, in canonical order (by step, then neuron)."""
    flat = np.flatnonzero(packed)
    step, byte = np.divmod(flat, packed.shape[1])
    bits = np.unpackbits(packed.ravel()[flat][:, None], axis=1, bitorder="little")
    which, bit = np.nonzero(bits)
    return ChunkSpikes((step[which] + k0).astype(np.int64), (byte[which] * 8 + bit).astype(np.int32))


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
