"""Durable storage: what a node puts survives a restart (a fresh Storage on the same file)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import trio

from distlab import ClusterSpec, Node, NodeSpec, open_cluster, run_simulated
from distlab._errors import NodeError
from distlab._storage import Storage, StorageValueError


def _strict_json(path: Path) -> Any:
    """Parse a file as standard JSON (no NaN / Infinity extensions)."""

    def reject(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def _assert_clean_dir(path: Path) -> None:
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_put_get_round_trip_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    s = Storage(path)
    values: dict[str, Any] = {
        "term": 3,
        "voted_for": "n2",
        "log": [{"term": 1, "cmd": "x"}, {"term": 3, "cmd": None}],
        "ratio": 0.5,
        "flag": True,
        "empty": {},
        "unicode": "héllo ✓",
    }
    for key, value in values.items():
        s.put(key, value)
        assert s.get(key) == value

    restarted = Storage(path)
    for key, value in values.items():
        assert restarted.get(key) == value
    assert restarted.keys() == sorted(values)


def test_put_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("term", 1)
    s.put("term", 2)
    assert s.get("term") == 2
    assert Storage(path).get("term") == 2


def test_missing_key_gives_default(tmp_path: Path) -> None:
    s = Storage(tmp_path / "n.json")
    assert s.get("nope") is None
    assert s.get("nope", 42) == 42
    assert "nope" not in s
    assert s.keys() == []
    assert not (tmp_path / "n.json").exists()  # nothing written until a put


def test_get_returns_copies(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("log", [1, 2, 3])
    s.put("meta", {"a": {"b": [1]}})

    got = s.get("log")
    got.append(4)
    assert s.get("log") == [1, 2, 3]

    meta = s.get("meta")
    meta["a"]["b"].append(2)
    meta["new"] = True
    assert s.get("meta") == {"a": {"b": [1]}}
    assert s.get("log") is not s.get("log")


def test_put_stores_a_copy_of_the_value(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    value = {"entries": [1]}
    s.put("state", value)
    value["entries"].append(2)  # mutating the caller's object after put changes nothing
    assert s.get("state") == {"entries": [1]}
    assert Storage(path).get("state") == {"entries": [1]}


def test_values_come_back_as_json_would_give_them(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("pair", (1, 2))
    assert s.get("pair") == [1, 2]
    assert Storage(path).get("pair") == [1, 2]


def test_delete(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("a", 1)
    s.put("b", 2)
    s.delete("a")
    assert "a" not in s
    assert s.get("a") is None
    assert s.keys() == ["b"]
    restarted = Storage(path)
    assert "a" not in restarted
    assert restarted.keys() == ["b"]
    # Deleting an absent key is not an error.
    s.delete("never-there")
    assert s.keys() == ["b"]


@pytest.mark.parametrize("value", [0, False, "", [], {}])
def test_delete_falsy_values(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("k", value)
    s.delete("k")
    assert "k" not in Storage(path)


def test_delete_of_a_stored_none_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("voted_for", None)
    s.delete("voted_for")
    assert "voted_for" not in s
    restarted = Storage(path)
    assert "voted_for" not in restarted
    assert restarted.get("voted_for", "absent") == "absent"


def test_keys_contains_and_iter(tmp_path: Path) -> None:
    s = Storage(tmp_path / "n.json")
    for key in ("zeta", "alpha", "mid"):
        s.put(key, key.upper())
    assert s.keys() == ["alpha", "mid", "zeta"]
    assert list(s) == ["alpha", "mid", "zeta"]
    assert "mid" in s
    assert "other" not in s


@pytest.mark.parametrize("bad", [object(), {1, 2}, b"bytes", {"nested": object()}])
def test_non_json_value_raises_naming_the_key(tmp_path: Path, bad: Any) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    s.put("ok", 1)
    with pytest.raises(StorageValueError) as info:
        s.put("my_key", bad)
    assert "'my_key'" in str(info.value)
    assert "not JSON" in str(info.value)
    assert isinstance(info.value, NodeError) and isinstance(info.value, TypeError)
    # Nothing was stored, in memory or on disk.
    assert "my_key" not in s
    assert Storage(path).keys() == ["ok"]


def test_circular_value_raises_storage_value_error(tmp_path: Path) -> None:
    s = Storage(tmp_path / "n.json")
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(StorageValueError, match="'loop'"):
        s.put("loop", loop)


@pytest.mark.parametrize("bad", [math.nan, math.inf, [1.0, -math.inf]])
def test_nan_and_infinity_are_not_json(tmp_path: Path, bad: Any) -> None:
    path = tmp_path / "n.json"
    s = Storage(path)
    with pytest.raises(StorageValueError, match="'x'"):
        s.put("x", bad)


def test_file_is_valid_json_after_every_put_and_no_tmp_left(tmp_path: Path) -> None:
    path = tmp_path / "state" / "node" / "n1.json"  # parent directories are created
    s = Storage(path)
    expected: dict[str, Any] = {}
    for i in range(30):
        key = f"k{i % 7}"
        value = {"i": i, "items": list(range(i))}
        s.put(key, value)
        expected[key] = value
        assert _strict_json(path) == expected
        _assert_clean_dir(path)
    s.delete("k0")
    del expected["k0"]
    assert _strict_json(path) == expected
    _assert_clean_dir(path)


def test_storage_files_of_two_nodes_are_independent(tmp_path: Path) -> None:
    a = Storage(tmp_path / "a.json")
    b = Storage(tmp_path / "b.json")
    a.put("x", 1)
    b.put("x", 2)
    assert Storage(tmp_path / "a.json").get("x") == 1
    assert Storage(tmp_path / "b.json").get("x") == 2


def test_a_stored_dict_keeps_its_key_order_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    Storage(path).put("queue", {"s3": 1, "s1": 2, "s2": 3})  # the order they were enqueued
    assert list(Storage(path).get("queue")) == ["s3", "s1", "s2"]


def test_the_simulator_keeps_storage_in_memory_across_restart(tmp_path: Path) -> None:
    files: dict[Path, str] = {}
    path = tmp_path / "server.json"
    Storage(path, files=files).put("term", 3)
    Storage(path, files=files).put("vote", {"b": 1, "a": 2})
    restarted = Storage(path, files=files)
    assert restarted.get("term") == 3 and list(restarted.get("vote")) == ["b", "a"]
    assert not path.exists() and list(files) == [path]  # no file written


def test_simulated_nodes_keep_their_storage_across_a_crash(tmp_path: Path) -> None:
    """The simulated cluster's in-memory storage is durable the way files are."""

    class Counter(Node):
        async def on_start(self) -> None:
            starts = self.storage.get("starts", 0) + 1
            self.storage.put("starts", starts)
            self.status(starts=starts)

    async def main() -> None:
        spec = ClusterSpec((NodeSpec("counter", "counter", Counter),))
        async with open_cluster(spec, seed=1, placement="sim") as cluster:
            await cluster.wait_for_status("counter", lambda s: s.get("starts") == 1)
            for starts in (2, 3):
                await cluster.crash("counter")
                await cluster.restart("counter")
                with trio.fail_after(5):  # each incarnation counts itself before the next crash
                    await cluster.wait_for_status(
                        "counter", lambda s, n=starts: s.get("starts") == n
                    )

    run_simulated(main, seed=1)
