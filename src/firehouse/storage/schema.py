"""Tables, in portable SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL."""

from __future__ import annotations

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
