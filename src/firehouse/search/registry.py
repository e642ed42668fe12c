"""The SearchParameter registry: which parameters each resource type has.

https://hl7.org/fhir/R4/searchparameter.html and
https://hl7.org/fhir/R4/searchparameter-registry.html. Three sources, later
ones overriding earlier ones for the same (type, code):

1. the official R4 definitions (``firehouse.fhir.definitions.search_parameters``),
   including the ones every resource has (``_id``, ``_lastUpdated``, ``_tag``,
   ``_profile``, ``_security``, ``_source``);
2. the CARIN Blue Button ones (``data/carin-bb.json``, with their canonical URLs);
3. SearchParameter resources stored on this server (``status`` active), see
   :mod:`firehouse.search.custom`.

A :class:`Registry` is immutable; adding parameters makes a new one, so a
running search never sees the registry change under it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from firehouse.fhir import definitions

log = logging.getLogger("firehouse.search")

ParamType = Literal[
    "number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special"
]
_TYPES = frozenset(ParamType.__args__)  # type: ignore[attr-defined]
# Bases meaning "every resource type".
_ALL = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True, slots=True)
class Component:
    definition: str  # the canonical URL of the component's own SearchParameter
    expression: str  # relative to the composite's element


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter as it applies to one resource type."""

    code: str
    url: str
    type: ParamType
    resource_type: str  # the type it applies to ("Resource" for the common ones)
    expression: str | None  # the parts of the definition's expression for this type
    description: str = ""
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    version: str | None = None
    source: str = "r4"  # r4, carin-bb or custom

    @property
    def common(self) -> bool:
        return self.resource_type == "Resource"


def split_union(expression: str) -> list[str]:
    """Top-level ``|`` alternatives of a FHIRPath expression (not inside () or quotes)."""
    parts: list[str] = []
    depth, start, quote = 0, 0, ""
    for i, ch in enumerate(expression):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


_ROOT = re.compile(r"^\(*\s*([A-Z][A-Za-z]*)\b")


def _root(part: str) -> str | None:
    found = _ROOT.match(part)
    return found.group(1) if found else None


def expression_for(expression: str | None, resource_type: str) -> str | None:
    """The alternatives of ``expression`` that apply to ``resource_type``.

    A shared definition such as ``clinical-patient`` lists one path per type
    (``AllergyIntolerance.patient | CarePlan.subject.where(...) | ...``);
    each type indexes only its own. Alternatives without a type root
    (``name | alias``) apply to every base.
    """
    if not expression:
        return None
    kept = []
    for part in split_union(expression):
        root = _root(part)
        if root is None or root == resource_type or root in _ALL:
            kept.append(part)
    return " | ".join(kept) if kept else None


def params_from_resource(resource: Mapping[str, Any], source: str) -> list[SearchParam]:
    """A SearchParameter resource as one :class:`SearchParam` per base type.

    Raises ValueError when it cannot serve as a search parameter.
    """
    code, type_, url = resource.get("code"), resource.get("type"), resource.get("url")
    if not isinstance(code, str) or not code or type_ not in _TYPES:
        raise ValueError("a SearchParameter needs a code and a known type")
    param_type: ParamType = type_  # type: ignore[assignment]  # checked just above
    bases = [b for b in resource.get("base") or () if isinstance(b, str)]
    if not bases:
        raise ValueError(f"SearchParameter {code!r} has no base")
    expression = resource.get("expression")
    components = tuple(
        Component(c["definition"], c["expression"])
        for c in resource.get("component") or ()
        if isinstance(c, dict) and "definition" in c and "expression" in c
    )
    made = []
    for base in bases:
        applies_to = "Resource" if base in _ALL else base
        made.append(
            SearchParam(
                code=code,
                url=url if isinstance(url, str) else f"urn:firehouse:search:{base}-{code}",
                type=param_type,
                resource_type=applies_to,
                expression=(
                    expression_for(expression, applies_to)
                    if applies_to != "Resource"
                    else expression
                ),
                description=str(resource.get("description") or ""),
                targets=tuple(resource.get("target") or ()),
                components=components,
                modifiers=tuple(resource.get("modifier") or ()),
                comparators=tuple(resource.get("comparator") or ()),
                version=resource.get("version"),
                source=source,
            )
        )
    return made


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (cache keys)
class Registry:
    """Every search parameter, by resource type and code; immutable."""

    by_type: Mapping[str, Mapping[str, SearchParam]]
    common: Mapping[str, SearchParam]
    by_url: Mapping[str, SearchParam]
    _merged: dict[str, Mapping[str, SearchParam]] = field(default_factory=dict, repr=False)

    def for_type(self, resource_type: str) -> Mapping[str, SearchParam]:
        """The parameters of one type, the common ones (``_id``...) included."""
        merged = self._merged.get(resource_type)
        if merged is None:
            merged = {**self.common, **self.by_type.get(resource_type, {})}
            self._merged[resource_type] = merged
        return merged

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self.for_type(resource_type).get(code)

    def with_params(self, params: Iterable[SearchParam]) -> Registry:
        """A new registry with ``params`` added (replacing same type and code)."""
        by_type = {t: dict(p) for t, p in self.by_type.items()}
        common = dict(self.common)
        by_url = dict(self.by_url)
        for param in params:
            if param.common:
                common[param.code] = param
            else:
                by_type.setdefault(param.resource_type, {})[param.code] = param
            by_url.setdefault(param.url, param)
        return Registry(by_type, common, by_url)


_EMPTY = Registry({}, {}, {})


def _carin() -> list[dict[str, Any]]:
    raw = resources.files(__package__).joinpath("data", "carin-bb.json").read_bytes()
    params: list[dict[str, Any]] = json.loads(raw)["parameters"]
    return params


@cache
def builtin() -> Registry:
    """The R4 and CARIN Blue Button parameters (built once, on first use)."""
    made: list[SearchParam] = []
    for definition in definitions.search_parameters():
        made.extend(params_from_resource(definition, "r4"))
    for definition in _carin():
        made.extend(params_from_resource(definition, "carin-bb"))
    return _EMPTY.with_params(made)
