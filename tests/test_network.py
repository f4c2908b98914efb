"""Networks: populations, receptors, projections with delays, on every engine."""

import numpy as np
import pytest

import lifsim
from lifsim import Normal, Population, Projection, Receptor, Uniform
from lifsim.engines import engine_names, load_engine

ENGINES = []
for _name in engine_names():
    try:
        load_engine(_name)
        ENGINES.append(_name)
    except lifsim.ParameterError:
        pass

# delta-receptor neurons (tau_m 10 ms, threshold 20 mV, refractory 2 ms) and one with an exponential receptor
DELTA = lifsim.LIFParams(tau_m=10.0, u_thresh=20.0, tau_rest=2.0)


def hand_network(engine, threads=None):
    """Neuron 0 of A is kicked over threshold at t = 1 ms (step 10; method exact: spike at 1.1 ms).
    Its spike reaches B (delta, 5 mV after 0.5 ms), C (exponential, 1 mA after 0.2 ms) and
    D (delta, refractory from its own spike at step 10, so the jump is discarded)."""
    pops = (Population("A", 1, DELTA, (Receptor("d", "delta"),)),
            Population("B", 1, DELTA, (Receptor("d", "delta"),)),
            Population("C", 1, DELTA, (Receptor("x", "exponential", 2.0),)),
            Population("D", 1, DELTA, (Receptor("d", "delta"),)))
    projections = (Projection("A", "B", "one_to_one", weight=5.0, delay_ms=0.5),
                   Projection("A", "C", "one_to_one", weight=1.0, delay_ms=0.2),
                   Projection("A", "D", "explicit", pre=[0, 0], post=[0, 0], weight=[7.0, 3.0], delay_ms=[0.5, 3.5]))
    kicks = (lifsim.SpikeTimes([1.0], weight=1000.0, q=1.0, population="A"),
             lifsim.SpikeTimes([1.0], weight=1000.0, q=1.0, population="D"))
    return lifsim.RunConfig(populations=pops, projections=projections, stimuli=kicks, duration_ms=6.0, dt_ms=0.1,
                            method="exact", precision="float64", engine=engine, threads=threads,
                            record=lifsim.Record(("u", "i_syn"), neurons="all"))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_computed_event_sequence(engine):
    result = lifsim.simulate(hand_network(engine))
    u, i_syn = result.traces["u"], result.traces["i_syn"]
    a = np.exp(-0.1 / 10.0)
    # A and D spike at the end of step 10 (1.1 ms); nothing else spikes
    np.testing.assert_allclose(result.spike_times_ms, [1.1, 1.1])
    np.testing.assert_array_equal(result.spike_neurons, [0, 3])
    # B: the 5 mV jump arrives in step 15 (u shown at the start of step 16), then leaks
    np.testing.assert_array_equal(u[:16, 1], 0.0)
    assert u[16, 1] == 5.0 and u[17, 1] == pytest.approx(5.0 * a, rel=1e-15)
    # C: the exponential receptor jumps by 1 mA in step 12, then decays with tau 2 ms; u follows
    np.testing.assert_array_equal(i_syn[:12, 2], 0.0)
    assert i_syn[12, 2] == 1.0 and i_syn[13, 2] == pytest.approx(np.exp(-0.05), rel=1e-15)
    assert u[12, 2] == 0.0 and u[13, 2] > 0.0
    # D: refractory for steps 11..30 (2 ms): the 7 mV jump of step 15 is lost, the 3 mV one of step 45 is not
    np.testing.assert_array_equal(u[11:46, 3], 0.0)
    assert u[46, 3] == 3.0
    # the exponential receptor is recorded as i_syn, a delta one is not
    np.testing.assert_array_equal(i_syn[:, [0, 1, 3]], 0.0)


def test_refractory_neuron_keeps_exponential_input_for_later():
    pops = (Population("A", 1, DELTA, (Receptor("d", "delta"),)),
            Population("C", 1, DELTA, (Receptor("x", "exponential", 5.0), Receptor("kick", "delta"))))
    config = lifsim.RunConfig(
        populations=pops, projections=(Projection("A", "C", "one_to_one", receptor="x", weight=3.0, delay_ms=0.2),),
        stimuli=(lifsim.SpikeTimes([1.0], weight=1000.0, q=1.0, population="A"),
                 lifsim.SpikeTimes([1.0], weight=1000.0, q=1.0, population="C", receptor="kick")),
        duration_ms=5.0, dt_ms=0.1, method="exact", precision="float64", engine="numpy",
        record=lifsim.Record(("u", "i_syn"), neurons=[1]))
    result = lifsim.simulate(config)
    u, i_syn = result.traces["u"][:, 0], result.traces["i_syn"][:, 0]
    assert i_syn[12] == 3.0  # arrives while C is refractory (steps 11..30)...
    np.testing.assert_array_equal(u[11:31], 0.0)
    assert u[32] > 0.0  # ...and drives u once C integrates again


@pytest.mark.parametrize("method", ["article", "exact"])
def test_a_charge_on_a_delta_receptor_jumps_u_by_q_R_over_tau_m(method):
    model = lifsim.LIFParams(tau_m=20.0, R=2.0, u_thresh=50.0)
    config = lifsim.RunConfig(populations=(Population("P", 1, model, (Receptor("d", "delta"),)),),
                              stimuli=(lifsim.SpikeTimes([2.0], weight=0.5, q=4.0),), duration_ms=4.0, dt_ms=0.1,
                              method=method, precision="float64", engine="numpy", record=lifsim.Record(("u",)))
    u = lifsim.simulate(config).traces["u"][:, 0]
    shown = 20 if method == "article" else 21  # article: u after step 20; exact: u at the start of step 21
    np.testing.assert_array_equal(u[:shown], 0.0)
    assert u[shown] == pytest.approx(0.5 * 4.0 * 2.0 / 20.0, rel=1e-15)  # w·q·R/tau_m = 0.2 mV


def random_network(engine="numpy", method="exact", precision="float32", threads=None, duration=120.0, seed=3):
    """Two populations, three receptors (two exponential, one delta), every rule, per-synapse
    weights and delays, every kind of stimulus, per-neuron values: small, busy and irregular."""
    e = Population("E", 300, lifsim.LIFParams(tau_m=20.0, u_thresh=20.0, tau_rest=2.0),
                   (Receptor("ampa", "exponential", 5.0), Receptor("gaba", "exponential", 10.0), Receptor("d", "delta")),
                   u_init=Uniform(0.0, 20.0))
    i = Population("I", 80, lifsim.LIFParams(tau_m=np.linspace(8.0, 12.0, 80), u_thresh=20.0, tau_rest=1.0,
                                             u_reset=5.0),
                   (Receptor("d", "delta"), Receptor("ampa", "exponential", 3.0)), u_init=Normal(10.0, 3.0))
    projections = (
        Projection("E", "E", "fixed_probability", "ampa", p=0.1, weight=Normal(2.0, 0.5), delay_ms=Uniform(0.5, 3.0)),
        Projection("E", "I", "fixed_indegree", "d", k=30, weight=0.4, delay_ms=1.5),
        Projection("I", "E", "fixed_outdegree", "gaba", k=40, weight=-6.0, delay_ms=0.8, multapses=False),
        Projection("I", "I", "all_to_all", "d", weight=-0.3, delay_ms=0.1, autapses=False),
        Projection("E", "E", "explicit", "d", pre=[0, 0, 5, 299], post=[1, 2, 1, 0], weight=[1.0, 2.0, 3.0, 4.0],
                   delay_ms=[0.5, 1.0, 2.0, 9.9]))
    stimuli = (lifsim.PoissonInput(8000.0, 0.25, population="E", receptor="d"),
               lifsim.PoissonInput(9000.0, 0.3, population="I"),
               lifsim.PoissonSynapses(10, 50.0, population="I", receptor="ampa", q=3.0),
               lifsim.NoiseCurrent(0.5, 1.0, 20.0, 90.0, population="I"),
               lifsim.SpikeTimes([5.0, 5.0, 30.0], neuron=[3, 3, 7], weight=[100.0, 50.0, 80.0], population="E",
                                 receptor="ampa"))
    return lifsim.RunConfig(populations=(e, i), projections=projections, stimuli=stimuli, duration_ms=duration,
                            dt_ms=0.1, method=method, precision=precision, engine=engine, threads=threads, seed=seed,
                            record=lifsim.Record(("u", "i_syn", "i_in"), neurons=[0, 1, 3, 310, 379], every=2))


def assert_same(reference, other):
    np.testing.assert_array_equal(other.spike_times_ms, reference.spike_times_ms)
    np.testing.assert_array_equal(other.spike_neurons, reference.spike_neurons)
    for name, trace in reference.traces.items():
        np.testing.assert_array_equal(other.traces[name], trace, err_msg=name)
    for name in ("u", "i_syn", "pending"):
        np.testing.assert_array_equal(getattr(other.final_state, name), getattr(reference.final_state, name))


@pytest.mark.parametrize("method, precision", [("exact", "float32"), ("article", "float32"), ("exact", "float64")])
def test_every_engine_gives_the_reference_spikes_in_a_network(method, precision, monkeypatch):
    reference = lifsim.simulate(random_network("numpy", method, precision))
    assert reference.spike_times_ms.size > 1000 and reference.synaptic_events > 50_000
    rates = {p["name"]: p["mean_rate_hz"] for p in reference.population_statistics()}
    assert rates["E"] > 20.0 and rates["I"] > 5.0  # every population takes part
    runs = [(engine, None) for engine in ENGINES if engine != "numpy"]
    if "numba" in ENGINES:
        from lifsim.engines import numba_engine

        monkeypatch.setattr(numba_engine, "MIN_PARALLEL_SLICE", 0)  # two threads even for this small network
        monkeypatch.setattr(numba_engine, "MIN_PARALLEL_DELIVERY", 0)
        runs += [("numba", 1), ("numba", 2)]
    for engine, threads in runs:
        assert_same(reference, lifsim.simulate(random_network(engine, method, precision, threads)))


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
def test_delivery_in_parallel_while_stepping_stays_serial(monkeypatch):
    from lifsim.engines import numba_engine

    reference = lifsim.simulate(random_network("numpy", duration=60.0))
    monkeypatch.setattr(numba_engine, "MIN_PARALLEL_DELIVERY", 0)  # short slices: only delivery is split
    assert_same(reference, lifsim.simulate(random_network("numba", threads=2, duration=60.0)))


def test_chunks_and_delays_do_not_change_a_network_run(monkeypatch):
    from lifsim.simulation import plan

    whole = lifsim.simulate(random_network("numba", duration=60.0))
    monkeypatch.setattr(plan, "CHUNK_ELEMENTS", 380 * 7)  # chunks of 7 steps, shorter than most delays
    chunked = lifsim.simulate(random_network("numba", duration=60.0))
    assert_same(whole, chunked)


def test_the_seed_draws_the_network_and_its_input():
    a, b = lifsim.simulate(random_network(duration=30.0)), lifsim.simulate(random_network(duration=30.0))
    assert_same(a, b)
    c = lifsim.simulate(random_network(duration=30.0, seed=4))
    assert not np.array_equal(a.spike_times_ms, c.spike_times_ms)


def test_u_reset_holds_the_membrane_through_the_refractory_period():
    model = lifsim.LIFParams(u_rest=0.0, u_reset=-5.0, u_thresh=1.0, tau_rest=3.0)
    for method in ("article", "exact"):
        result = lifsim.simulate(model=model, stimuli=[lifsim.ConstantCurrent(5.0)], duration_ms=30.0, dt_ms=1.0,
                                 method=method, precision="float64", engine="numpy", record=lifsim.Record(("u",)))
        u, first = result.traces["u"][:, 0], int(round(result.spike_times_ms[0]))
        np.testing.assert_array_equal(u[first:first + 4], -5.0)  # the reset, then 3 resting steps
        assert u[first + 4] > -5.0


def test_the_closed_form_rate_uses_u_reset():
    model = lifsim.LIFParams(u_rest=0.0, u_reset=-2.0, u_thresh=1.0, tau_rest=2.0)
    result = lifsim.simulate(model=model, stimuli=[lifsim.ConstantCurrent(2.5)], duration_ms=2000.0, dt_ms=0.01,
                             method="exact", precision="float64", record=lifsim.Record(neurons="none"))
    predicted = lifsim.analysis.predicted_rate(2.5, model, "exact")  # 1000/(2 + 10 ln(4.5/1.5)) Hz
    assert predicted == pytest.approx(1000.0 / (2.0 + 10.0 * np.log(4.5 / 1.5)))
    assert result.interval_rates()[0] == pytest.approx(predicted, rel=2e-3)


def test_poisson_input_counts_are_poisson():
    from scipy import stats

    config = lifsim.RunConfig(populations=(Population("P", 2000, lifsim.LIFParams(u_thresh=1e9),
                                                      (Receptor("d", "delta"),)),),
                              stimuli=(lifsim.PoissonInput(20000.0, 1.0),), duration_ms=1.0, dt_ms=0.1, seed=5,
                              engine="numpy", record=lifsim.Record(neurons="none"))
    from lifsim.simulation.simulate import input_generator

    counts = input_generator(config).chunk(0, 10).injection.ravel()  # weight 1: the counts themselves
    np.testing.assert_array_equal(counts, np.rint(counts))
    assert abs(counts.mean() - 2.0) < 4 * np.sqrt(2.0 / counts.size)
    assert counts.var() == pytest.approx(2.0, rel=0.05)
    observed = np.bincount(counts.astype(int), minlength=9)[:9]
    observed[-1] += (counts > 8).sum()
    expected = stats.poisson.pmf(np.arange(9), 2.0) * counts.size
    expected[-1] += stats.poisson.sf(8, 2.0) * counts.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_poisson_input_inverts_the_uniforms_of_a_stream_per_group_of_neurons(threads):
    """The counts are numpy's own uniforms of each group's stream, inverted, whatever the threads."""
    from lifsim.simulation.simulate import input_generator
    from lifsim.stimuli.poisson import NEURONS_PER_STREAM, poisson_cdf
    from lifsim.streams import stimulus_rng

    n = 2 * NEURONS_PER_STREAM + 300  # two whole groups and a short one
    config = lifsim.RunConfig(populations=(Population("P", n, lifsim.LIFParams(u_thresh=1e9),
                                                      (Receptor("d", "delta"),)),),
                              stimuli=(lifsim.PoissonInput(15000.0, 1.0),), duration_ms=1.0, dt_ms=0.1, seed=11,
                              engine="numpy", precision="float64", record=lifsim.Record(neurons="none"))
    generator = input_generator(config, threads=threads)
    counts = np.concatenate([generator.chunk(k0, k0 + 5).injection for k0 in (0, 5)])
    cdf = poisson_cdf(1.5)
    streams = stimulus_rng(11, 0).spawn(3)
    expected = np.concatenate([np.searchsorted(cdf, s.random((10, min(NEURONS_PER_STREAM, n - g * NEURONS_PER_STREAM))),
                                               side="right") for g, s in enumerate(streams)], axis=1)
    np.testing.assert_array_equal(counts, expected)


def drawn_by_the_engine_config(*stimuli, seed=13):
    """Two populations, A of two and a half groups of neurons and B of one, with the given stimuli."""
    from lifsim.stimuli.poisson import NEURONS_PER_STREAM

    a = Population("A", 2 * NEURONS_PER_STREAM + 500, lifsim.LIFParams(u_thresh=1e9),
                   (Receptor("d", "delta"), Receptor("x", "exponential", 4.0)))
    b = Population("B", 700, lifsim.LIFParams(u_thresh=1e9), (Receptor("d", "delta"),))
    return lifsim.RunConfig(populations=(a, b), stimuli=stimuli, duration_ms=4.0, dt_ms=0.1, seed=seed,
                            record=lifsim.Record(neurons="none"))


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_dense_jumps_drawn_by_the_engine_slice_by_slice_are_the_chunks(workers):
    """Several Poisson inputs (windows, a zero rate, two receptors of one population), drawn
    into a slice buffer a few steps at a time, give the jumps the chunks hold."""
    from lifsim.simulation.simulate import input_generator
    from lifsim.stimuli.event_loops import draw_dense, draw_dense_serial

    config = drawn_by_the_engine_config(
        lifsim.PoissonInput(15000.0, 0.5, population="A", receptor="d", start_ms=0.75, stop_ms=3.0),
        lifsim.PoissonInput(4000.0, -2.0, population="A", receptor="x"),
        lifsim.PoissonInput(0.0, 1.0, population="B"),
        lifsim.PoissonInput(30000.0, 0.25, population="B", start_ms=2.0))
    chunks = input_generator(config)
    expected = np.concatenate([chunks.chunk(k0, min(k0 + 7, 40)).injection for k0 in range(0, 40, 7)])
    generator = input_generator(config, engine_draws=True)
    assert generator.draws_dense and generator.chunk(0, 7).injection is None
    table = generator.chunk(0, 7).draws
    assert table.source.size == 3 + 3 + 1  # groups of 1024 neurons per stimulus; none for the zero rate
    buffer = np.full((5, expected.shape[1]), np.nan, np.float32)
    buffer[:, config.n_neurons + 2548:] = 0.0  # B has no receptor x: no group writes these columns
    drawn = []
    for k0 in range(0, 40, 5):
        if workers == 1:
            draw_dense_serial(table, k0, k0 + 5, buffer)
        else:
            draw_dense(table, k0, k0 + 5, buffer, workers)
        drawn.append(buffer.copy())
    np.testing.assert_array_equal(np.concatenate(drawn), expected)
    a, b = expected[:, :2548], expected[:, 2548:config.n_neurons]
    assert not a[:8].any() and a[8:30].any(axis=1).all() and not a[30:].any()  # the open window 0.75 < t < 3 ms
    assert not b[:21].any() and b[21:].any()  # from 2 ms


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
@pytest.mark.parametrize("drive", ["poisson", "current"])
@pytest.mark.parametrize("receptors", [1, 2, 3])
def test_networks_of_one_two_and_three_receptor_slots_spike_as_on_numpy(receptors, drive, monkeypatch):
    """The numba engine steps one or two receptor slots in the membrane's loop, more in loops
    of their own. On one thread a network of one block (slices of one step) whose input the
    engine does not draw (a current) delivers each step's spikes as they come, here with
    spike buffers that start with room for one step."""
    from lifsim.engines import numba_engine

    kinds = (Receptor("ampa", "exponential", 5.0), Receptor("d", "delta"), Receptor("gaba", "exponential", 10.0))
    weights = {"ampa": 2.0, "d": 0.8, "gaba": -4.0}
    population = Population("E", 400, lifsim.LIFParams(tau_m=20.0, u_thresh=20.0, tau_rest=2.0),
                            kinds[:receptors], u_init=Uniform(0.0, 20.0))
    config = lifsim.RunConfig(
        populations=(population,),
        stimuli=(lifsim.PoissonInput(6000.0, 2.0, receptor="ampa") if drive == "poisson"
                 else lifsim.ConstantCurrent(np.linspace(15.0, 45.0, 400)),),
        projections=tuple(Projection("E", "E", "fixed_indegree", kind.name, k=20, weight=weights[kind.name],
                                     delay_ms=0.1 * (j + 1)) for j, kind in enumerate(kinds[:receptors])),
        duration_ms=100.0, dt_ms=0.1, seed=4, record=lifsim.Record(("u", "i_syn"), neurons=[0, 7, 399]))
    reference = lifsim.simulate(config.replace(engine="numpy"))
    assert reference.spike_times_ms.size > 1000 and reference.synaptic_events > 20_000
    monkeypatch.setattr(numba_engine, "INITIAL_SPIKES_PER_NEURON", 1)
    assert_same(reference, lifsim.simulate(config.replace(engine="numba", threads=1)))
    monkeypatch.setattr(numba_engine, "MIN_PARALLEL_SLICE", 0)
    monkeypatch.setattr(numba_engine, "MIN_PARALLEL_DELIVERY", 0)
    assert_same(reference, lifsim.simulate(config.replace(engine="numba", threads=2)))


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
@pytest.mark.parametrize("threads", [1, 2])
def test_a_slice_resumed_after_its_spike_buffers_grew_keeps_the_input_it_drew(threads, monkeypatch):
    """No refractory period and a strong drive: most neurons fire in most steps, so the blocks'
    spike buffers fill within the first slices, and those slices resume on the same draws."""
    from lifsim.engines import numba_engine

    config = lifsim.RunConfig(
        populations=(Population("P", 3000, lifsim.LIFParams(tau_m=10.0, u_thresh=20.0, tau_rest=0.0),
                                (Receptor("d", "delta"),)),),
        projections=(Projection("P", "P", "fixed_indegree", k=5, weight=-1.0, delay_ms=1.0),),
        stimuli=(lifsim.PoissonInput(20000.0, 30.0),), duration_ms=20.0, dt_ms=0.1, seed=2,
        record=lifsim.Record(neurons="none"))
    reference = lifsim.simulate(config.replace(engine="numpy"))
    assert reference.spike_times_ms.size > 0.4 * 3000 * 200  # a block's buffer starts with room for 4 per neuron
    grown = []
    original = numba_engine.Runner._grow_spike_buffers
    monkeypatch.setattr(numba_engine.Runner, "_grow_spike_buffers",
                        lambda self, buf: grown.append(self.cap) or original(self, buf))
    monkeypatch.setattr(numba_engine, "MIN_PARALLEL_SLICE", 0)
    assert_same(reference, lifsim.simulate(config.replace(engine="numba", threads=threads)))
    assert grown


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
@pytest.mark.parametrize("tasks", [1, 2, 3, 5])
def test_the_blocks_and_the_groups_drawn_ahead_are_cut_into_tasks_of_equal_cost(tasks):
    from lifsim.engines.numba_engine import DRAW_COST, _share_work

    groups = np.array([1024] * 12 + [212])  # Brunel's 12,500 neurons: blocks of 1,563, groups of 1,024
    work_ptr, work = _share_work(8, 1563, 12_500, groups, tasks)
    np.testing.assert_array_equal(work, np.arange(8 + 13))  # blocks first, then groups, each once
    assert work_ptr[0] == 0 and work_ptr[-1] == 21 and np.all(np.diff(work_ptr) >= 0) and len(work_ptr) == tasks + 1
    cost = np.concatenate([np.minimum(1563, 12_500 - 1563 * np.arange(8)), DRAW_COST * groups])
    per_task = np.array([cost[a:b].sum() for a, b in zip(work_ptr[:-1], work_ptr[1:])])
    assert np.all(np.abs(per_task - cost.sum() / tasks) <= cost.max())  # within one item of an equal share
    if tasks == 2:
        assert work_ptr[1] > 8  # the first task steps every block (and draws a few groups), the second draws


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
@pytest.mark.parametrize("shares", [2, 3, 5])
def test_delivery_shared_among_threads_adds_what_one_thread_adds(shares):
    from lifsim.engines.numba_engine import _deliver_part, _shares
    from lifsim.network.connect import build

    config = random_network("numba")
    network = build(config.projections, config.layout, config.dt_ms, config.seed)
    tables, width = network.tables, len(config.layout.receptors) * config.n_neurons
    cuts, reach = _shares(tables, width, shares)
    share_of = np.empty(tables.targets.size, np.int64)  # the share each synapse is delivered by
    for row in range(tables.indptr.size - 1):
        lo, hi = tables.indptr[row], tables.indptr[row + 1]
        starts = np.concatenate([[0], cuts[row], [hi - lo]])
        assert np.all(np.diff(starts) >= 0)
        share_of[lo:hi] = np.repeat(np.arange(shares), np.diff(starts))
    for s in range(shares - 1):  # each share is a range of targets, in order
        assert tables.targets[share_of == s].max(initial=0) <= tables.targets[share_of > s].min()
    for p in range(tables.source_lo.size):
        rows = tables.row_offset[p] + np.array([0, tables.source_hi[p] - tables.source_lo[p]])
        owned = share_of[tables.indptr[rows[0]]:tables.indptr[rows[1]]]
        np.testing.assert_array_equal(reach[p], [np.any(owned == s) for s in range(shares)])
    assert not reach.all()  # some projection has no target in some share: its rows are skipped there

    rng = np.random.default_rng(1)
    sources = rng.integers(0, config.n_neurons, 400).astype(np.int32)
    slots = network.max_delay + 1
    bases = rng.integers(0, slots, 400)
    alone = np.zeros((slots, width), np.float32)
    _deliver_part(0, cuts[:, :0], reach, tables, alone, sources, bases, slots)
    shared = np.zeros_like(alone)
    for part in range(shares):
        _deliver_part(part, cuts, reach, tables, shared, sources, bases, slots)
    assert np.count_nonzero(alone) > 5000
    np.testing.assert_array_equal(shared, alone)  # every target summed in the same order


@pytest.mark.skipif("numba" not in ENGINES, reason="numba is not installed")
def test_delivery_shares_cost_alike_where_rows_cost_as_well_as_synapses():
    from lifsim.engines.numba_engine import SEGMENT_COST, _shares
    from lifsim.network.connect import build

    pops = tuple(Population(name, size, DELTA, (Receptor("d", "delta"),)) for name, size in (("E", 800), ("I", 200)))
    projections = tuple(Projection(a, b, "fixed_indegree", k=k, weight=0.1, delay_ms=1.5)
                        for a, k in (("E", 400), ("I", 100)) for b in ("E", "I"))  # rows of 400 and 100
    config = lifsim.RunConfig(populations=pops, projections=projections, duration_ms=1.0, dt_ms=0.1)
    tables = build(projections, config.layout, config.dt_ms, 0).tables
    cuts, reach = _shares(tables, 1000, 2)
    rows = np.diff(tables.indptr)
    sizes = np.diff(np.column_stack([np.zeros_like(rows), cuts, rows]), axis=1)
    cost = sizes.sum(axis=0) + SEGMENT_COST * (sizes > 0).sum(axis=0)
    assert abs(cost[0] - cost[1]) < 0.02 * cost.sum()
    # a spike starts one row in the first share (into E below the cut x), two in the second (into
    # E above it, into I): alike where x/800·400 + C = (800 - x)/800·400 + 100 + 2·C, C the cost
    # of a row, so the first share holds x/2 = (500 + C)/2 of a source's 500 synapses, no row into I
    assert abs(sizes[:, 0].sum() / sizes.sum() - (500 + SEGMENT_COST) / 1000) < 0.02
    np.testing.assert_array_equal(reach, [[True, True], [False, True], [True, True], [False, True]])


def test_poisson_inputs_that_share_a_receptor_are_drawn_with_the_chunks():
    from lifsim.simulation.simulate import input_generator

    shared = drawn_by_the_engine_config(lifsim.PoissonInput(5000.0, 0.5, population="A"),
                                        lifsim.PoissonInput(2000.0, 0.1))  # every neuron's first receptor again
    assert not input_generator(shared, engine_draws=True).draws_dense
    apart = drawn_by_the_engine_config(lifsim.PoissonInput(5000.0, 0.5, population="A"),
                                       lifsim.PoissonInput(2000.0, 0.1, population="A", receptor="x"))
    assert input_generator(apart, engine_draws=True).draws_dense
    assert not input_generator(apart).draws_dense  # only when asked (an engine that draws them)


def test_poisson_input_does_not_depend_on_chunking():
    config = lifsim.RunConfig(populations=(Population("P", 50, lifsim.LIFParams(u_thresh=1e9),
                                                      (Receptor("d", "delta"),)),),
                              stimuli=(lifsim.PoissonInput(3000.0, 0.5, start_ms=1.0, stop_ms=3.0),), duration_ms=4.0,
                              dt_ms=0.1)
    from lifsim.simulation.simulate import input_generator

    whole = input_generator(config).chunk(0, 40).injection
    generator = input_generator(config)
    parts = [generator.chunk(k0, min(k0 + 7, 40)) for k0 in range(0, 40, 7)]
    joined = np.concatenate([p.injection if p.injection is not None else np.zeros((p.steps, 50)) for p in parts])
    np.testing.assert_array_equal(joined, whole)
    assert not whole[:11].any() and not whole[30:].any() and whole[11:30].any()  # open window 1 < t < 3 ms
