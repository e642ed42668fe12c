"""Schema migrations: a database made by an older version is brought up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine

from firehouse.storage import migrations, open_storage


def test_a_version_1_database_gets_the_state_history_and_keeps_its_state(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # Build exactly what version 1 of the schema was, then put a value in it
    # the way an operator's old database could hold one.
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations.schema.schema_version.create(conn)
        migrations.MIGRATIONS[0](conn)
        conn.execute(migrations.schema.schema_version.insert().values(version=1, applied_at=0))
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO server_state (name, value, version) VALUES ('cors', '{}', 4)")

    storage = open_storage(f"sqlite:///{path}")
    try:
        assert storage.migrate() == migrations.LATEST >= 2
        record = storage.read_state("cors")
        assert record is not None and (record.value, record.version) == ("{}", 4)
        assert "migration" in record.actor
        (change,) = storage.state_history("cors")
        assert (change.version, change.old_value, change.new_value) == (4, None, "{}")
        again = storage.write_state("cors", '{"x": 1}', expected_version=4, actor="a")
        assert again.version == 5
    finally:
        storage.close()


def test_instance_history_has_its_own_index_after_migration_4(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrations.schema.schema_version.create(conn)
        migrations.MIGRATIONS[0](conn)
        conn.exec_driver_sql("DROP INDEX ix_history_type_id_seq")  # as a version 3 file had it
        for number in (1, 2, 3):
            if number > 1:
                migrations.MIGRATIONS[number - 1](conn)
            conn.execute(
                migrations.schema.schema_version.insert().values(version=number, applied_at=0)
            )
    engine.dispose()
    storage = open_storage(f"sqlite:///{path}")
    try:
        assert storage.migrate() == migrations.LATEST >= 4
    finally:
        storage.close()
    with sqlite3.connect(path) as raw:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM resource_history"
            " WHERE resource_type = 'Patient' AND id = 'p' ORDER BY seq DESC LIMIT 21"
        ).fetchall()
    assert "ix_history_type_id_seq" in " ".join(str(step) for step in plan)
