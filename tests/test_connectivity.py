"""Connectivity: every rule's law, compact storage, seeds, and refusals before any work."""

import numpy as np
import pytest
from scipy import stats

import lifsim
from lifsim import Normal, Population, Projection, Receptor, Uniform
from lifsim.network.connect import build
from lifsim.network.population import Layout

LAYOUT = Layout((Population("A", 300), Population("B", 200, receptors=(Receptor("syn"), Receptor("d", "delta")))))


def pairs(projection, seed=0, layout=LAYOUT, dt=0.1):
    """(pre, post, weight, delay steps) of one projection, in local indices, in stored order."""
    t = build((projection,), layout, dt, seed).tables
    n_source = layout.population(projection.source).size
    rows = t.indptr[:n_source + 1]
    pre = np.repeat(np.arange(n_source), np.diff(rows))
    target_lo = layout.span(projection.target)[0]
    post = t.targets % layout.n_neurons - target_lo
    weight = t.weights if t.weight_varies[0] else np.full(post.size, t.weight_value[0])
    delay = t.delays if t.delay_varies[0] else np.full(post.size, t.delay_value[0])
    return pre, post, weight, delay, t


def test_all_to_all_and_one_to_one():
    pre, post, *_ = pairs(Projection("A", "B"))
    assert pre.size == 300 * 200 and np.unique(pre * 200 + post).size == 300 * 200
    pre, post, *_ = pairs(Projection("A", "A", autapses=False))
    assert pre.size == 300 * 299 and not np.any(pre == post)
    pre, post, *_ = pairs(Projection("B", "B", "one_to_one"))
    np.testing.assert_array_equal(pre, post)


def test_fixed_probability_is_a_bernoulli_draw_per_pair():
    sizes = []
    for seed in range(20):
        pre, post, *_ = pairs(Projection("A", "A", "fixed_probability", p=0.05, autapses=False), seed)
        assert np.unique(pre * 300 + post).size == pre.size  # never twice the same pair
        assert not np.any(pre == post)
        sizes.append(pre.size)
    n = 300 * 299
    assert abs(np.mean(sizes) - n * 0.05) < 4 * np.sqrt(n * 0.05 * 0.95 / 20)
    out_degree = np.bincount(pre, minlength=300)  # Binomial(299, 0.05) per source
    assert stats.kstest(out_degree, stats.binom(299, 0.05).cdf).pvalue > 1e-3 or out_degree.var() > 0
    pre, post, *_ = pairs(Projection("A", "B", "fixed_probability", p=0.9))  # dense rows: drawn as complements
    assert abs(pre.size - 0.9 * 300 * 200) < 5 * np.sqrt(300 * 200 * 0.09)
    assert np.unique(pre * 200 + post).size == pre.size


@pytest.mark.parametrize("multapses", [True, False])
def test_fixed_indegree(multapses):
    pre, post, *_ = pairs(Projection("A", "A", "fixed_indegree", k=40, autapses=False, multapses=multapses))
    np.testing.assert_array_equal(np.bincount(post, minlength=300), 40)
    assert not np.any(pre == post)
    unique = np.unique(post * 300 + pre).size
    assert (unique == pre.size) != multapses or (multapses and unique < pre.size)
    counts = np.bincount(pre, minlength=300)  # sources uniform: each ~ 40·300/299
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fixed_outdegree_and_sorted_rows():
    pre, post, _, _, t = pairs(Projection("A", "B", "fixed_outdegree", k=150, multapses=False))
    np.testing.assert_array_equal(np.bincount(pre, minlength=300), 150)
    assert np.unique(pre * 200 + post).size == pre.size  # k > 200/2: drawn as complements
    for row in range(300):  # targets ascend within each row (delivery splits rows by target)
        assert np.all(np.diff(t.targets[t.indptr[row]:t.indptr[row + 1]]) >= 0)


def test_explicit_pairs_keep_their_weights_and_delays():
    proj = Projection("A", "B", "explicit", "d", pre=[5, 1, 5, 0], post=[3, 7, 2, 9], weight=[0.5, 1.5, 2.5, 3.5],
                      delay_ms=[0.1, 0.25, 1.0, 0.35])
    pre, post, weight, delay, t = pairs(proj)
    np.testing.assert_array_equal(pre, [0, 1, 5, 5])
    np.testing.assert_array_equal(post, [9, 7, 2, 3])
    np.testing.assert_array_equal(weight, np.float32([3.5, 1.5, 2.5, 0.5]))
    np.testing.assert_array_equal(delay, [4, 3, 10, 1])  # ms to steps, halves up
    assert np.all(t.targets // LAYOUT.n_neurons == 1)  # receptor slot d


def test_compact_storage_and_distributions():
    pre, post, weight, delay, t = pairs(Projection("A", "B", "fixed_indegree", k=50, weight=Normal(1.0, 0.2),
                                                   delay_ms=Uniform(0.5, 2.0)))
    assert t.targets.dtype == np.uint32 and t.weights.dtype == np.float32 and t.delays.dtype == np.int16
    assert abs(weight.mean() - 1.0) < 0.01 and abs(weight.std() - 0.2) < 0.01
    assert delay.min() >= 5 and delay.max() <= 20
    _, _, _, _, constant = pairs(Projection("A", "B", "fixed_indegree", k=50, weight=0.3, delay_ms=1.0))
    assert constant.weights.size == 0 and constant.delays.size == 0  # one value for the whole projection
    assert constant.targets.nbytes == 4 * 200 * 50


def test_projections_draw_from_their_own_streams():
    first = Projection("A", "B", "fixed_probability", p=0.1)
    alone = build((first,), LAYOUT, 0.1, 7).tables
    beside = build((first, Projection("B", "A", "fixed_indegree", k=5)), LAYOUT, 0.1, 7).tables
    n = alone.targets.size
    np.testing.assert_array_equal(beside.targets[:n], alone.targets)
    other = build((first,), LAYOUT, 0.1, 8).tables
    assert not np.array_equal(other.targets[:min(n, other.targets.size)], alone.targets[:min(n, other.targets.size)])


def test_building_a_large_network_is_vectorised():
    big = Layout((Population("E", 100_000),))
    net = build((Projection("E", "E", "fixed_indegree", k=100),), big, 0.1, 0)  # 10^7 synapses
    assert net.n_synapses == 10**7 and net.nbytes() < 10**7 * 5


def network(projections, **changes):
    settings = dict(populations=(Population("A", 10), Population("B", 5, receptors=(Receptor("d", "delta"),))),
                    projections=projections, duration_ms=5.0, dt_ms=0.1)
    settings.update(changes)
    return lifsim.RunConfig(**settings)


@pytest.mark.parametrize("projection, message", [
    (Projection("A", "C"), r"projection\[0\].target: population must be one of A, B \(got 'C'\)"),
    (Projection("X", "B"), r"projection\[0\].source: population must be one of"),
    (Projection("A", "B", receptor="nmda"), r"projection\[0\].receptor: population B has no receptor 'nmda'"),
    (Projection("A", "B", delay_ms=0.04), r"projection\[0\].delay_ms must round to 1 to 32767 steps"),
    (Projection("A", "B", delay_ms=-1.0), r"projection\[0\].delay_ms must round to 1"),
    (Projection("A", "B", delay_ms=Uniform(0.0, 1.0)), r"projection\[0\].delay_ms must round to 1"),
    (Projection("A", "B", delay_ms=Normal(1.0, 0.1)), r"projection\[0\].delay_ms: draw delays from a uniform"),
    (Projection("A", "B", "fixed_probability", p=1.5), r"projection\[0\].p must be in \[0, 1\]"),
    (Projection("A", "B", "fixed_probability", p=float("nan")), r"projection\[0\].p must be a finite number"),
    (Projection("A", "B", "fixed_probability"), r"projection\[0\].p is needed by rule 'fixed_probability'"),
    (Projection("A", "B", "all_to_all", p=0.5), r"projection\[0\].p does not apply to rule 'all_to_all'"),
    (Projection("A", "B", "fixed_indegree", k=11), r"projection\[0\].k must be a whole number in \[0, 10\]"),
    (Projection("A", "A", "fixed_indegree", k=10, autapses=False), r"projection\[0\].k must be a whole number in "
                                                                    r"\[0, 9\]"),
    (Projection("A", "B", "fixed_outdegree", k=2.5), r"projection\[0\].k must be a whole number"),
    (Projection("A", "B", "one_to_one"), r"one_to_one needs populations of equal size \(got 10 and 5\)"),
    (Projection("A", "B", "explicit", pre=[0, 10], post=[0, 1]), r"projection\[0\].pre must be in \[0, 9\]"),
    (Projection("A", "B", "explicit", pre=[0, 1], post=[0]), r"pre and projection\[0\].post must have the same"),
    (Projection("A", "B", "explicit", pre=[0, 1], post=[0, 1], weight=[1.0]),
     r"projection\[0\].weight must be a number or have one value per synapse \(2\)"),
    (Projection("A", "A", "explicit", pre=[3], post=[3], autapses=False), r"connects neuron 3 to itself"),
    (Projection("A", "B", "explicit", pre=[3, 3], post=[1, 1], multapses=False), r"the pair \(3, 1\) appears more"),
    (Projection("A", "B", "explicit", pre=[0.5], post=[1]), r"projection\[0\].pre must be a list of whole"),
    (Projection("A", "B", "fixed_indegree", k=2, weight=[1.0, 2.0]), r"one value per synapse needs rule 'explicit'"),
    (Projection("A", "B", weight="heavy"), r"projection\[0\].weight must be a number"),
    (Projection("A", "B", weight=1e39), r"projection\[0\].weight must be in"),
    (Projection("A", "B", rule="small_world"), r"projection\[0\].rule must be one of all_to_all"),
])
def test_bad_projections_are_refused_by_name(projection, message):
    with pytest.raises(lifsim.ParameterError, match=message):
        network((projection,))


def test_other_refusals():
    with pytest.raises(lifsim.ParameterError, match="projections need populations"):
        lifsim.RunConfig(projections=(Projection("A", "B"),))
    with pytest.raises(lifsim.ParameterError, match="populations must have distinct names"):
        network((), populations=(Population("A", 2), Population("A", 3)))
    with pytest.raises(lifsim.ParameterError, match="a network takes a model per population"):
        network((), model=lifsim.LIFParams(tau_m=5.0))
    with pytest.raises(lifsim.ParameterError, match=r"stimulus\[0\].population: population must be one of"):
        network((), stimuli=(lifsim.ConstantCurrent(1.0, population="Z"),))
    with pytest.raises(lifsim.ParameterError, match=r"stimulus\[0\].receptor: population A has no receptor 'd'"):
        network((), stimuli=(lifsim.PoissonInput(100.0, 1.0, receptor="d"),))  # every population: A lacks it
    with pytest.raises(lifsim.ParameterError, match=r"population A.model.tau_m must be a scalar or have one value"):
        Population("A", 3, lifsim.LIFParams(tau_m=[1.0, 2.0]))
    with pytest.raises(lifsim.ParameterError, match="population name must be 1 to 64 letters"):
        Population("../x", 3)
    with pytest.raises(lifsim.ParameterError, match="receptor d.tau_ms: a delta receptor has no time constant"):
        Receptor("d", "delta", 5.0)


def test_a_network_that_does_not_fit_is_refused_before_building(monkeypatch):
    from lifsim.network import connect

    def fail(*args, **kwargs):
        raise AssertionError("building started")

    monkeypatch.setattr(connect, "build", fail)
    huge = lifsim.RunConfig(populations=(Population("E", 1_000_000),),
                            projections=(Projection("E", "E", "fixed_indegree", k=1000, weight=Normal(1.0, 0.1)),),
                            duration_ms=1.0, dt_ms=0.1, record=lifsim.Record(neurons="none"))
    with pytest.raises(lifsim.ParameterError, match=r"memory: .*connectivity"):
        lifsim.simulate(huge, memory_limit=2**30)
