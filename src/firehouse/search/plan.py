"""Search clauses -> the storage criteria tree (``storage/criteria.py``).

https://hl7.org/fhir/R4/search.html: commas are OR (#combining), repeated
parameters AND; ``:missing`` (#modifiers), ``:not`` (token), ``:[type]`` and
``:identifier`` (reference), chaining over several levels (#chaining),
``_has`` (#has) and ``_list`` (#list, as the reverse chain it is), composites
(#composite), ``_id`` and ``_lastUpdated`` on the
resource row. Unknown parameters are collected for the caller to ignore
(lenient) or refuse (strict, #errors); a value that does not parse is always
a 400 naming the parameter.

The ``restrict`` criteria of :func:`plan` is the hook for compartments (SMART
``patient`` context, ``Patient/123/Observation``): it is ANDed to the matches
and applied to includes by the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from firehouse.errors import invalid
from firehouse.fhir import definitions
from firehouse.search.query import Clause
from firehouse.search.registry import Registry, SearchParam
from firehouse.search.types import composite
from firehouse.search.types.base import BadValue, QueryContext, split_escaped, unescape
from firehouse.search.types.date import parse_value as parse_date
from firehouse.search.types.registry import MODULES
from firehouse.storage.criteria import (
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
    Or,
    SortKey,
    TypeIn,
)

MAX_CHAIN = 4


class UnknownParameter(Exception):
    """A parameter this server does not know for the type; ``name`` as given."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PlanContext:
    registry: Registry
    local_base: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class Planned:
    criteria: Criteria | None
    applied: tuple[Clause, ...]
    unknown: tuple[UnknownParameter, ...]


def _either(parts: Sequence[Criteria]) -> Criteria:
    return parts[0] if len(parts) == 1 else Or(tuple(parts))


def _both(parts: Sequence[Criteria]) -> Criteria:
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _values(name: str, value: str) -> list[str]:
    values = split_escaped(value, ",")
    if not any(values):
        raise invalid(f"Search parameter '{name}' has no value", name)
    return [v for v in values if v != ""]


def _bad(name: str, param: SearchParam, exc: BadValue) -> Exception:
    return invalid(f"Search parameter '{name}' ({param.type}): {exc}", name)


def _missing(name: str, param: SearchParam, resource_type: str | None, value: str) -> Criteria:
    if value not in ("true", "false"):
        raise invalid(f"Search parameter '{name}': :missing takes true or false", name)
    module = MODULES.get(param.type)
    if module is None:
        raise invalid(f"Search parameter '{name}': :missing is not supported here", name)
    return Missing(module.KIND, resource_type, param.code, value == "true")


def _composite(
    name: str, param: SearchParam, resource_type: str | None, value: str, ctx: PlanContext
) -> Criteria:
    modules = []
    for component in param.components:
        definition = ctx.registry.by_url.get(component.definition)
        if definition is None or definition.type not in MODULES:
            raise UnknownParameter(name, f"the composite {param.code} is not searchable here")
        modules.append((definition, MODULES[definition.type]))
    matches: list[Criteria] = []
    for text in _values(name, value):
        parts: list[tuple[IndexKind, Condition]] = []
        try:
            for piece, (definition, module) in zip(
                composite.split(text, len(modules)), modules, strict=True
            ):
                qctx = QueryContext(definition, ctx.local_base, ctx.now)
                parts.append((module.KIND, module.condition(piece, None, qctx)))
        except BadValue as exc:
            raise _bad(name, param, exc) from None
        matches.append(Composite(resource_type, param.code, tuple(parts)))
    return _either(matches)


def _simple(
    name: str,
    param: SearchParam,
    modifier: str | None,
    resource_type: str | None,
    value: str,
    ctx: PlanContext,
) -> Criteria:
    if param.code == "_id":
        if modifier is not None:
            raise invalid(f"Search parameter '{name}': _id takes no modifier", name)
        return IdIn(tuple(unescape(v) for v in _values(name, value)))
    if param.code == "_lastUpdated":
        parts: list[Criteria] = []
        for text in _values(name, value):
            try:
                op, low, high = parse_date(text)
            except BadValue as exc:
                raise _bad(name, param, exc) from None
            parts.append(LastUpdated(op, low, high))
        return _either(parts)
    if param.type == "composite":
        return _composite(name, param, resource_type, value, ctx)
    module = MODULES.get(param.type)
    if module is None:
        raise UnknownParameter(name, f"{param.type} parameters are not supported")
    negate = False
    if modifier == "not" and param.type == "token":
        negate, modifier = True, None
    elif modifier is not None and modifier not in module.MODIFIERS:
        is_type = param.type == "reference" and definitions.is_resource_type(modifier)
        if not is_type:
            raise invalid(
                f"Search parameter '{name}': the modifier :{modifier[:40]} is not supported "
                f"for {param.type} parameters",
                name,
            )
    qctx = QueryContext(param, ctx.local_base, ctx.now)
    matches: list[Criteria] = []
    for text in _values(name, value):
        try:
            condition = module.condition(text, modifier, qctx)
        except BadValue as exc:
            raise _bad(name, param, exc) from None
        matches.append(Match(module.KIND, resource_type, param.code, condition))
    either = _either(matches)
    return Not(either) if negate else either


def _has(
    name: str, resource_type: str | None, value: str, ctx: PlanContext, depth: int
) -> Criteria:
    # _has:Observation:patient:code=...  or nested  _has:A:p:_has:B:q:code=...
    parts = name.split(":", 3)
    if len(parts) != 4 or resource_type is None:
        raise invalid(f"'{name}': _has takes _has:Type:reference:parameter", name)
    _, source_type, ref_code, rest = parts
    if not definitions.is_resource_type(source_type):
        raise invalid(f"'{name}': unknown resource type {source_type[:64]!r}", name)
    ref = ctx.registry.get(source_type, ref_code)
    if ref is None or ref.type != "reference":
        raise UnknownParameter(name, f"{source_type} has no reference parameter {ref_code!r}")
    inner = clause_criteria(Clause(rest, value), source_type, ctx, depth + 1)
    return Has(source_type, ref_code, resource_type, inner, ctx.local_base)


def clause_criteria(
    clause: Clause, resource_type: str | None, ctx: PlanContext, depth: int = 0
) -> Criteria:
    """One clause on ``resource_type`` (None: every type; only common parameters)."""
    name = clause.name
    if depth > MAX_CHAIN:
        raise invalid(f"'{name}': chains may be at most {MAX_CHAIN} links long", name)
    if name.startswith("_has:"):
        return _has(name, resource_type, clause.value, ctx, depth)
    if name == "_list":
        # https://hl7.org/fhir/R4/search.html#list: the resources a List's entries
        # point at, i.e. those that List's ``item`` references (a reverse chain).
        return _has("_has:List:item:_id", resource_type, clause.value, ctx, depth)
    head, dot, rest = name.partition(".")
    code, _, modifier_text = head.partition(":")
    modifier = modifier_text or None
    if resource_type is None:
        param = ctx.registry.common.get(code)
    else:
        param = ctx.registry.get(resource_type, code)
    if param is None:
        where = resource_type or "every resource type"
        raise UnknownParameter(name, f"'{code}' is not a search parameter of {where}")
    if dot:
        return _chain(clause, param, modifier, rest, resource_type, ctx, depth)
    if modifier == "missing":
        return _missing(name, param, resource_type, clause.value)
    return _simple(name, param, modifier, resource_type, clause.value, ctx)


def _chain(
    clause: Clause,
    param: SearchParam,
    modifier: str | None,
    rest: str,
    resource_type: str | None,
    ctx: PlanContext,
    depth: int,
) -> Criteria:
    name = clause.name
    if param.type != "reference":
        raise invalid(f"'{name}': only reference parameters can be chained", name)
    if modifier is not None and not definitions.is_resource_type(modifier):
        raise invalid(f"'{name}': a chain's modifier must be a resource type", name)
    targets = (modifier,) if modifier else param.targets
    links: list[Criteria] = []
    for target in targets:
        try:
            inner = clause_criteria(Clause(rest, clause.value), target, ctx, depth + 1)
        except UnknownParameter:
            continue  # this target type has no such parameter; others may
        links.append(Chain(resource_type, param.code, target, inner, ctx.local_base))
    if not links:
        raise UnknownParameter(name, f"no target of '{param.code}' has the parameter '{rest}'")
    return _either(links)


def plan(
    clauses: Sequence[Clause],
    resource_types: Sequence[str] | None,
    ctx: PlanContext,
    restrict: Criteria | None = None,
) -> Planned:
    """Every clause ANDed; on several types, each type's own meaning ORed by type."""
    applied: list[Clause] = []
    unknown: list[UnknownParameter] = []
    per_clause: list[Criteria] = []
    scopes: Sequence[str | None] = [None] if resource_types is None else list(resource_types)
    for clause in clauses:
        by_type: list[Criteria] = []
        problems: list[UnknownParameter] = []
        for resource_type in scopes:
            try:
                found = clause_criteria(clause, resource_type, ctx)
            except UnknownParameter as exc:
                problems.append(exc)
                continue
            if len(scopes) > 1 and resource_type is not None:
                found = And((TypeIn((resource_type,)), found))
            by_type.append(found)
        if not by_type:
            unknown.append(problems[0])
            continue
        applied.append(clause)
        per_clause.append(_either(by_type))
    if restrict is not None:
        per_clause.append(restrict)
    return Planned(_both(per_clause) if per_clause else None, tuple(applied), tuple(unknown))


_SORT_KINDS = {name: module.KIND for name, module in MODULES.items()}


def sort_keys(
    sort: Sequence[tuple[str, bool]], resource_types: Sequence[str] | None, registry: Registry
) -> tuple[tuple[SortKey, ...], tuple[str, ...]]:
    """(keys, unknown codes) for ``_sort`` (https://hl7.org/fhir/R4/search.html#sort)."""
    keys: list[SortKey] = []
    unknown: list[str] = []
    for code, descending in sort:
        if code in ("_id", "_lastUpdated"):
            keys.append(SortKey(code, code, descending))  # type: ignore[arg-type]
            continue
        types = list(resource_types or [])
        params = [registry.get(t, code) for t in types] if types else [registry.common.get(code)]
        kinds = {_SORT_KINDS.get(p.type) for p in params if p is not None}
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None:
            unknown.append(code)
            continue
        keys.append(SortKey(kind, code, descending))
    return tuple(keys), tuple(unknown)
