"""Projections: synapses from a source population to a receptor of a target population.

A projection says how to connect (its rule), with what weights (in the receptor's unit:
mA for an exponential receptor, mV for a delta one) and after what delay (ms, rounded
to whole steps, at least one). `lifsim.network.connect` builds it; everything is checked
here first, so that nothing is drawn for a projection that cannot be built.

Rules (each pair of neurons counts its source in the source population and its target
in the target population, from 0):

- ``all_to_all``: every source to every target;
- ``one_to_one``: source i to target i (populations of equal size);
- ``fixed_probability``: each pair independently with probability ``p``;
- ``fixed_indegree``: each target receives ``k`` sources drawn uniformly;
- ``fixed_outdegree``: each source sends to ``k`` targets drawn uniformly;
- ``explicit``: the pairs ``(pre[j], post[j])``, with per-synapse weights and delays if given.

``autapses``: a neuron may connect to itself (within one population); ``multapses``:
a pair may be connected more than once (fixed in/out-degree draws with replacement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..distributions import Normal, Uniform, is_distribution
from ..errors import ParameterError, require_finite, require_int, require_range
from ..timegrid import whole_steps

CONNECTION_RULES = ("all_to_all", "one_to_one", "fixed_probability", "fixed_indegree", "fixed_outdegree",
                    "explicit")
#: Which rule takes which of the keys ``p``, ``k``, ``pre``, ``post``.
RULE_KEYS = {"fixed_probability": ("p",), "fixed_indegree": ("k",), "fixed_outdegree": ("k",),
             "explicit": ("pre", "post")}
#: Delays are stored as int16 numbers of steps.
MAX_DELAY_STEPS = 2**15 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Projection:
    """Synapses from population ``source`` to a receptor of population ``target``.

    Attributes:
        source, target: population names (may be the same population).
        rule: one of ``CONNECTION_RULES``.
        receptor: the target's receptor they reach (None: its first).
        p: connection probability, [0, 1] (``fixed_probability``).
        k: in-degree or out-degree (``fixed_indegree``, ``fixed_outdegree``).
        pre, post: source and target indices of each synapse (``explicit``).
        weight: jump per spike in the receptor's unit (mA or mV): a number, a distribution
            (`lifsim.Normal`, `lifsim.Uniform`) drawn per synapse, or one value per synapse
            (``explicit``). Stored as float32.
        delay_ms: transmission delay, ms, rounded to whole steps (halves up), at least one
            step: a number, `lifsim.Uniform` drawn per synapse, or one value per synapse
            (``explicit``); None is one step.
        autapses: whether a neuron may connect to itself (same population only).
        multapses: whether a pair may be connected more than once.
    """

    source: str
    target: str
    rule: str = "all_to_all"
    receptor: str | None = None
    p: float | None = None
    k: int | None = None
    pre: object = None
    post: object = None
    weight: object = 1.0
    delay_ms: object = None
    autapses: bool = True
    multapses: bool = True

    def validate(self, name: str, layout, dt_ms: float) -> None:
        """Refuse anything that cannot be built in ``layout`` at step ``dt_ms``, naming the key."""
        source, target = _population(layout, name, "source", self.source), _population(layout, name, "target",
                                                                                        self.target)
        try:
            target.receptor(self.receptor)
        except ParameterError as error:
            raise ParameterError(f"{name}.receptor: {error}") from None
        if not isinstance(self.rule, str) or self.rule not in CONNECTION_RULES:
            raise ParameterError(f"{name}.rule must be one of {', '.join(CONNECTION_RULES)} (got {self.rule!r})")
        for key in ("autapses", "multapses"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise ParameterError(f"{name}.{key} must be true or false (got {getattr(self, key)!r})")
        for key in ("p", "k", "pre", "post"):
            if getattr(self, key) is not None and key not in RULE_KEYS.get(self.rule, ()):
                raise ParameterError(f"{name}.{key} does not apply to rule {self.rule!r}")
            if getattr(self, key) is None and key in RULE_KEYS.get(self.rule, ()):
                raise ParameterError(f"{name}.{key} is needed by rule {self.rule!r}")
        same = self.source == self.target
        self._check_rule(name, source.size, target.size, same)
        self._check_weight(name)
        self._check_delay(name, dt_ms)

    def _check_rule(self, name, n_source, n_target, same):
        exclude = same and not self.autapses
        if self.rule == "one_to_one":
            if n_source != n_target:
                raise ParameterError(f"{name}: one_to_one needs populations of equal size "
                                     f"(got {n_source} and {n_target})")
            if exclude:
                raise ParameterError(f"{name}: one_to_one within one population connects each neuron to itself; "
                                     "set autapses = true")
        elif self.rule == "fixed_probability":
            _require_number(f"{name}.p", self.p)
            require_range(f"{name}.p", self.p, low=0.0, high=1.0)
        elif self.rule in ("fixed_indegree", "fixed_outdegree"):
            pool = (n_source if self.rule == "fixed_indegree" else n_target) - exclude
            require_int(f"{name}.k", self.k, low=0, high=pool)
        elif self.rule == "explicit":
            self._check_explicit(name, n_source, n_target, exclude)

    def _check_explicit(self, name, n_source, n_target, exclude):
        pre, post = (_indices(f"{name}.{key}", getattr(self, key), n) for key, n in
                     (("pre", n_source), ("post", n_target)))
        if pre.shape != post.shape:
            raise ParameterError(f"{name}.pre and {name}.post must have the same length (got {pre.size} "
                                 f"and {post.size})")
        if exclude and np.any(pre == post):
            at = int(np.flatnonzero(pre == post)[0])
            raise ParameterError(f"{name}: synapse {at} connects neuron {int(pre[at])} to itself; "
                                 "set autapses = true or remove it")
        if not self.multapses and pre.size:
            pair = np.unique(pre.astype(np.int64) * n_target + post, return_counts=True)
            if np.any(pair[1] > 1):
                first = int(pair[0][np.argmax(pair[1] > 1)])
                raise ParameterError(f"{name}: the pair ({first // n_target}, {first % n_target}) appears more "
                                     "than once; set multapses = true or remove the copies")
        for key in ("weight", "delay_ms"):
            value = getattr(self, key)
            if _is_array(value) and np.shape(value) != pre.shape:
                raise ParameterError(f"{name}.{key} must be a number or have one value per synapse "
                                     f"({pre.size}); got shape {np.shape(value)}")

    def _check_weight(self, name):
        weight = self.weight
        if is_distribution(weight):
            low, high = weight.low_high()
            if max(abs(low), abs(high)) > FLOAT32_MAX and not isinstance(weight, Normal):
                raise ParameterError(f"{name}.weight must stay within float32 (got {weight})")
            return
        if _is_array(weight) and self.rule != "explicit":
            raise ParameterError(f"{name}.weight: one value per synapse needs rule 'explicit'; use a number "
                                 "or a distribution")
        if not _is_array(weight):
            _require_number(f"{name}.weight", weight)
        elif not all(_is_number(w) for w in np.ravel(np.asarray(weight, dtype=object))):
            raise ParameterError(f"{name}.weight must hold numbers only")
        require_range(f"{name}.weight", np.asarray(weight, dtype=float), low=-FLOAT32_MAX, high=FLOAT32_MAX)

    def _check_delay(self, name, dt_ms):
        delay = self.delay_ms
        if delay is None:
            return
        if isinstance(delay, Normal):
            raise ParameterError(f"{name}.delay_ms: draw delays from a uniform distribution (a normal one "
                                 "reaches below one step)")
        if _is_array(delay) and self.rule != "explicit":
            raise ParameterError(f"{name}.delay_ms: one value per synapse needs rule 'explicit'; use a number "
                                 "or a uniform distribution")
        if not (isinstance(delay, Uniform) or _is_number(delay) or (
                _is_array(delay) and all(_is_number(d) for d in np.ravel(np.asarray(delay, dtype=object))))):
            raise ParameterError(f"{name}.delay_ms must be a number of ms, a uniform distribution or one value "
                                 f"per synapse (got {delay!r})")
        values = np.asarray(delay.low_high() if isinstance(delay, Uniform) else delay, dtype=float)
        require_finite(f"{name}.delay_ms", values)
        steps = delay_steps(values, dt_ms)
        if np.any(steps < 1) or np.any(steps > MAX_DELAY_STEPS):
            raise ParameterError(f"{name}.delay_ms must round to 1 to {MAX_DELAY_STEPS} steps: in "
                                 f"[{0.5 * dt_ms:g}, {(MAX_DELAY_STEPS + 0.5) * dt_ms:g}) ms at dt = {dt_ms:g} ms "
                                 f"(got {float(values.min() if np.any(steps < 1) else values.max()):g} ms)")

    def delay_range(self, dt_ms: float) -> tuple[int, int]:
        """The smallest and largest delay of its synapses, in steps (checked values)."""
        if self.delay_ms is None:
            return 1, 1
        values = self.delay_ms.low_high() if isinstance(self.delay_ms, Uniform) else self.delay_ms
        steps = delay_steps(np.asarray(values, dtype=float), dt_ms)
        if steps.size == 0:  # explicit synapses, none of them
            return 1, 1
        return int(np.min(steps)), int(np.max(steps))

    def expected_synapses(self, n_source: int, n_target: int) -> tuple[float, float]:
        """The expected number of synapses, and a bound it exceeds with negligible probability."""
        exclude = self.source == self.target and not self.autapses
        if self.rule == "all_to_all":
            n = n_source * n_target - (n_source if exclude else 0)
            return n, n
        if self.rule == "one_to_one":
            return n_source, n_source
        if self.rule == "fixed_probability":
            pairs = n_source * (n_target - exclude)
            mean = pairs * self.p
            return mean, mean + 8.0 * math.sqrt(mean * (1.0 - self.p)) + 16.0
        if self.rule == "fixed_indegree":
            return n_target * self.k, n_target * self.k
        if self.rule == "fixed_outdegree":
            return n_source * self.k, n_source * self.k
        return np.size(self.pre), np.size(self.pre)

    def bytes_per_synapse(self) -> int:
        """Stored bytes per synapse: its target (int32), plus its weight (float32) and delay
        (int16) when they differ between synapses."""
        varies = lambda value: is_distribution(value) or _is_array(value)  # noqa: E731
        return 4 + 4 * varies(self.weight) + 2 * varies(self.delay_ms)


def delay_steps(delay_ms, dt_ms: float) -> np.ndarray:
    """Delays (ms) in whole steps, halves up (`lifsim.timegrid.whole_steps`)."""
    return whole_steps(delay_ms, dt_ms)


def _population(layout, name, key, value):
    try:
        return layout.population(value)
    except ParameterError as error:
        raise ParameterError(f"{name}.{key}: {error}") from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _require_number(name: str, value) -> None:
    if not _is_number(value):
        raise ParameterError(f"{name} must be a number (got {value!r})")


def _is_array(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _indices(name: str, value, size: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.number)) \
            or not np.all(np.isfinite(array.astype(float))) \
            or not np.array_equal(array.astype(float), np.rint(array.astype(float))):
        raise ParameterError(f"{name} must be a list of whole neuron indices")
    require_range(name, array, low=0, high=size - 1)
    return array.astype(np.int64)
