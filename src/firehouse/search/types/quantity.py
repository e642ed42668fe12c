"""quantity parameters: https://hl7.org/fhir/R4/search.html#quantity.

``[prefix][number]|[system]|[code]``: the number as for number parameters,
then the unit: with a system, code and system must both match; ``5||mg``
matches the unit code or, where there is none, the unit text. A Range
(``Condition.onset.as(Range)``) is indexed as its low..high.

A UCUM quantity (system ``http://unitsofmeasure.org``) whose code
:mod:`firehouse.search.ucum` knows is also indexed in canonical units, and a
search naming the UCUM system with such a code compares there, as the spec
recommends: ``5.4|http://unitsofmeasure.org|mg`` finds ``0.0054 g``. Other
units (and searches without the system) match on the code as written, case
included. Resources stored before this indexing need ``firehouse db reindex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from firehouse.search import ucum
from firehouse.search.decimals import HIGHEST, LOWEST, decimal_key
from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_escaped, unescape
from firehouse.search.types.number import as_decimal, bounds, parse_value, range_condition
from firehouse.storage.criteria import (
    UCUM_CANONICAL,
    IndexKind,
    IndexRow,
    QuantityRow,
    RangeCond,
)

KIND = IndexKind.QUANTITY
MODIFIERS: frozenset[str] = frozenset()


def _scaled(value: Any, factor: Decimal, missing: str) -> str:
    number = as_decimal(value)
    return decimal_key(number * factor) if number is not None else missing


def _canonical(param: str, value: dict[str, Any], group: int | None) -> QuantityRow | None:
    """The row of ``value`` in UCUM canonical units, when it has them."""
    is_range = "low" in value or "high" in value
    end = (value.get("low") or value.get("high") or {}) if is_range else value
    if end.get("system") != ucum.SYSTEM or not isinstance(end.get("code"), str):
        return None
    found = ucum.canonical(end["code"])
    if found is None:
        return None
    factor, code = found
    if is_range:
        low = _scaled((value.get("low") or {}).get("value"), factor, LOWEST)
        high = _scaled((value.get("high") or {}).get("value"), factor, HIGHEST)
    else:
        low = high = _scaled(value.get("value"), factor, "")
    if not low or (low, high) == (LOWEST, HIGHEST):
        return None
    return QuantityRow(param, low, high, UCUM_CANONICAL, code, group)


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
        canonical = _canonical(param, value, group) if spans else None
        if canonical is not None:
            made.append(canonical)
    return made


def condition(text: str, modifier: str | None, ctx: QueryContext) -> RangeCond:
    parts = split_escaped(text, "|")
    if len(parts) not in (1, 3):
        raise BadValue(f"a quantity is [prefix]number|system|code, got {text[:80]!r}")
    op, value = parse_value(unescape(parts[0]))
    cond = range_condition(op, value)
    if len(parts) == 3:
        system, code = unescape(parts[1]) or None, unescape(parts[2]) or None
        found = ucum.canonical(code) if system == ucum.SYSTEM and code else None
        if found is not None:
            factor, canonical = found
            scaled = range_condition(op, value, factor)
            return RangeCond(
                op, scaled.low, scaled.high, scaled.high_open, UCUM_CANONICAL, canonical
            )
        return RangeCond(cond.op, cond.low, cond.high, cond.high_open, system=system, code=code)
    return cond
