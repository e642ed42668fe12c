"""number parameters: https://hl7.org/fhir/R4/search.html#number.

A search value's precision is its range: ``100`` means [99.5, 100.5),
``100.00`` [99.995, 100.005), ``1e2`` [50, 150). ``eq``/``ne`` use that range,
the other prefixes the exact value, ``ap`` +/- 10% of it. Values are compared
exactly (decimal keys, ``firehouse.search.decimals``), never as floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from firehouse.fhir.json import JsonDecimal
from firehouse.search.decimals import HIGHEST, LOWEST, decimal_key, parse_decimal
from firehouse.search.fhirpath import Typed
from firehouse.search.types.base import BadValue, QueryContext, split_prefix, unescape
from firehouse.storage.criteria import IndexKind, IndexRow, NumberRow, RangeCond, RangeOp

KIND = IndexKind.NUMBER
MODIFIERS: frozenset[str] = frozenset()


def as_decimal(value: Any) -> Decimal | None:
    """A JSON number (int or :class:`JsonDecimal`) as a Decimal; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, JsonDecimal):
        return parse_decimal(value.text)
    if isinstance(value, float):
        return Decimal(repr(value))
    return None


def bounds(value: Any) -> Iterator[tuple[str, str]]:
    """(low, high) keys of a number or a Range of numbers/quantities."""
    number = as_decimal(value)
    if number is not None:
        key = decimal_key(number)
        yield key, key
    elif isinstance(value, dict) and ("low" in value or "high" in value):
        low = as_decimal((value.get("low") or {}).get("value"))
        high = as_decimal((value.get("high") or {}).get("value"))
        if low is not None or high is not None:
            yield (
                decimal_key(low) if low is not None else LOWEST,
                decimal_key(high) if high is not None else HIGHEST,
            )


def rows(param: str, values: Sequence[Typed], group: int | None = None) -> list[IndexRow]:
    return [
        NumberRow(param, low, high, group) for _, value in values for low, high in bounds(value)
    ]


def implicit_range(value: Decimal) -> tuple[Decimal, Decimal]:
    """[low, high) that ``value``'s precision stands for (search.html#number)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return value - half, value + half


def range_condition(op: RangeOp, value: Decimal, scale: Decimal = Decimal(1)) -> RangeCond:
    """The comparison for one prefixed number; quantities reuse it.

    ``scale`` (positive) converts the bounds into another unit after the
    precision range is taken from the value as written (UCUM canonical units).
    """

    def key(bound: Decimal) -> str:
        return decimal_key(bound * scale)

    if op in ("eq", "ne"):
        low, high = implicit_range(value)
        return RangeCond(op, key(low), key(high), high_open=True)
    if op == "ap":
        spread = abs(value) / 10
        low, high = implicit_range(value)
        return RangeCond(op, key(min(low, value - spread)), key(max(high, value + spread)))
    return RangeCond(op, key(value), key(value))


def parse_value(text: str) -> tuple[RangeOp, Decimal]:
    prefix, rest = split_prefix(text)
    try:
        return prefix, parse_decimal(rest)  # type: ignore[return-value]
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def condition(text: str, modifier: str | None, ctx: QueryContext) -> RangeCond:
    op, value = parse_value(unescape(text))
    return range_condition(op, value)
