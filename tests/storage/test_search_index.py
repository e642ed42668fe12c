"""Storage contract for the search index: rows live and die with their resource's write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pytest

from firehouse.storage.base import Storage
from firehouse.storage.criteria import (
    IndexKind,
    IndexRow,
    Match,
    SearchQuery,
    StringCond,
    StringRow,
    TokenCond,
    TokenRow,
)


class NameIndexer:
    """Indexes ``name`` as a string and ``tag`` as a token: enough to see rows come and go."""

    def rows(self, resource_type: str, resource: Mapping[str, Any]) -> Sequence[IndexRow]:
        rows: list[IndexRow] = [StringRow("name", resource["name"].lower(), resource["name"])]
        if "tag" in resource:
            rows.append(TokenRow("tag", None, resource["tag"]))
        return rows


def _write(storage: Storage, id: str, resource: dict[str, Any]) -> None:
    with storage.transaction() as tx:
        previous = tx.current("Patient", id)
        tx.write(
            "Patient",
            id,
            lambda version, moment: orjson.dumps({"resourceType": "Patient", "id": id, **resource}),
            method="PUT" if previous else "POST",
            previous=previous,
            resource=resource,
        )


def _ids(storage: Storage, kind: IndexKind, param: str, cond: Any) -> set[str]:
    page = storage.search(SearchQuery(("Patient",), Match(kind, "Patient", param, cond), count=100))
    return {hit.id for hit in page.hits}


@pytest.fixture
def indexed(storage: Storage) -> Storage:
    storage.indexer = NameIndexer()
    return storage


def test_a_write_indexes_and_an_update_replaces_the_rows(indexed: Storage) -> None:
    _write(indexed, "a", {"name": "Alice", "tag": "x"})
    _write(indexed, "b", {"name": "Bob"})
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "al")) == {"a"}
    assert _ids(indexed, IndexKind.TOKEN, "tag", TokenCond(code="x")) == {"a"}
    _write(indexed, "a", {"name": "Carol"})
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "al")) == set()
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "car")) == {"a"}
    assert _ids(indexed, IndexKind.TOKEN, "tag", TokenCond(code="x")) == set()


def test_a_failed_transaction_leaves_no_index_rows(indexed: Storage) -> None:
    _write(indexed, "a", {"name": "Alice"})
    with pytest.raises(RuntimeError), indexed.transaction() as tx:
        tx.write(
            "Patient",
            "z",
            lambda version, moment: b'{"resourceType":"Patient"}',
            method="POST",
            previous=None,
            resource={"name": "Zed", "tag": "x"},
        )
        previous = tx.current("Patient", "a")
        tx.write(
            "Patient",
            "a",
            lambda version, moment: b'{"resourceType":"Patient"}',
            method="PUT",
            previous=previous,
            resource={"name": "Zara"},
        )
        raise RuntimeError("the last entry failed")
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "z")) == set()
    assert _ids(indexed, IndexKind.TOKEN, "tag", TokenCond(code="x")) == set()
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "alice")) == {"a"}
    assert indexed.read("Patient", "z") is None


def test_a_delete_removes_the_rows_and_the_match(indexed: Storage) -> None:
    _write(indexed, "a", {"name": "Alice"})
    with indexed.transaction() as tx:
        previous = tx.current("Patient", "a")
        assert previous is not None
        tx.delete("Patient", "a", previous=previous)
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "al")) == set()
    assert indexed.search(SearchQuery(("Patient",))).hits == ()


def test_reindex_replaces_the_rows_of_the_current_version(indexed: Storage) -> None:
    _write(indexed, "a", {"name": "Alice"})
    with indexed.transaction() as tx:
        assert tx.reindex("Patient", "a", [StringRow("name", "alicia", "Alicia")])
        assert not tx.reindex("Patient", "nobody", [])
    assert _ids(indexed, IndexKind.STRING, "name", StringCond("prefix", "alicia")) == {"a"}


def test_writes_without_an_indexer_have_no_rows(storage: Storage) -> None:
    _write(storage, "a", {"name": "Alice"})
    assert _ids(storage, IndexKind.STRING, "name", StringCond("prefix", "al")) == set()
    assert [h.id for h in storage.search(SearchQuery(("Patient",))).hits] == ["a"]


def test_a_transaction_searches_its_own_writes(indexed: Storage) -> None:
    query = SearchQuery(
        ("Patient",), Match(IndexKind.STRING, "Patient", "name", StringCond("prefix", "al"))
    )
    with indexed.transaction() as tx:
        assert tx.search(query).hits == ()
        tx.write(
            "Patient",
            "a",
            lambda version, moment: b'{"resourceType":"Patient"}',
            method="POST",
            previous=None,
            resource={"name": "Alice"},
        )
        assert [hit.id for hit in tx.search(query).hits] == ["a"]
