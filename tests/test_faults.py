"""Fault settings as plain data: validation, cuts, and the JSON round trip."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from distlab._errors import ConfigError, DistlabError
from distlab._faults import (
    BlockLink,
    FaultState,
    Groups,
    Isolate,
    LinkFaults,
    make_groups,
)

# -- LinkFaults validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"drop": 1.01}, "drop must be a probability between 0 and 1, got 1.01"),
        ({"drop": -0.5}, "drop must be a probability"),
        ({"drop": math.nan}, "drop must be a probability"),
        ({"drop": "0.5"}, "drop must be a probability"),
        ({"duplicate": 3}, "duplicate must be a probability"),
        ({"reorder": -1e-9}, "reorder must be a probability"),
        ({"delay": -0.001}, "delay must be a number of seconds >= 0, got -0.001"),
        ({"delay": math.inf}, "delay must be a number of seconds >= 0"),
        ({"delay": math.nan}, "delay must be a number of seconds >= 0"),
        ({"jitter": -0.1}, "jitter must be a number of seconds >= 0"),
        ({"reorder_delay": -1}, "reorder_delay must be a number of seconds >= 0"),
        ({"distribution": "gaussian"}, "distribution must be one of uniform, normal, exponential"),
        (
            {"delay": 0.01, "jitter": 0.02, "distribution": "exponential"},
            "got delay=0.01 s, jitter=0.02 s",
        ),
    ],
)
def test_link_faults_validation(settings: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        LinkFaults(**settings)
    assert fragment in str(info.value)


def test_config_error_is_a_value_error_and_a_distlab_error() -> None:
    with pytest.raises(ValueError):
        LinkFaults(drop=2)
    with pytest.raises(DistlabError):
        LinkFaults(drop=2)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"drop": 0.0, "duplicate": 1.0, "reorder": 1},
        {"delay": 0.0, "jitter": 5.0, "distribution": "uniform"},
        {"delay": 0.0, "jitter": 5.0, "distribution": "normal"},
        {"delay": 0.05, "jitter": 0.05, "distribution": "exponential"},
        {"delay": 0.05, "jitter": 0.0, "distribution": "exponential"},
        {"reorder_delay": 0},
    ],
)
def test_link_faults_accepts_boundary_values(settings: dict[str, Any]) -> None:
    LinkFaults(**settings)


def test_changed_returns_a_validated_copy() -> None:
    base = LinkFaults(delay=0.01)
    new = base.changed(drop=0.2)
    assert new == LinkFaults(delay=0.01, drop=0.2)
    assert base == LinkFaults(delay=0.01)  # unchanged
    with pytest.raises(ConfigError, match="drop must be a probability"):
        base.changed(drop=7)
    with pytest.raises(ConfigError, match="jitter"):
        base.changed(distribution="exponential", jitter=0.02)


def test_changed_rejects_unknown_names_and_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        LinkFaults().changed(lag=1, loss=0.1, drop=0.1)
    message = str(info.value)
    assert "unknown fault setting(s) lag, loss" in message
    assert "drop" not in message.split(";")[0]  # drop is known, not listed as unknown
    for known in ("delay", "jitter", "distribution", "drop", "duplicate", "reorder"):
        assert known in message.split("known:")[1]


def test_link_faults_describe() -> None:
    assert LinkFaults().describe() == "no faults"
    text = LinkFaults(delay=0.02, jitter=0.005, distribution="normal", drop=0.1).describe()
    assert text == "delay 20 ms ± 5 ms (normal), drop 0.1"
    assert LinkFaults(duplicate=0.5, reorder=0.25).describe() == "duplicate 0.5, reorder 0.25"


# -- cuts ----------------------------------------------------------------------------------------


def test_make_groups_from_mapping_keeps_names_and_order() -> None:
    g = make_groups({"majority": ["n1", "n2", "n3"], "minority": ("n4", "n5")})
    assert g == Groups((("majority", ("n1", "n2", "n3")), ("minority", ("n4", "n5"))))
    assert g.describe() == "majority: n1, n2, n3 | minority: n4, n5"


def test_make_groups_from_lists_names_them_g1_g2() -> None:
    g = make_groups([["a"], ("b", "c"), iter(["d"])])
    assert g.groups == (("g1", ("a",)), ("g2", ("b", "c")), ("g3", ("d",)))


def test_groups_blocks_across_groups_and_not_within() -> None:
    g = make_groups({"l": ["a", "b"], "r": ["c"]})
    assert not g.blocks("a", "b")
    assert not g.blocks("b", "a")
    assert g.blocks("a", "c") and g.blocks("c", "a")
    # Unnamed nodes form one extra group together.
    assert g.group_of("z") is None
    assert not g.blocks("y", "z")
    assert g.blocks("z", "a") and g.blocks("c", "z")


@pytest.mark.parametrize(
    ("groups", "fragment"),
    [
        ({"a": ["n1"], "b": ["n1"]}, "node 'n1' is in two partition groups ('a' and 'b')"),
        ({"a": ["n1", "n1"], "b": ["n2"]}, "node 'n1' is twice in group 'a'"),
        (["a", "b"], "partition group 'g1' must be a list of node names"),
        ({"a": ["n1"]}, "a partition needs at least two groups"),
        ({}, "a partition needs at least two groups"),
        ([], "a partition needs at least two groups"),
        ({"a": [], "b": ["n1"]}, "partition group 'a' is empty"),
        ([["n1"], []], "partition group 'g2' is empty"),
    ],
)
def test_make_groups_validation(groups: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_groups(groups)
    assert fragment in str(info.value)


def test_isolate_and_block_link() -> None:
    iso = Isolate("n1")
    assert iso.blocks("n1", "n2") and iso.blocks("n2", "n1")
    assert not iso.blocks("n2", "n3")
    assert iso.describe() == "n1 isolated"

    blk = BlockLink("n1", "n2")
    assert blk.blocks("n1", "n2")
    assert not blk.blocks("n2", "n1")
    assert not blk.blocks("n1", "n3")
    assert blk.describe() == "n1 -> n2 blocked"


# -- FaultState ----------------------------------------------------------------------------------


def _full_state() -> FaultState:
    return FaultState(
        default=LinkFaults(delay=0.02, jitter=0.01, distribution="exponential", drop=0.1),
        overrides=(
            (("a", "b"), LinkFaults(drop=1.0)),
            (("b", "a"), LinkFaults(delay=0.5, jitter=0.1, distribution="normal", reorder=0.3)),
        ),
        cuts=(
            make_groups({"left": ["a", "b"], "right": ["c"]}),
            Isolate("d"),
            BlockLink("e", "f"),
        ),
    )


def test_fault_state_round_trips_through_json() -> None:
    state = _full_state()
    text = json.dumps(state.to_dict())
    back = FaultState.from_dict(json.loads(text))
    assert back == state
    assert [type(c) for c in back.cuts] == [Groups, Isolate, BlockLink]
    assert back.describe() == state.describe()
    # And the round trip is stable.
    assert back.to_dict() == state.to_dict()


def test_fault_state_to_dict_shape() -> None:
    data = _full_state().to_dict()
    assert data["default"]["distribution"] == "exponential"
    assert data["overrides"][0] == {
        "src": "a",
        "dest": "b",
        "faults": {
            "delay": 0.0,
            "jitter": 0.0,
            "distribution": "uniform",
            "drop": 1.0,
            "duplicate": 0.0,
            "reorder": 0.0,
            "reorder_delay": 0.05,
        },
    }
    assert data["cuts"] == [
        {"cut": "groups", "groups": {"left": ["a", "b"], "right": ["c"]}},
        {"cut": "isolate", "node": "d"},
        {"cut": "block", "src": "e", "dest": "f"},
    ]


def test_empty_fault_state_round_trips_and_from_empty_dict() -> None:
    assert FaultState.from_dict(json.loads(json.dumps(FaultState().to_dict()))) == FaultState()
    assert FaultState.from_dict({}) == FaultState()


def test_from_dict_validates() -> None:
    with pytest.raises(ConfigError, match="unknown partition kind 'wall'"):
        FaultState.from_dict({"cuts": [{"cut": "wall"}]})
    with pytest.raises(ConfigError, match="drop must be a probability"):
        FaultState.from_dict({"default": {"drop": 4}})


def test_faults_for_and_cut_blocking() -> None:
    state = _full_state()
    assert state.faults_for("a", "b") == LinkFaults(drop=1.0)
    assert state.faults_for("b", "a").distribution == "normal"
    assert state.faults_for("a", "c") is state.default
    assert state.cut_blocking("a", "b") is None
    assert state.cut_blocking("a", "c") == state.cuts[0]
    assert state.cut_blocking("a", "d") == state.cuts[0]  # the first cut that blocks
    assert state.cut_blocking("x", "d") == Isolate("d")  # same unnamed group, but isolated
    assert state.cut_blocking("e", "f") == BlockLink("e", "f")
    assert state.cut_blocking("f", "e") is None  # both unnamed, reverse of the block


def test_fault_state_describe_lists_everything() -> None:
    text = _full_state().describe()
    assert text.startswith("delay 20 ms ± 10 ms (exponential), drop 0.1")
    assert "a->b: drop 1" in text
    assert "partition: left: a, b | right: c" in text
    assert "partition: d isolated" in text
    assert "partition: e -> f blocked" in text
    assert FaultState().describe() == "no faults"
