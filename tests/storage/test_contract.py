"""The storage contract: every backend must pass these unchanged."""

from __future__ import annotations

import threading
from datetime import datetime

import orjson
import pytest

from firehouse.storage.base import HistoryQuery, ListQuery, Storage, VersionConflict


def _render(resource_type: str, id: str, note: str = ""):
    def render(version: int, moment: datetime) -> bytes:
        return orjson.dumps(
            {
                "resourceType": resource_type,
                "id": id,
                "v": version,
                "note": note,
                "at": moment.isoformat(),
            }
        )

    return render


def _put(storage: Storage, resource_type: str, id: str, note: str = ""):
    with storage.transaction() as tx:
        previous = tx.current(resource_type, id)
        return tx.write(
            resource_type,
            id,
            _render(resource_type, id, note),
            method="PUT" if previous else "POST",
            previous=previous,
        )


def test_migrate_is_idempotent(storage: Storage) -> None:
    assert storage.migrate() == storage.migrate() >= 1


def test_versions_count_up_and_every_version_stays_readable(storage: Storage) -> None:
    first = _put(storage, "Patient", "p1", "one")
    second = _put(storage, "Patient", "p1", "two")
    assert (first.version, second.version) == (1, 2)
    assert second.last_updated > first.last_updated
    current = storage.read("Patient", "p1")
    assert current is not None and current.version == 2
    assert orjson.loads(current.body or b"")["note"] == "two"
    old = storage.vread("Patient", "p1", 1)
    assert old is not None and orjson.loads(old.body or b"")["note"] == "one"
    assert storage.vread("Patient", "p1", 3) is None
    assert storage.read("Patient", "nope") is None


def test_the_render_callback_sees_the_stored_version_and_time(storage: Storage) -> None:
    stored = _put(storage, "Patient", "p1")
    body = orjson.loads(stored.body or b"")
    assert body["v"] == stored.version
    assert body["at"] == stored.last_updated.isoformat()


def test_delete_is_a_version_and_history_keeps_the_rest(storage: Storage) -> None:
    _put(storage, "Patient", "p1")
    with storage.transaction() as tx:
        previous = tx.current("Patient", "p1")
        assert previous is not None
        deletion = tx.delete("Patient", "p1", previous=previous)
    assert deletion.version == 2 and deletion.deleted and deletion.body is None
    current = storage.read("Patient", "p1")
    assert current is not None and current.deleted
    history = storage.history(HistoryQuery("Patient", "p1"))
    assert [(e.version, e.method) for e in history.entries] == [(2, "DELETE"), (1, "POST")]


def test_a_failed_transaction_leaves_no_trace(storage: Storage) -> None:
    _put(storage, "Patient", "keep")
    with pytest.raises(RuntimeError), storage.transaction() as tx:
        tx.write("Patient", "new", _render("Patient", "new"), method="POST", previous=None)
        previous = tx.current("Patient", "keep")
        tx.write(
            "Patient",
            "keep",
            _render("Patient", "keep", "changed"),
            method="PUT",
            previous=previous,
        )
        raise RuntimeError("the last entry failed")
    assert storage.read("Patient", "new") is None
    keep = storage.read("Patient", "keep")
    assert keep is not None and keep.version == 1
    assert len(storage.history(HistoryQuery()).entries) == 1


def test_a_stale_previous_version_is_refused(storage: Storage) -> None:
    _put(storage, "Patient", "p1")
    with storage.transaction() as tx:
        stale = tx.current("Patient", "p1")
    _put(storage, "Patient", "p1")
    with pytest.raises(VersionConflict), storage.transaction() as tx:
        tx.write("Patient", "p1", _render("Patient", "p1"), method="PUT", previous=stale)
    current = storage.read("Patient", "p1")
    assert current is not None and current.version == 2


def test_history_pages_newest_first_and_each_entry_once(storage: Storage) -> None:
    for i in range(7):
        _put(storage, "Patient", f"p{i % 3}")
        _put(storage, "Observation", f"o{i}")
    seen = []
    cursor = None
    while True:
        page = storage.history(HistoryQuery(count=4, before_seq=cursor))
        seen.extend(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 14
    stamps = [e.last_updated for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert len({(e.resource_type, e.id, e.version) for e in seen}) == 14
    patients = storage.history(HistoryQuery("Patient", count=100)).entries
    assert {e.resource_type for e in patients} == {"Patient"} and len(patients) == 7
    one = storage.history(HistoryQuery("Patient", "p0", count=100)).entries
    assert [e.version for e in one] == [3, 2, 1]


def test_history_since_is_a_lower_bound(storage: Storage) -> None:
    _put(storage, "Patient", "a")
    middle = _put(storage, "Patient", "b")
    _put(storage, "Patient", "c")
    entries = storage.history(HistoryQuery(since=middle.last_updated)).entries
    assert [e.id for e in entries] == ["c", "b"]


def test_list_current_skips_deleted_and_pages_by_key(storage: Storage) -> None:
    for i in range(5):
        _put(storage, "Patient", f"p{i}")
    with storage.transaction() as tx:
        previous = tx.current("Patient", "p2")
        assert previous is not None
        tx.delete("Patient", "p2", previous=previous)
    first = storage.list_current(ListQuery("Patient", count=2))
    second = storage.list_current(ListQuery("Patient", count=2, after_key=first.next_cursor))
    assert [e.id for e in first.entries + second.entries] == ["p0", "p1", "p3", "p4"]
    assert second.next_cursor is None
    chosen = storage.list_current(ListQuery("Patient", ids=("p1", "p2", "p4")))
    assert [e.id for e in chosen.entries] == ["p1", "p4"]


def test_parallel_writers_lose_no_update(storage: Storage) -> None:
    _put(storage, "Patient", "shared")
    errors: list[BaseException] = []

    def bump(times: int) -> None:
        try:
            for _ in range(times):
                _put(storage, "Patient", "shared")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    current = storage.read("Patient", "shared")
    assert current is not None and current.version == 41
    versions = [
        e.version for e in storage.history(HistoryQuery("Patient", "shared", count=100)).entries
    ]
    assert versions == list(range(41, 0, -1))
