"""SearchParameter expressions (https://hl7.org/fhir/R4/fhirpath.html) compiled to walkers.

Nearly every R4 search expression is one of a few shapes: a dotted path
(``Observation.code``), a choice narrowed by type (``(Observation.value as
Quantity)``, ``.as(dateTime)``, ``.ofType(Period)``), a filter
(``.where(resolve() is Patient)``, ``.where(system='email')``), an index
(``[0]``), and unions of those. These compile here into walkers over the JSON
that also know each value's FHIR type (from the R4 StructureDefinitions), which
is what turns a ``valueQuantity`` into quantity rows. Anything else goes to
``fhirpathpy``, the general FHIRPath engine (values without types).

Measured on the carebundle Observations (40 expressions per resource):
fhirpathpy 0.59 ms per resource; these walkers are what keeps indexing out of
the write path's profile (see the commit that introduced this module).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firehouse.fhir import definitions
from firehouse.fhir.definitions import TypeDefinition
from firehouse.search.registry import split_union

log = logging.getLogger("firehouse.search")

Typed = tuple[str | None, Any]  # (FHIR type code, or None when unknown; the JSON value)
Evaluator = Callable[[Mapping[str, Any]], list[Typed]]

_ABSTRACT_ROOTS = frozenset({"Resource", "DomainResource"})
_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_STEP = re.compile(
    rf"""
    (?P<field>{_NAME})(?:\[(?P<index>\d+)\])?(?![\w(])   # name or name[0]
    | (?:as|ofType)\((?P<type>{_NAME})\)                   # .as(T) .ofType(T)
    | where\(resolve\(\)\s+is\s+(?P<resolve>{_NAME})\)     # .where(resolve() is T)
    | where\((?P<wfield>{_NAME})\s*=\s*'(?P<wvalue>[^']*)'\)  # .where(system='email')
    """,
    re.VERBOSE,
)
_AS = re.compile(rf"^\((?P<inner>[^()]+?)\s+as\s+(?P<type>{_NAME})\)(?P<rest>.*)$")


class Unsupported(ValueError):
    """The expression is outside the walker's shapes."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    index: int | None
    # Per incoming type: the JSON keys to read and the type each holds.
    plans: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False)

    def keys(self, type_name: str) -> tuple[tuple[str, str], ...]:
        plan = self.plans.get(type_name)
        if plan is None:
            plan = _plan_field(type_name, self.name)
            self.plans[type_name] = plan
        return plan


@dataclass(frozen=True, slots=True)
class _OfType:
    type: str


@dataclass(frozen=True, slots=True)
class _Resolves:
    type: str


@dataclass(frozen=True, slots=True)
class _WhereEquals:
    field: str
    value: str


_Step = _Field | _OfType | _Resolves | _WhereEquals


def _table(type_name: str) -> TypeDefinition | None:
    try:
        return definitions.type_definition(type_name)
    except KeyError:
        return None


def _plan_field(type_name: str, name: str) -> tuple[tuple[str, str], ...]:
    table = _table(type_name)
    if table is None:
        return ()
    element = table.elements.get(name)
    if element is None:
        return ()
    if element.backbone is not None:
        return ((name, element.backbone.name),)
    if element.choice:
        return tuple((name + code[0].upper() + code[1:], code) for code in element.types)
    return ((name, element.types[0]),)


def reference_type(reference: Mapping[str, Any]) -> str | None:
    """The resource type a Reference points at, from ``reference`` or ``type``."""
    text = reference.get("reference")
    if isinstance(text, str) and not text.startswith("#"):
        parts = text.split("/")
        if len(parts) >= 2 and "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return parts[-2]
    kind = reference.get("type")
    return kind if isinstance(kind, str) else None


def _apply(step: _Step, items: list[Typed]) -> list[Typed]:
    out: list[Typed] = []
    if isinstance(step, _Field):
        for type_name, value in items:
            if not isinstance(value, dict) or type_name is None:
                continue
            for key, child_type in step.keys(type_name):
                child = value.get(key)
                if child is None:
                    continue
                if isinstance(child, list):
                    out.extend((child_type, c) for c in child if c is not None)
                else:
                    out.append((child_type, child))
        if step.index is not None:
            out = out[step.index : step.index + 1]
    elif isinstance(step, _OfType):
        out = [item for item in items if item[0] == step.type]
    elif isinstance(step, _Resolves):
        out = [
            item
            for item in items
            if isinstance(item[1], dict) and reference_type(item[1]) == step.type
        ]
    else:
        out = [
            item
            for item in items
            if isinstance(item[1], dict) and item[1].get(step.field) == step.value
        ]
    return out


def _parse_steps(text: str) -> list[_Step]:
    steps: list[_Step] = []
    pos = 0
    while pos < len(text):
        if text[pos] != ".":
            raise Unsupported(text)
        found = _STEP.match(text, pos + 1)
        if found is None:
            raise Unsupported(text)
        if found.group("field"):
            index = found.group("index")
            steps.append(_Field(found.group("field"), int(index) if index else None))
        elif found.group("type"):
            steps.append(_OfType(found.group("type")))
        elif found.group("resolve"):
            steps.append(_Resolves(found.group("resolve")))
        else:
            steps.append(_WhereEquals(found.group("wfield"), found.group("wvalue")))
        pos = found.end()
    return steps


def _parse_part(part: str, start_type: str) -> tuple[str | None, list[_Step]]:
    """(root type or None for a relative path, steps) of one union alternative."""
    text = part.strip()
    as_form = _AS.match(text)
    if as_form:  # (path as T).rest  ==  path.ofType(T).rest
        inner, kind, rest = as_form.group("inner", "type", "rest")
        text = f"{inner.strip()}.ofType({kind}){rest}"
    head = re.match(rf"{_NAME}(?:\[\d+\])?", text)
    if head is None:
        raise Unsupported(part)
    first = head.group(0)
    if first[0].isupper() and "[" not in first:
        return first, _parse_steps(text[head.end() :])
    return None, _parse_steps("." + text)


def _walker(root: str | None, steps: list[_Step], start_type: str) -> Evaluator:
    def walk(resource: Mapping[str, Any]) -> list[Typed]:
        if root is not None and root not in _ABSTRACT_ROOTS and root != start_type:
            return []
        items: list[Typed] = [(start_type, resource)]
        for step in steps:
            items = _apply(step, items)
            if not items:
                break
        return items

    return walk


def _fallback(part: str) -> Evaluator:
    import fhirpathpy
    from fhirpathpy.models import models

    # fhirpathpy insists on one item left of ``as``; search expressions use it
    # on collections (``(Observation.component.value as Quantity)``).
    text = re.sub(rf"\(([^()]+?)\s+as\s+({_NAME})\)", r"\1.ofType(\2)", part)
    compiled = fhirpathpy.compile(text, models["r4"])

    def evaluate(resource: Mapping[str, Any]) -> list[Typed]:
        values = compiled(resource, {})
        return [(None, value) for value in values if value is not None]

    return evaluate


def compile_expression(expression: str, start_type: str) -> Evaluator:
    """A function giving the typed values of ``expression`` on a ``start_type`` object.

    ``start_type`` is the resource type, or for a composite's component the
    type of the composite's element (relative expressions).
    Raises ValueError when the expression cannot be compiled at all.
    """
    evaluators: list[Evaluator] = []
    for part in split_union(expression):
        try:
            root, steps = _parse_part(part, start_type)
            evaluators.append(_walker(root, steps, start_type))
        except Unsupported:
            evaluators.append(_fallback(part))
    if len(evaluators) == 1:
        return evaluators[0]

    def union(resource: Mapping[str, Any]) -> list[Typed]:
        values: list[Typed] = []
        for evaluate in evaluators:
            values.extend(evaluate(resource))
        return values

    return union
