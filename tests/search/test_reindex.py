"""``firehouse db reindex`` rebuilds the index of resources stored without it."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from firehouse.cli import main
from firehouse.storage import open_storage
from firehouse.storage.criteria import IndexKind, Match, SearchQuery, StringCond


def test_reindex_indexes_what_was_stored_unindexed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    storage = open_storage(url)
    storage.migrate()  # no indexer wired: the writes below leave no index rows
    with storage.transaction() as tx:
        for i in range(7):
            resource = {"resourceType": "Patient", "name": [{"family": f"Old{i}"}]}
            tx.write(
                "Patient",
                f"p{i}",
                lambda version, moment, r=resource: orjson.dumps(r),
                method="POST",
                previous=None,
                resource=resource,
            )
    query = SearchQuery(
        ("Patient",), Match(IndexKind.STRING, "Patient", "family", StringCond("prefix", "old"))
    )
    assert storage.search(query).hits == ()
    storage.close()

    result = CliRunner().invoke(main, ["db", "reindex", "--database", url])
    assert result.exit_code == 0, result.output
    assert "reindexed 7 resources" in result.output

    storage = open_storage(url)
    assert len(storage.search(query).hits) == 7
    storage.close()
