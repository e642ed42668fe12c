"""The server-state part of the storage contract; every backend must pass these unchanged.

Server state is what the CORS policy is stored in (shared/spec/cors.md,
"Changing the policy at run time"): versioned, with a history, and written
with an expected version so two writers cannot silently overwrite each other.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from firehouse.storage.base import StaleStateVersion, Storage


def test_a_name_never_written_has_no_value_version_or_history(storage: Storage) -> None:
    assert storage.read_state("cors") is None
    assert storage.state_version("cors") is None
    assert storage.state_history("cors") == []


def test_the_first_write_expects_none_and_is_version_1(storage: Storage) -> None:
    before = datetime.now(UTC)
    record = storage.write_state("cors", '{"a": 1}', expected_version=None, actor="alice")
    assert (record.name, record.value, record.version, record.actor) == (
        "cors",
        '{"a": 1}',
        1,
        "alice",
    )
    assert before - timedelta(seconds=1) <= record.updated_at <= datetime.now(UTC)
    assert record.updated_at.tzinfo is not None
    assert storage.read_state("cors") == record
    assert storage.state_version("cors") == 1


def test_each_write_counts_the_version_up_and_reads_see_the_newest(storage: Storage) -> None:
    storage.write_state("cors", "1", expected_version=None, actor="a")
    storage.write_state("cors", "2", expected_version=1, actor="b")
    third = storage.write_state("cors", "3", expected_version=2, actor="c")
    assert third.version == 3
    current = storage.read_state("cors")
    assert current is not None
    assert (current.value, current.version, current.actor) == ("3", 3, "c")
    assert current.updated_at == third.updated_at
    assert storage.state_version("cors") == 3


@pytest.mark.parametrize("expected", [None, 0, 2, 5])
def test_a_stale_expected_version_changes_nothing_and_says_what_is_stored(
    storage: Storage, expected: int | None
) -> None:
    storage.write_state("cors", "one", expected_version=None, actor="a")
    with pytest.raises(StaleStateVersion) as raised:
        storage.write_state("cors", "two", expected_version=expected, actor="b")
    assert (raised.value.expected, raised.value.current) == (expected, 1)
    current = storage.read_state("cors")
    assert current is not None and (current.value, current.version) == ("one", 1)
    assert len(storage.state_history("cors")) == 1


def test_expecting_a_version_of_a_name_never_written_is_stale(storage: Storage) -> None:
    with pytest.raises(StaleStateVersion) as raised:
        storage.write_state("cors", "x", expected_version=1, actor="a")
    assert raised.value.current is None
    assert storage.read_state("cors") is None
    assert storage.state_history("cors") == []


def test_history_is_newest_first_with_time_actor_old_and_new_value(storage: Storage) -> None:
    storage.write_state("cors", "v1", expected_version=None, actor="alice")
    storage.write_state("cors", "v2", expected_version=1, actor="bob")
    storage.write_state("cors", "v3", expected_version=2, actor="carol")
    history = storage.state_history("cors")
    assert [(c.version, c.actor, c.old_value, c.new_value) for c in history] == [
        (3, "carol", "v2", "v3"),
        (2, "bob", "v1", "v2"),
        (1, "alice", None, "v1"),
    ]
    assert history[0].changed_at >= history[1].changed_at >= history[2].changed_at
    assert all(c.name == "cors" and c.changed_at.tzinfo is not None for c in history)
    assert [c.version for c in storage.state_history("cors", limit=2)] == [3, 2]


def test_names_are_independent(storage: Storage) -> None:
    storage.write_state("cors", "c", expected_version=None, actor="a")
    storage.write_state("other", "o", expected_version=None, actor="a")
    storage.write_state("other", "o2", expected_version=1, actor="a")
    assert storage.state_version("cors") == 1
    assert storage.state_version("other") == 2
    assert [c.new_value for c in storage.state_history("cors")] == ["c"]


def test_values_are_kept_exactly(storage: Storage) -> None:
    value = '{"origins": ["https://\u00e9.example"], "note": "' + "x" * 20000 + '"}'
    storage.write_state("cors", value, expected_version=None, actor="\u00e9ve <eve@example>")
    record = storage.read_state("cors")
    assert record is not None and record.value == value
    assert record.actor == "\u00e9ve <eve@example>"


def test_of_writers_racing_from_the_same_version_exactly_one_wins(storage: Storage) -> None:
    storage.write_state("cors", "start", expected_version=None, actor="setup")
    barrier = threading.Barrier(6)
    won: list[str] = []
    lost: list[str] = []

    def writer(who: str) -> None:
        barrier.wait()
        try:
            storage.write_state("cors", who, expected_version=1, actor=who)
            won.append(who)
        except StaleStateVersion:
            lost.append(who)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == 5
    current = storage.read_state("cors")
    assert current is not None and (current.value, current.version) == (won[0], 2)
    assert [c.version for c in storage.state_history("cors")] == [2, 1]


def test_racing_first_writes_also_let_exactly_one_win(storage: Storage) -> None:
    barrier = threading.Barrier(4)
    won: list[str] = []

    def writer(who: str) -> None:
        barrier.wait()
        try:
            storage.write_state("fresh", who, expected_version=None, actor=who)
            won.append(who)
        except StaleStateVersion:
            pass

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert storage.state_version("fresh") == 1
    assert len(storage.state_history("fresh")) == 1
