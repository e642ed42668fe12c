"""The criteria tree of ``criteria.py`` as portable SQLAlchemy Core conditions.

Every condition becomes ``resources.key IN (SELECT resource_key FROM <index>
WHERE resource_type = ? AND param = ? AND ...)``, each answered from one
covering index; chains and ``_has`` join the reference index to the resources
they point at. ``search_pages.py`` puts the conditions into page queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    false,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from firehouse.storage import schema
from firehouse.storage.criteria import (
    UCUM_CANONICAL,
    And,
    Chain,
    Composite,
    Condition,
    Criteria,
    Has,
    IdIn,
    IndexKind,
    LastUpdated,
    Match,
    Missing,
    Not,
    Nothing,
    Or,
    RangeCond,
    ReferenceCond,
    StringCond,
    TokenCond,
    TypeIn,
    UriCond,
)
from firehouse.storage.index_sql import TABLES

RESOURCES = schema.resources
MAX_TEXT = "\U0010ffff"  # sorts after every other character (by code point)
MAX_INT = 2**62


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    # A range, not LIKE: it uses the index and is exact on both backends.
    return and_(column >= prefix, column < prefix + MAX_TEXT)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _range(low: Any, high: Any, cond: RangeCond) -> Any:
    """The prefixes of https://hl7.org/fhir/R4/search.html#prefix on ranges.

    The target is [low, high]; the search value [cond.low, cond.high].
    """
    q_low, q_high = cond.low, cond.high
    below_high = high < q_high if cond.high_open else high <= q_high
    contained = and_(low >= q_low, below_high)
    match cond.op:
        case "eq":
            return contained
        case "ne":
            return not_(contained)
        case "gt":
            return high > q_high
        case "lt":
            return low < q_low
        case "ge":
            return or_(high > q_high, contained)
        case "le":
            return or_(low < q_low, contained)
        case "sa":
            return low > q_high
        case "eb":
            return high < q_low
        case "ap":
            return and_(low <= q_high, high >= q_low)
    raise AssertionError(cond.op)


def local_only(ref: FromClause, local_base: str | None, urls: Sequence[str] = ()) -> Any:
    """A reference row that points at this server: relative, or absolute with our base."""
    if urls:
        return or_(ref.c.url.is_(None), ref.c.url.in_(urls))
    if local_base:
        return or_(ref.c.url.is_(None), _starts_with(ref.c.url, local_base + "/"))
    return ref.c.url.is_(None)


def condition(kind: IndexKind, cond: Condition, t: FromClause) -> ColumnElement[bool]:
    c = t.c
    if isinstance(cond, StringCond):
        if cond.mode == "exact":
            return c.exact == cond.value
        if cond.mode == "contains":
            return c.norm.like(f"%{_escape_like(cond.value)}%", escape="\\")
        return _starts_with(c.norm, cond.value)
    if isinstance(cond, TokenCond):
        parts: list[ColumnElement[bool]] = []
        if cond.code is not None:
            parts.append(c.code == cond.code)
        if cond.match_system:
            parts.append(c.system.is_(None) if cond.system is None else c.system == cond.system)
        if cond.text is not None:
            parts.append(_starts_with(c.text, cond.text))
        return and_(true(), *parts)
    if isinstance(cond, RangeCond):
        match = _range(c.low, c.high, cond)
        if kind is IndexKind.QUANTITY:
            if cond.code is not None:
                match = and_(match, c.code == cond.code)
            if cond.system is not None:
                match = and_(match, c.system == cond.system)
            else:  # a unit as written, never the canonical copy of another
                match = and_(match, c.system.is_distinct_from(UCUM_CANONICAL))
        return and_(true(), match)
    if isinstance(cond, ReferenceCond):
        parts = []
        if cond.target_id is not None:
            parts.append(c.target_id == cond.target_id)
            parts.append(local_only(t, None, cond.urls))
        if cond.target_type is not None:
            parts.append(c.target_type == cond.target_type)
        if cond.url is not None:
            parts.append(c.url == cond.url)
            if cond.version is not None:
                parts.append(c.version == cond.version)
        if cond.identifier_value is not None:
            parts.append(c.identifier_value == cond.identifier_value)
        if cond.match_identifier_system:
            parts.append(c.identifier_system == cond.identifier_system)
        return and_(true(), *parts)
    if isinstance(cond, UriCond):
        if cond.mode == "below":
            return or_(false(), *(_starts_with(c.value, v) for v in cond.values))
        return c.value.in_(cond.values)
    raise AssertionError(cond)


def scope(t: FromClause, resource_type: str | None, param: str) -> ColumnElement[bool]:
    if resource_type is None:
        return t.c.param == param
    return and_(t.c.resource_type == resource_type, t.c.param == param)


# Building aliases is the most expensive part of making a statement (every
# column is proxied), so they are made once: the main query's ``r``, and one
# resources/reference pair per chain depth. Subqueries on the index tables use
# the tables themselves with correlation off, so nesting never ties an inner
# subquery to an outer one.
MAIN = RESOURCES.alias("r")


@cache
def depth_aliases(depth: int) -> tuple[FromClause, FromClause]:
    return RESOURCES.alias(f"r{depth}"), schema.search_reference.alias(f"ref{depth}")


@cache
def part_alias(kind: IndexKind, i: int) -> FromClause:
    return TABLES[kind].alias(f"c{i}_{kind.value}")


def _keys_matching(match: Match) -> Select[Any]:
    t = TABLES[match.kind]
    return (
        select(t.c.resource_key)
        .where(
            scope(t, match.resource_type, match.param),
            condition(match.kind, match.condition, t),
        )
        .correlate(None)
    )


def compile_criteria(criteria: Criteria, r: FromClause, depth: int = 0) -> ColumnElement[bool]:
    """``criteria`` as a condition on the resources row ``r`` (``depth``: chain nesting)."""
    if isinstance(criteria, Match):
        return r.c.key.in_(_keys_matching(criteria))
    if isinstance(criteria, And):
        return and_(true(), *(compile_criteria(p, r, depth) for p in criteria.parts))
    if isinstance(criteria, Or):
        return or_(false(), *(compile_criteria(p, r, depth) for p in criteria.parts))
    if isinstance(criteria, Not):
        return not_(compile_criteria(criteria.part, r, depth))
    if isinstance(criteria, IdIn):
        return r.c.id.in_(criteria.ids)
    if isinstance(criteria, TypeIn):
        return r.c.resource_type.in_(criteria.types)
    if isinstance(criteria, LastUpdated):
        cond = RangeCond(criteria.op, criteria.low, criteria.high)
        return and_(true(), _range(r.c.last_updated, r.c.last_updated, cond))
    if isinstance(criteria, Missing):
        t = TABLES[criteria.kind]
        having = (
            select(t.c.resource_key)
            .where(scope(t, criteria.resource_type, criteria.param))
            .correlate(None)
        )
        found = r.c.key.in_(having)
        return not_(found) if criteria.missing else found
    if isinstance(criteria, Chain):
        return r.c.key.in_(_chain(criteria, depth + 1))
    if isinstance(criteria, Has):
        has = _has(criteria, depth + 1)
        pair = tuple_(r.c.resource_type, r.c.id)
        return and_(r.c.resource_type == criteria.target_type, pair.in_(has))
    if isinstance(criteria, Composite):
        return r.c.key.in_(_composite(criteria))
    if isinstance(criteria, Nothing):
        return false()
    raise AssertionError(criteria)


def _chain(chain: Chain, depth: int) -> Select[Any]:
    # Targets first (usually few), then the references to them by the
    # (type, param, target_type, target_id) index; joining the other way round
    # would visit every reference of the param.
    target, ref = depth_aliases(depth)
    targets = (
        select(target.c.id)
        .where(
            target.c.resource_type == chain.target_type,
            target.c.deleted.is_(False),
            compile_criteria(chain.where, target, depth),
        )
        .correlate(None)
    )
    return (
        select(ref.c.resource_key)
        .where(
            scope(ref, chain.resource_type, chain.param),
            ref.c.target_type == chain.target_type,
            ref.c.target_id.in_(targets),
            local_only(ref, chain.local_base),
        )
        .correlate(None)
    )


def _has(has: Has, depth: int) -> Select[Any]:
    # Sources first, then their references by resource_key; the source type is
    # checked on the sources, so the reference rows need only param and target.
    source, ref = depth_aliases(depth)
    sources = (
        select(source.c.key)
        .where(
            source.c.resource_type == has.source_type,
            source.c.deleted.is_(False),
            compile_criteria(has.where, source, depth),
        )
        .correlate(None)
    )
    # (type, id) pairs rather than a target_type filter, which SQLite would
    # answer from the target_type index: every reference to that type.
    return (
        select(ref.c.target_type, ref.c.target_id)
        .where(
            ref.c.resource_key.in_(sources),
            ref.c.param == has.param,
            local_only(ref, has.local_base),
        )
        .correlate(None)
    )


def _composite(composite: Composite) -> Select[Any]:
    tables = [part_alias(kind, i) for i, (kind, _) in enumerate(composite.parts)]
    first = tables[0]
    query = select(first.c.resource_key)
    for other in tables[1:]:
        query = query.join(
            other,
            and_(other.c.resource_key == first.c.resource_key, other.c.grp == first.c.grp),
        )
    conditions = []
    for i, ((kind, cond), t) in enumerate(zip(composite.parts, tables, strict=True)):
        conditions.append(scope(t, composite.resource_type, f"{composite.param}${i}"))
        conditions.append(condition(kind, cond, t))
    return query.where(*conditions).correlate(None)
