"""The network layer's decisions: fault statistics, determinism, partitions and overrides.

Every test here is pure (no I/O, no trio) and seeded, so a failure is reproducible.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from distlab._errors import ConfigError
from distlab._faults import BlockLink, FaultState, Groups, Isolate, LinkFaults
from distlab._network import Decision, FaultChange, Network, sample_delay

N = 20_000


def assert_binomial(successes: int, trials: int, p: float, sds: float = 4.5) -> None:
    """``successes`` is within ``sds`` standard deviations of Binomial(trials, p)'s mean."""
    mean = trials * p
    sd = math.sqrt(trials * p * (1 - p))
    assert abs(successes - mean) <= sds * sd, (
        f"{successes} successes in {trials} trials; expected {mean:.0f} ± {sds * sd:.0f}"
    )


def decisions(net: Network, src: str, dest: str, n: int = N) -> list[Decision]:
    return [net.decide(src, dest) for _ in range(n)]


def delays_of(faults: LinkFaults, n: int = N, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [sample_delay(faults, rng) for _ in range(n)]


# -- drop / duplicate / reorder probabilities ----------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_drop_probability(seed: int, p: float) -> None:
    net = Network(seed=seed)
    net.set_faults(drop=p)
    results = decisions(net, "a", "b")
    dropped = [d for d in results if d.dropped]
    assert_binomial(len(dropped), N, p)
    for d in dropped:
        assert d.delays == ()
        assert d.drop_reason is not None and "random drop" in d.drop_reason
    for d in results:
        if not d.dropped:
            assert len(d.delays) == 1  # no duplicates configured


def test_no_drop_when_probability_zero_and_always_when_one() -> None:
    net = Network(seed=5)
    assert not any(d.dropped for d in decisions(net, "a", "b", 2000))
    net.set_faults(drop=1.0)
    assert all(d.dropped for d in decisions(net, "a", "b", 2000))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_duplicate_probability(p: float) -> None:
    net = Network(seed=11)
    net.set_faults(duplicate=p, delay=0.01)
    results = decisions(net, "a", "b")
    assert not any(d.dropped for d in results)
    assert {len(d.delays) for d in results} <= {1, 2}
    assert_binomial(sum(len(d.delays) == 2 for d in results), N, p)
    # Both copies get the link's delay (jitter 0: exactly the delay).
    assert all(x == 0.01 for d in results for x in d.delays)


def test_duplicate_is_only_drawn_for_messages_not_dropped() -> None:
    net = Network(seed=12)
    net.set_faults(drop=0.5, duplicate=0.5)
    results = decisions(net, "a", "b")
    kept = [d for d in results if not d.dropped]
    assert_binomial(len(kept), N, 0.5)
    assert_binomial(sum(len(d.delays) == 2 for d in kept), len(kept), 0.5)


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_reorder_probability_adds_reorder_delay(p: float) -> None:
    net = Network(seed=21)
    net.set_faults(delay=0.01, reorder=p, reorder_delay=0.25)
    results = decisions(net, "a", "b")
    delays = [d.delays[0] for d in results]
    held = [x for x in delays if x == pytest.approx(0.26)]
    normal = [x for x in delays if x == pytest.approx(0.01)]
    assert len(held) + len(normal) == N  # nothing else
    assert_binomial(len(held), N, p)


def test_reorder_applies_to_each_copy_independently() -> None:
    net = Network(seed=22)
    net.set_faults(delay=0.0, duplicate=1.0, reorder=0.5, reorder_delay=1.0)
    results = decisions(net, "a", "b")
    assert all(len(d.delays) == 2 for d in results)
    copies = [x for d in results for x in d.delays]
    assert set(copies) == {0.0, 1.0}
    assert_binomial(sum(x == 1.0 for x in copies), 2 * N, 0.5)
    # Independent: some pairs differ (one copy held back, the other not).
    mixed = sum(d.delays[0] != d.delays[1] for d in results)
    assert_binomial(mixed, N, 0.5)


def test_default_reorder_delay_is_used() -> None:
    net = Network(seed=23)
    net.set_faults(reorder=1.0)
    assert net.decide("a", "b").delays == (LinkFaults().reorder_delay,)


# -- delay distributions -------------------------------------------------------------------------


def test_uniform_delay_stays_within_jitter_and_mean_is_delay() -> None:
    delay, jitter = 0.1, 0.04
    xs = delays_of(LinkFaults(delay=delay, jitter=jitter, distribution="uniform"))
    assert min(xs) >= delay - jitter
    assert max(xs) <= delay + jitter
    # Spread is really used: close to both ends.
    assert min(xs) < delay - 0.9 * jitter
    assert max(xs) > delay + 0.9 * jitter
    sd_uniform = jitter / math.sqrt(3)
    assert abs(statistics.fmean(xs) - delay) < 5 * sd_uniform / math.sqrt(N)
    assert statistics.pstdev(xs) == pytest.approx(sd_uniform, rel=0.03)


def test_normal_delay_mean_and_stdev() -> None:
    delay, jitter = 1.0, 0.05
    xs = delays_of(LinkFaults(delay=delay, jitter=jitter, distribution="normal"), seed=3)
    assert abs(statistics.fmean(xs) - delay) < 5 * jitter / math.sqrt(N)
    assert statistics.pstdev(xs) == pytest.approx(jitter, rel=0.03)
    # A normal law, not a uniform one: some values land beyond delay ± jitter.
    assert any(abs(x - delay) > jitter for x in xs)


def test_normal_delay_is_clamped_at_zero() -> None:
    xs = delays_of(LinkFaults(delay=0.01, jitter=0.05, distribution="normal"), seed=4)
    assert min(xs) == 0.0  # many draws fall below zero and are clamped
    assert all(x >= 0 for x in xs)


def test_exponential_delay_floor_and_mean() -> None:
    delay, jitter = 0.1, 0.03
    xs = delays_of(LinkFaults(delay=delay, jitter=jitter, distribution="exponential"), seed=5)
    assert min(xs) >= delay - jitter
    assert min(xs) < delay - jitter + 0.001  # the floor is reached
    assert abs(statistics.fmean(xs) - delay) < 5 * jitter / math.sqrt(N)
    # A long tail: well beyond delay + jitter sometimes (P(tail > 4*jitter) = e^-4 ~ 1.8%).
    assert_binomial(sum(x > delay + 3 * jitter for x in xs), N, math.exp(-4))


def test_exponential_with_jitter_equal_to_delay_has_floor_zero() -> None:
    xs = delays_of(LinkFaults(delay=0.05, jitter=0.05, distribution="exponential"), seed=6)
    assert all(x >= 0 for x in xs)
    assert abs(statistics.fmean(xs) - 0.05) < 5 * 0.05 / math.sqrt(N)


@pytest.mark.parametrize("distribution", ["uniform", "normal", "exponential"])
def test_zero_jitter_gives_exactly_the_delay(distribution: str) -> None:
    faults = LinkFaults(delay=0.123, jitter=0.0, distribution=distribution)  # type: ignore[arg-type]
    assert set(delays_of(faults, n=500)) == {0.123}
    net = Network(seed=1, state=FaultState(default=faults))
    assert {d.delays for d in decisions(net, "a", "b", 500)} == {(0.123,)}


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_delays_never_negative(distribution: str) -> None:
    # Jitter far larger than the delay: many raw draws would be negative.
    net = Network(seed=9)
    net.set_faults(delay=0.001, jitter=0.5, distribution=distribution, duplicate=0.5)
    all_delays = [x for d in decisions(net, "a", "b") for x in d.delays]
    assert all(x >= 0.0 for x in all_delays)
    assert 0.0 in all_delays  # the clamp was exercised


def test_no_faults_means_zero_delay_single_copy() -> None:
    net = Network(seed=0)
    assert net.decide("x", "y") == Decision((0.0,), None)
    assert not net.decide("x", "y").dropped


# -- determinism -----------------------------------------------------------------------------


def _busy_network(seed: int) -> Network:
    net = Network(seed=seed)
    net.set_faults(
        delay=0.05, jitter=0.02, distribution="normal", drop=0.2, duplicate=0.2, reorder=0.2
    )
    return net


def test_same_seed_gives_identical_decisions() -> None:
    a = decisions(_busy_network(42), "n1", "n2", 2000)
    b = decisions(_busy_network(42), "n1", "n2", 2000)
    assert a == b


def test_different_seeds_give_different_decisions() -> None:
    a = decisions(_busy_network(1), "n1", "n2", 500)
    b = decisions(_busy_network(2), "n1", "n2", 500)
    assert a != b
    # Not just one element: the sequences differ substantially.
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 250


def test_directions_of_a_link_have_different_sequences() -> None:
    net = _busy_network(3)
    assert decisions(net, "a", "b", 300) != decisions(net, "b", "a", 300)


def test_link_decisions_do_not_depend_on_other_links_traffic() -> None:
    alone = decisions(_busy_network(7), "a", "b", 1000)

    net = _busy_network(7)
    rng = random.Random(0)
    interleaved: list[Decision] = []
    while len(interleaved) < 1000:
        # A random amount of traffic on other links between each a->b decision.
        for _ in range(rng.randrange(4)):
            net.decide("c", "d")
            net.decide("b", "a")
        interleaved.append(net.decide("a", "b"))
    assert interleaved == alone


def test_fault_change_does_not_reset_link_rng() -> None:
    # Changing faults keeps the link's random stream going, not restarting it.
    net = Network(seed=8)
    net.set_faults(drop=0.5)
    first = [d.dropped for d in decisions(net, "a", "b", 200)]
    net.set_faults(drop=0.5)
    second = [d.dropped for d in decisions(net, "a", "b", 200)]
    assert first != second


# -- partitions --------------------------------------------------------------------------------


def test_partition_with_named_groups() -> None:
    net = Network(seed=1)
    net.partition({"majority": ["n1", "n2", "n3"], "minority": ["n4", "n5"]})
    assert net.blocked("n1", "n2") is None
    assert net.blocked("n4", "n5") is None
    for src, dest in [("n1", "n4"), ("n4", "n1"), ("n3", "n5"), ("n5", "n2")]:
        reason = net.blocked(src, dest)
        assert reason is not None
        assert "partition" in reason
        assert "majority" in reason and "minority" in reason
        d = net.decide(src, dest)
        assert d.dropped and d.delays == () and d.drop_reason == reason
    assert not net.decide("n1", "n3").dropped


def test_partition_with_lists_names_groups_g1_g2() -> None:
    net = Network(seed=1)
    state = net.partition([["a", "b"], ["c"], ["d"]])
    (cut,) = state.cuts
    assert isinstance(cut, Groups)
    assert [name for name, _ in cut.groups] == ["g1", "g2", "g3"]
    assert cut.group_of("c") == "g2"
    reason = net.blocked("a", "c")
    assert reason is not None and "g1: a, b" in reason and "g2: c" in reason
    assert net.blocked("c", "d") is not None
    assert net.blocked("a", "b") is None


def test_nodes_in_no_group_form_their_own_group() -> None:
    net = Network(seed=1)
    net.partition({"left": ["a"], "right": ["b"]})
    # x and y are in no group: they reach each other, but neither side.
    assert net.blocked("x", "y") is None
    assert net.blocked("y", "x") is None
    for named in ("a", "b"):
        assert net.blocked("x", named) is not None
        assert net.blocked(named, "x") is not None


def test_isolate_blocks_both_directions_only_for_that_node() -> None:
    net = Network(seed=1)
    net.isolate("b")
    assert net.blocked("a", "b") == "partition (b isolated)"
    assert net.blocked("b", "a") == "partition (b isolated)"
    assert net.blocked("b", "c") is not None
    assert net.blocked("a", "c") is None
    assert net.decide("c", "a").delays == (0.0,)


def test_block_cuts_one_direction_only() -> None:
    net = Network(seed=1)
    net.block("a", "b")
    reason = net.blocked("a", "b")
    assert reason is not None and "partition" in reason and "a -> b blocked" in reason
    assert net.blocked("b", "a") is None
    assert net.blocked("a", "c") is None
    assert net.decide("a", "b").dropped
    assert not net.decide("b", "a").dropped


def test_multiple_cuts_combine() -> None:
    net = Network(seed=1)
    net.block("a", "b")
    net.isolate("e")
    net.partition({"west": ["a", "b", "e"], "east": ["c", "d"]})
    assert len(net.state.cuts) == 3
    assert net.blocked("a", "b") is not None  # the block
    assert net.blocked("b", "a") is None  # same group, block is one way
    assert net.blocked("a", "e") is not None  # isolate, though same group
    assert net.blocked("a", "c") is not None  # the groups
    assert net.blocked("c", "d") is None
    # The reason names the first cut that blocks.
    assert net.blocked("a", "b") == "partition (a -> b blocked)"


def test_heal_removes_all_cuts_but_keeps_settings() -> None:
    net = Network(seed=1)
    net.set_faults(delay=0.02, drop=0.1)
    net.set_link("a", "b", delay=0.5)
    net.partition([["a"], ["b"]])
    net.isolate("c")
    net.block("d", "e")
    state = net.heal()
    assert state.cuts == ()
    assert net.state is state
    assert state.default == LinkFaults(delay=0.02, drop=0.1)
    assert state.faults_for("a", "b") == LinkFaults(delay=0.5, drop=0.1)
    for src, dest in [("a", "b"), ("c", "a"), ("d", "e")]:
        assert net.blocked(src, dest) is None


def test_blocked_link_does_not_consume_randomness() -> None:
    # A cut message is decided without the RNG, so a link's stream resumes where it was.
    ref = _busy_network(5)
    expected = decisions(ref, "a", "b", 200)
    net = _busy_network(5)
    got = decisions(net, "a", "b", 100)
    net.block("a", "b")
    assert all(d.dropped for d in decisions(net, "a", "b", 50))
    net.heal()
    got += decisions(net, "a", "b", 100)
    assert got == expected


# -- per-link overrides ---------------------------------------------------------------------------


def test_set_link_affects_only_that_direction() -> None:
    net = Network(seed=1)
    net.set_faults(delay=0.01)
    net.set_link("a", "b", drop=1.0)
    assert all(d.dropped for d in decisions(net, "a", "b", 100))
    assert decisions(net, "b", "a", 100) == [Decision((0.01,))] * 100
    assert decisions(net, "a", "c", 100) == [Decision((0.01,))] * 100
    # The override starts from the link's current faults (here, the defaults).
    assert net.state.faults_for("a", "b") == LinkFaults(delay=0.01, drop=1.0)
    assert net.state.faults_for("b", "a") == LinkFaults(delay=0.01)


def test_set_link_twice_accumulates_and_keeps_one_override() -> None:
    net = Network(seed=1)
    net.set_link("a", "b", delay=0.2)
    net.set_link("a", "b", jitter=0.1)
    assert len(net.state.overrides) == 1
    assert net.state.faults_for("a", "b") == LinkFaults(delay=0.2, jitter=0.1)


def test_override_is_not_changed_by_later_defaults() -> None:
    net = Network(seed=1)
    net.set_link("a", "b", delay=0.3)
    net.set_faults(delay=0.01)
    assert net.decide("a", "b").delays == (0.3,)
    assert net.decide("a", "c").delays == (0.01,)


def test_reset_link_returns_to_defaults() -> None:
    net = Network(seed=1)
    net.set_faults(delay=0.01)
    net.set_link("a", "b", delay=0.5, drop=1.0)
    net.set_link("c", "d", delay=0.7)
    net.reset_link("a", "b")
    assert net.decide("a", "b").delays == (0.01,)
    assert net.state.faults_for("a", "b") == net.state.default
    # Other overrides stay.
    assert net.decide("c", "d").delays == (0.7,)
    # Resetting a link with no override is harmless.
    net.reset_link("x", "y")
    assert net.decide("x", "y").delays == (0.01,)


def test_set_link_validates() -> None:
    net = Network(seed=1)
    with pytest.raises(ConfigError, match="drop must be a probability"):
        net.set_link("a", "b", drop=2)
    with pytest.raises(ConfigError, match="unknown fault setting"):
        net.set_link("a", "b", lag=2)
    assert net.state == FaultState()


# -- validation through the Network --------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"drop": 1.5}, "drop must be a probability between 0 and 1, got 1.5"),
        ({"duplicate": -0.1}, "duplicate must be a probability"),
        ({"reorder": 2}, "reorder must be a probability"),
        ({"delay": -0.01}, "delay must be a number of seconds >= 0"),
        ({"jitter": -1}, "jitter must be a number of seconds >= 0"),
        ({"reorder_delay": -0.5}, "reorder_delay must be a number of seconds >= 0"),
        ({"distribution": "pareto"}, "distribution must be one of uniform, normal, exponential"),
        ({"delay": 0.01, "jitter": 0.02, "distribution": "exponential"}, "jitter (the tail"),
        ({"latency": 0.1}, "unknown fault setting(s) latency"),
    ],
)
def test_set_faults_rejects_bad_settings(settings: dict[str, object], fragment: str) -> None:
    net = Network(seed=1)
    net.set_faults(delay=0.002)
    before = net.state
    changes: list[FaultChange] = []
    net.on_change(changes.append)
    with pytest.raises(ConfigError) as info:
        net.set_faults(**settings)
    assert fragment in str(info.value)
    # Nothing changed, nobody was told.
    assert net.state is before
    assert changes == []


@pytest.mark.parametrize(
    ("groups", "fragment"),
    [
        ({"x": ["a", "b"], "y": ["b", "c"]}, "node 'b' is in two partition groups ('x' and 'y')"),
        ([["a"], ["b"], ["a"]], "node 'a' is in two partition groups ('g1' and 'g3')"),
        ({"only": ["a", "b"]}, "at least two groups"),
        ([["a", "b"]], "at least two groups"),
        ({"x": ["a"], "y": []}, "partition group 'y' is empty"),
        ([[], ["a"]], "partition group 'g1' is empty"),
    ],
)
def test_partition_rejects_bad_groups(groups: object, fragment: str) -> None:
    net = Network(seed=1)
    with pytest.raises(ConfigError) as info:
        net.partition(groups)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert net.state.cuts == ()


# -- change notifications ------------------------------------------------------------------------


def test_on_change_listeners_get_description_and_new_state() -> None:
    net = Network(seed=1)
    seen: list[FaultChange] = []
    also: list[FaultChange] = []
    net.on_change(seen.append)
    net.on_change(also.append)

    returned = [
        net.set_faults(drop=0.25, delay=0.01),
        net.set_link("a", "b", duplicate=0.5),
        net.reset_link("a", "b"),
        net.partition({"left": ["a"], "right": ["b"]}),
        net.isolate("c"),
        net.block("d", "e"),
        net.heal(),
        net.replace_state(FaultState(default=LinkFaults(delay=1.0)), "mirror supervisor"),
    ]
    assert seen == also
    assert len(seen) == len(returned)
    for change, state in zip(seen, returned, strict=True):
        assert isinstance(change, FaultChange)
        assert change.state is state
        assert change.description
    assert seen[-1].state is net.state

    words = [c.description for c in seen]
    assert "drop=0.25" in words[0] and "delay=0.01" in words[0]
    assert "a->b" in words[1] and "duplicate=0.5" in words[1]
    assert "reset a->b" in words[2]
    assert "partition" in words[3] and "left: a" in words[3] and "right: b" in words[3]
    assert "c isolated" in words[4]
    assert "d -> e blocked" in words[5]
    assert "heal" in words[6]
    assert words[7] == "mirror supervisor"

    # The states carried are the states at each point, not the live one.
    assert seen[0].state.default == LinkFaults(delay=0.01, drop=0.25)
    assert seen[1].state.faults_for("a", "b").duplicate == 0.5
    assert seen[2].state.overrides == ()
    assert [type(c) for c in seen[5].state.cuts] == [Groups, Isolate, BlockLink]
    assert seen[6].state.cuts == ()
    assert seen[7].state.default == LinkFaults(delay=1.0)


def test_replace_state_installs_the_whole_state() -> None:
    net = Network(seed=1)
    net.set_faults(drop=0.5)
    state = FaultState(
        default=LinkFaults(delay=0.2),
        overrides=((("a", "b"), LinkFaults(drop=1.0)),),
        cuts=(Isolate("z"),),
    )
    net.replace_state(state, "restore")
    assert net.state == state
    assert net.decide("a", "c").delays == (0.2,)
    assert net.decide("a", "b").drop_reason == "random drop (p=1)"
    assert net.blocked("z", "a") == "partition (z isolated)"


def test_initial_state_and_seed() -> None:
    state = FaultState(default=LinkFaults(delay=0.3))
    net = Network(seed=99, state=state)
    assert net.seed == 99
    assert net.state is state
    assert net.decide("a", "b").delays == (0.3,)
