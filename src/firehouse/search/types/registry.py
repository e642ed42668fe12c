"""Which module serves which parameter type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from firehouse.search.fhirpath import Typed
from firehouse.search.types import date, number, quantity, reference, string, token, uri
from firehouse.search.types.base import QueryContext
from firehouse.storage.criteria import Condition, IndexKind, IndexRow


class TypeModule(Protocol):
    KIND: IndexKind
    MODIFIERS: frozenset[str]

    def rows(
        self, param: str, values: Sequence[Typed], group: int | None = None
    ) -> list[IndexRow]: ...

    def condition(self, text: str, modifier: str | None, ctx: QueryContext) -> Condition: ...


MODULES: dict[str, TypeModule] = {
    "string": string,
    "token": token,
    "date": date,
    "number": number,
    "quantity": quantity,
    "reference": reference,
    "uri": uri,
}
