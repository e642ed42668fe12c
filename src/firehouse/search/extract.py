"""Index rows of a resource, from its type's SearchParameter expressions.

https://hl7.org/fhir/R4/searchparameter.html#expression. Runs on every write,
inside the write's transaction (``storage.base.Indexer``). Each type's
parameters are compiled once per registry and cached. A value that cannot
be indexed (a malformed date in a resource, an expression the engine cannot
run) logs a warning and is left out: it never fails the write.

``_id`` and ``_lastUpdated`` are columns of the resources table, not rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from firehouse.search.fhirpath import Evaluator, Typed, compile_expression
from firehouse.search.registry import Registry, SearchParam
from firehouse.search.types.registry import MODULES, TypeModule
from firehouse.storage.criteria import IndexRow

log = logging.getLogger("firehouse.search")

COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class _Simple:
    param: SearchParam
    evaluate: Evaluator
    module: TypeModule

    def rows(self, resource: Mapping[str, Any]) -> list[IndexRow]:
        return self.module.rows(self.param.code, self.evaluate(resource))


@dataclass(slots=True)
class _Composite:
    param: SearchParam
    evaluate: Evaluator
    components: tuple[tuple[str, TypeModule], ...]  # (expression, module)
    # Component evaluators per element type, compiled on first sight of the type.
    compiled: dict[str, tuple[Evaluator, ...]]

    def _for(self, element_type: str) -> tuple[Evaluator, ...]:
        found = self.compiled.get(element_type)
        if found is None:
            found = tuple(compile_expression(expr, element_type) for expr, _ in self.components)
            self.compiled[element_type] = found
        return found

    def rows(self, resource: Mapping[str, Any]) -> list[IndexRow]:
        made: list[IndexRow] = []
        for group, (element_type, element) in enumerate(self.evaluate(resource)):
            if element_type is None:
                continue
            for i, (evaluate, (_, module)) in enumerate(
                zip(self._for(element_type), self.components, strict=True)
            ):
                values: Sequence[Typed] = evaluate(element)
                made.extend(module.rows(f"{self.param.code}${i}", values, group))
        return made


_Compiled = _Simple | _Composite


def compile_param(param: SearchParam, registry: Registry) -> _Compiled | None:
    """What indexing ``param`` takes, or None when it is not indexed."""
    if param.code in COLUMN_PARAMS or not param.expression:
        return None
    resource_type = param.resource_type
    if param.type == "composite":
        components = []
        for component in param.components:
            definition = registry.by_url.get(component.definition)
            if definition is None or definition.type not in MODULES:
                raise ValueError(f"component {component.definition} is not a known parameter")
            components.append((component.expression, MODULES[definition.type]))
        if not components:
            return None
        evaluate = compile_expression(param.expression, resource_type)
        return _Composite(param, evaluate, tuple(components), {})
    module = MODULES.get(param.type)
    if module is None:
        return None
    return _Simple(param, compile_expression(param.expression, resource_type), module)


class Extractor:
    """Implements :class:`firehouse.storage.base.Indexer` over a changing registry."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        on_search_parameter: Callable[[], None] | None = None,
    ) -> None:
        self._registry = registry
        # Told when a SearchParameter is written, so the registry can change.
        self._on_search_parameter = on_search_parameter
        # Per type: the registry it was compiled from, and the result.
        self._cache: dict[str, tuple[Registry, tuple[_Compiled, ...]]] = {}

    def _compiled(self, registry: Registry, resource_type: str) -> tuple[_Compiled, ...]:
        cached = self._cache.get(resource_type)
        if cached is not None and cached[0] is registry:
            return cached[1]
        made = []
        for param in registry.for_type(resource_type).values():
            # A common param (Resource.meta.tag) compiles against the concrete type.
            if param.common:
                param = replace(param, resource_type=resource_type)
            try:
                compiled = compile_param(param, registry)
            except Exception as exc:
                log.warning("search parameter %s is not indexed: %s", param.url, exc)
                continue
            if compiled is not None:
                made.append(compiled)
        found = tuple(made)
        self._cache[resource_type] = (registry, found)
        return found

    def rows(self, resource_type: str, resource: Mapping[str, Any]) -> list[IndexRow]:
        registry = self._registry()
        if resource_type == "SearchParameter" and self._on_search_parameter is not None:
            self._on_search_parameter()
        made: list[IndexRow] = []
        for compiled in self._compiled(registry, resource_type):
            try:
                made.extend(compiled.rows(resource))
            except Exception as exc:
                log.warning(
                    "%s/%s: a value of %s is not indexed: %s",
                    resource_type,
                    resource.get("id"),
                    compiled.param.code,
                    exc,
                )
        return made
