"""The TensorFlow engine: the article's framework, with the whole time loop compiled.

One ``tf.function`` runs a whole chunk of steps in a ``tf.while_loop``, compiled with
XLA by default (``jit_compile``), on a GPU when TensorFlow sees one and on the CPU
otherwise. The state is carried in the loop; no Python runs per step. The update is
the rule of `lifsim.neuron.rule` bound to TensorFlow's ``where``/``maximum``, and the
input comes from lifsim's own generator, so the spikes equal the other engines'.

In a network, spikes are propagated inside the loop: every step gathers the spike flag
of each synapse's source and scatter-adds the weights of those that fired into the
pending input of the step their delay names. The synapses are listed by source, then
projection, then target, so each target's sum has the documented order; XLA's CPU
scatter adds in that order (a GPU's may not, so there the sums may differ in the last
bit and spikes rarely).

Options (``engine_options`` or the command line): ``device`` = ``"cpu"`` | ``"gpu"``
(default: the GPU if there is one), ``jit_compile`` = True | False (default True).
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import ParameterError
from ..neuron.rule import make_rules
from ..neuron.state import LIFState
from ..recording import ChunkRecording
from ..stimuli import InputChunk
from . import ChunkSpikes, EngineSetup
from .quiet_tensorflow import load

tf = load()

DEVICES = ("cpu", "gpu")
OPTIONS = ("device", "jit_compile")
_PACK_MAGIC = tf.constant(np.uint64(0x0102040810204080))
_PACK_SHIFT = tf.constant(np.uint64(56))
_BITS = {tf.float32: tf.int32, tf.float64: tf.int64}


def _rounded_by(mask):
    """``rounded`` for `lifsim.neuron.rule.make_rules` under XLA, which fuses ``a·b + c`` into
    one FMA (one rounding instead of numpy's two): the product passes through an integer
    XOR with ``mask``, a zero XLA only sees at run time, so it is rounded before the sum."""

    def rounded(x):
        bits = _BITS[x.dtype]
        return tf.bitcast(tf.bitwise.bitwise_xor(tf.bitcast(x, bits), tf.cast(mask, bits)), x.dtype)

    return rounded


def version() -> str:
    return tf.__version__


def devices() -> list[str]:
    return [f"{d.device_type.lower()}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()
            if d.device_type in ("CPU", "GPU")]


def check(threads, options) -> None:
    unknown = set(dict(options)) - set(OPTIONS)
    if unknown:
        raise ParameterError(f"engine option must be device or jit_compile (got {sorted(unknown)[0]!r})")
    _device_name(dict(options).get("device"))


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


def synapse_list(network, dtype) -> tuple[np.ndarray, ...]:
    """Every synapse as (source, target, weight, delay in steps), ordered by source, then
    projection, then position in its row: the order each target sums its input in."""
    sources, targets, weights, delays = [], [], [], []
    for p in range(network.source_lo.size):
        first = network.row_offset[p]
        rows = network.indptr[first:first + network.source_hi[p] - network.source_lo[p] + 1]
        synapses = np.arange(rows[0], rows[-1])
        sources.append(np.repeat(np.arange(network.source_lo[p], network.source_hi[p]), np.diff(rows)))
        targets.append(network.targets[synapses])
        weights.append(network.weights[network.weight_shift[p] + synapses] if network.weight_varies[p]
                       else np.full(synapses.size, network.weight_value[p], np.float32))
        delays.append(network.delays[network.delay_shift[p] + synapses].astype(np.int64) if network.delay_varies[p]
                      else np.full(synapses.size, network.delay_value[p], np.int64))
    order = np.argsort(np.concatenate(sources), kind="stable")
    return (np.concatenate(sources)[order].astype(np.int32), np.concatenate(targets)[order].astype(np.int32),
            np.concatenate(weights)[order].astype(dtype), np.concatenate(delays)[order])


class Runner:
    """Advances the neurons chunk by chunk, each chunk one compiled TensorFlow call.

    Every call has the same shapes (the last chunk is padded to the chunk length and
    runs fewer steps), so XLA compiles once per run, during start-up.
    """

    def __init__(self, setup: EngineSetup):
        check(setup.threads, setup.options)
        options = dict(setup.options)
        _set_threads(setup.threads)
        self.setup = setup
        self.device = _device_name(options.get("device"))
        self.jit_compile = bool(options.get("jit_compile", True))
        self.length = setup.chunk_steps
        self.max_samples = -(-self.length // setup.sample_every)
        self.network = setup.network is not None
        with tf.device(self.device):
            self.coefficients = type(setup.coefficients)(*(tf.constant(x) for x in setup.coefficients))
            self.receptors = tuple(tf.constant(x[:, None] if x.ndim == 1 else x)
                                   for x in (setup.receptors.decay, setup.receptors.s, setup.receptors.current))
            self.zero_mask = tf.constant(np.int32(0))
            synapses = synapse_list(setup.network, setup.dtype) if self.network else (
                np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, setup.dtype), np.zeros(0, np.int64))
            self.synapses = tuple(tf.constant(x) for x in synapses)
        self._warm_up()

    def _warm_up(self):
        """Compile for this run's shapes now: a call that runs no step."""
        setup, empty = self.setup, np.zeros(0, np.int64)
        state = LIFState.resting(setup.n_neurons, 0.0, setup.dtype, setup.n_receptors, setup.slots)
        rows = self.length if setup.time_varying else 1
        chunk = InputChunk(0, 0, np.zeros((rows, setup.n_neurons), setup.dtype), None)  # no events: zero injection
        neurons = np.zeros(setup.recorded_neurons, np.int64)
        out = {name: np.zeros((0, neurons.size), setup.dtype) for name in setup.recorded}
        self.advance(state, chunk, ChunkRecording(empty, neurons, out))

    def advance(self, state: LIFState, chunk, recording, progress=None) -> tuple[LIFState, ChunkSpikes]:
        """One chunk in one compiled call: ``progress`` is not called (the run reports
        between chunks)."""
        setup, steps, length = self.setup, chunk.steps, self.length
        sample_row = np.full(length, -1, np.int32)
        sample_row[recording.rows] = np.arange(recording.rows.size, dtype=np.int32)
        names = tuple(recording.out) if recording.neurons.size else ()
        current = _padded(chunk.current, length) if setup.time_varying else chunk.current
        n_targets = setup.n_receptors * setup.n_neurons
        injection = _padded(chunk.dense_injection(n_targets), length) if setup.synaptic \
            else np.zeros((0, 0), setup.dtype)
        pending = state.pending if self.network else np.zeros((1, 1), setup.dtype)
        run_chunk = _chunk_function(setup.method, setup.synaptic, self.network, names, setup.n_neurons,
                                    setup.n_receptors, self.jit_compile)
        with tf.device(self.device):
            u, ref, i_syn, pending, traces, packed = run_chunk(
                tf.constant(state.u), tf.constant(state.ref), tf.constant(state.i_syn), tf.constant(pending),
                tf.constant(current), tf.constant(injection), self.coefficients, self.receptors,
                tf.constant(np.int32(steps)), tf.constant(np.int64(chunk.k0)), tf.constant(sample_row),
                tf.constant(recording.neurons.astype(np.int32)), tf.constant(np.int32(self.max_samples)),
                self.zero_mask, self.synapses)
        for name, trace in zip(names, traces):
            recording.out[name][:] = trace.numpy()[:recording.rows.size]
        spikes = _unpack(packed.numpy()[:steps], chunk.k0)
        return LIFState(u.numpy(), ref.numpy(), i_syn.numpy(), pending.numpy() if self.network else None), spikes


def _padded(array: np.ndarray, length: int) -> np.ndarray:
    """``array`` with zero rows appended up to ``length`` rows."""
    if array.shape[0] == length:
        return array
    out = np.zeros((length,) + array.shape[1:], array.dtype)
    out[:array.shape[0]] = array
    return out


@functools.lru_cache(maxsize=64)
def _chunk_function(method: str, synaptic: bool, network: bool, names: tuple, n_neurons: int, n_receptors: int,
                    jit_compile: bool):
    """The compiled chunk loop for one static configuration, shared by every run that has it."""
    padded = -(-n_neurons // 8) * 8

    def pack(spiked):
        """Spike flags as bits, 8 neurons a byte (neuron 8w + j is bit j of byte w): a small
        fixed-size record per step. Eight 0/1 bytes read as one little-endian word, times
        _PACK_MAGIC, have their bits gathered in the top byte."""
        flags = tf.pad(tf.cast(spiked, tf.uint8), [[0, padded - n_neurons]])
        words = tf.bitcast(tf.reshape(flags, [-1, 8]), tf.uint64)
        return tf.cast(tf.bitwise.right_shift(words * _PACK_MAGIC, _PACK_SHIFT), tf.uint8)

    def run_chunk(u, ref, i_syn, pending, current, injection, coefficients, receptors, steps, k0, sample_row,
                  rec_neurons, n_samples, zero_mask, synapses):
        rules = make_rules(tf.where, tf.maximum, _rounded_by(zero_mask))
        rule = rules.article if method == "article" else rules.exact
        decay, s, is_current = receptors
        source, target, weight, delay = synapses
        slots = tf.cast(tf.shape(pending)[0], tf.int64)
        length = tf.shape(sample_row)[0]
        time_varying = tf.shape(current)[0] > 1
        zero = tf.zeros([], u.dtype)
        # one spare row at the end takes the writes of the steps that are not sampled
        traces = tuple(tf.TensorArray(u.dtype, size=n_samples + 1, element_shape=rec_neurons.shape) for _ in names)
        # unwritten rows (steps .. length-1 of a padded last chunk) stack as zeros: no spikes
        flags = tf.TensorArray(tf.uint8, size=length, element_shape=tf.TensorShape([padded // 8]))

        def body(k, u, ref, i_syn, pending, traces, flags):
            i_ext = current[tf.where(time_varying, k, 0)]
            step = k0 + tf.cast(k, tf.int64)
            drive = zero
            if synaptic:
                arrived = injection[k]
                if network:
                    slot = step % slots
                    arrived = arrived + pending[slot]
                    pending = tf.tensor_scatter_nd_update(pending, tf.reshape(slot, [1, 1]),
                                                          tf.zeros_like(pending[:1]))
                i_syn = rules.synapse(i_syn, tf.reshape(arrived, [n_receptors, n_neurons]), decay)
                drive = rules.drive(s[0], i_syn[0])
                for j in range(1, n_receptors):
                    drive = rules.add_drive(drive, s[j], i_syn[j])
            u, ref, spiked, u_shown = rule(u, ref, i_ext, drive, coefficients)
            if network:
                sent = tf.where(tf.gather(spiked, source), weight, tf.zeros_like(weight))
                where = tf.stack([(step + delay) % slots, tf.cast(target, tf.int64)], axis=1)
                pending = tf.tensor_scatter_nd_add(pending, where, sent)
            if names:
                summed = tf.where(is_current[0] != 0, i_syn[0], zero)
                for j in range(1, n_receptors):
                    summed = rules.rounded(summed + tf.where(is_current[j] != 0, i_syn[j], zero))
                values = {"u": u_shown, "i_syn": summed, "i_in": i_ext + summed}
                row = sample_row[k]
                traces = _write_sample(traces, tf.where(row >= 0, row, n_samples), rec_neurons, names, values)
            return k + 1, u, ref, i_syn, pending, traces, flags.write(k, pack(spiked))

        _, u, ref, i_syn, pending, traces, flags = tf.while_loop(
            lambda k, *rest: k < steps, body, (tf.constant(0), u, ref, i_syn, pending, traces, flags))
        return u, ref, i_syn, pending, tuple(trace.stack() for trace in traces), flags.stack()

    return tf.function(run_chunk, jit_compile=jit_compile, autograph=False, reduce_retracing=True)


def _write_sample(traces, row, rec_neurons, names, values):
    return tuple(trace.write(row, tf.gather(values[name], rec_neurons)) for trace, name in zip(traces, names))


def _unpack(packed: np.ndarray, k0: int) -> ChunkSpikes:
    """(step, neuron) of every set bit, in canonical order (by step, then neuron).

    Rows are made whole 64-bit words, the nonzero words are found first; then each word
    gives up its set bits lowest first, each written straight to its place in the output
    (the word's offset from a running popcount, plus the bit's rank in the word).
    """
    if packed.shape[1] % 8:  # whole 64-bit words per row
        packed = np.pad(packed, ((0, 0), (0, 8 - packed.shape[1] % 8)))
    words = packed.view(np.uint64)
    bits_per_row = 64 * words.shape[1]
    where = np.flatnonzero(words)
    remaining = words.ravel()[where]
    counts = np.bitwise_count(remaining).astype(np.int64)
    slot = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), np.int64)
    rank = 0
    while remaining.size:
        lowest = remaining & (~remaining + np.uint64(1))
        out[slot + rank] = where * 64 + np.log2(lowest.astype(np.float64)).astype(np.int64)
        remaining = remaining ^ lowest
        keep = remaining != 0
        remaining, where, slot = remaining[keep], where[keep], slot[keep]
        rank += 1
    step, neuron = np.divmod(out, bits_per_row)
    return ChunkSpikes(step + k0, neuron.astype(np.int32))


def start(setup: EngineSetup) -> Runner:
    return Runner(setup)
