"""quantity parameters: https://hl7.org/fhir/R4/search.html#quantity.

``[prefix][number]|[system]|[code]``: the number as for number parameters,
then the unit: with a system, code and system must both match; ``5||mg``
matches the unit code or, where there is none, the unit text. A Range
(``Condition.onset.as(Range)``) is indexed as its low..high.
Unit conversion (UCUM canonical forms) is not done: units must match as written.
"""

from __future__ import annotations

from collections.abc import Sequence

from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_escaped, unescape
from firehouse.search.types.number import bounds, parse_value, range_condition
from firehouse.storage.criteria import IndexKind, IndexRow, QuantityRow, RangeCond

KIND = IndexKind.QUANTITY
MODIFIERS: frozenset[str] = frozenset()


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    made: list[IndexRow] = []
    for _, value in values:
        if not isinstance(value, dict):
            continue
        if "low" in value or "high" in value:  # a Range: the unit of either end
            end = value.get("low") or value.get("high") or {}
            system, code, unit = end.get("system"), end.get("code"), end.get("unit")
            spans = list(bounds(value))
        else:
            system = value.get("system")
            code = value.get("code") or value.get("currency")
            unit = value.get("unit")
            spans = list(bounds(value.get("value")))
        for low, high in spans:
            made.append(QuantityRow(param, low, high, system, code or unit, group))
            if unit and code and unit != code:
                made.append(QuantityRow(param, low, high, None, unit, group))
    return made


def condition(text: str, modifier: str | None, ctx: QueryContext) -> RangeCond:
    parts = split_escaped(text, "|")
    if len(parts) not in (1, 3):
        raise BadValue(f"a quantity is [prefix]number|system|code, got {text[:80]!r}")
    op, value = parse_value(unescape(parts[0]))
    cond = range_condition(op, value)
    if len(parts) == 3:
        system, code = unescape(parts[1]) or None, unescape(parts[2]) or None
        return RangeCond(cond.op, cond.low, cond.high, cond.high_open, system=system, code=code)
    return cond
