"""Tables, in portable SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (one B-tree, no
# extra index); PostgreSQL wants 64 bits.
SurrogateKey = BigInteger().with_variant(Integer(), "sqlite")

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", BigInteger, nullable=False),
)

# The current version of every resource: what read, search and list serve.
resources = Table(
    "resources",
    metadata,
    Column("key", SurrogateKey, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("deleted", Boolean, nullable=False),
    Column("body", LargeBinary, nullable=True),
    UniqueConstraint("resource_type", "id", name="uq_resources_type_id"),
    Index("ix_resources_type_key", "resource_type", "key"),
)

# Every version ever written, deletions included; seq orders the history.
resource_history = Table(
    "resource_history",
    metadata,
    Column("seq", SurrogateKey, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("method", String(8), nullable=False),
    Column("body", LargeBinary, nullable=True),
    UniqueConstraint("resource_type", "id", "version", name="uq_history_type_id_version"),
    Index("ix_history_type_seq", "resource_type", "seq"),
    # One instance's history without walking every version of its type.
    Index("ix_history_type_id_seq", "resource_type", "id", "seq"),
)

# Small key/value state of the server itself (for example the CORS policy).
server_state = Table(
    "server_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("version", Integer, nullable=False),
)

# Every write of a server_state value, with who made it and what it replaced
# (added by migration 2; server_state itself is unchanged since version 1).
server_state_history = Table(
    "server_state_history",
    metadata,
    Column("seq", SurrogateKey, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("changed_at", BigInteger, nullable=False),  # microseconds since the epoch, UTC
    Column("actor", String(200), nullable=False),
    Column("old_value", Text, nullable=True),
    Column("new_value", Text, nullable=False),
    UniqueConstraint("name", "version", name="uq_state_history_name_version"),
)

# Search index tables (migration 3), one per kind of value
# (https://hl7.org/fhir/R4/search.html#ptypes). Each row is one value of one
# search parameter of the current version of one resource, keyed by
# ``resources.key``; rows are replaced on every write and removed on delete,
# in the same transaction. Every value index ends with ``resource_key`` so
# a match is answered from the index alone. ``grp`` ties together the rows
# of one element for composite parameters.
#
# Text that is compared by range (prefix matches) uses the "C" collation on
# PostgreSQL, so ordering is by code point as on SQLite.
OrderedText = String(collation=None).with_variant(String(collation="C"), "postgresql")


def _index_table(name: str, *columns: Column[Any], indexes: tuple[tuple[str, ...], ...]) -> Table:
    return Table(
        name,
        metadata,
        Column("resource_key", SurrogateKey, nullable=False),
        Column("resource_type", String(64), nullable=False),
        Column("param", String(100), nullable=False),
        Column("grp", Integer, nullable=True),
        *columns,
        Index(f"ix_{name}_key", "resource_key"),
        *(Index(f"ix_{name}_{i}", *cols, "resource_key") for i, cols in enumerate(indexes)),
    )


search_string = _index_table(
    "search_string",
    Column("norm", OrderedText, nullable=False),
    Column("exact", Text, nullable=False),
    indexes=(("resource_type", "param", "norm"),),
)
search_token = _index_table(
    "search_token",
    Column("system", Text, nullable=True),
    Column("code", OrderedText, nullable=True),
    Column("text", OrderedText, nullable=True),
    indexes=(("resource_type", "param", "code", "system"),),
)
search_date = _index_table(
    "search_date",
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    indexes=(("resource_type", "param", "low", "high"), ("resource_type", "param", "high")),
)
search_number = _index_table(
    "search_number",
    Column("low", OrderedText, nullable=False),
    Column("high", OrderedText, nullable=False),
    indexes=(("resource_type", "param", "low", "high"),),
)
search_quantity = _index_table(
    "search_quantity",
    Column("low", OrderedText, nullable=False),
    Column("high", OrderedText, nullable=False),
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    indexes=(("resource_type", "param", "code", "low", "high"),),
)
search_reference = _index_table(
    "search_reference",
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", OrderedText, nullable=True),
    Column("version", Text, nullable=True),
    Column("identifier_system", Text, nullable=True),
    Column("identifier_value", Text, nullable=True),
    indexes=(
        ("resource_type", "param", "target_type", "target_id"),
        ("target_type", "target_id"),
        ("resource_type", "param", "url"),
    ),
)
search_uri = _index_table(
    "search_uri",
    Column("value", OrderedText, nullable=False),
    indexes=(("resource_type", "param", "value"),),
)

SEARCH_TABLES = (
    search_string,
    search_token,
    search_date,
    search_number,
    search_quantity,
    search_reference,
    search_uri,
)
