"""Exact decimals as text that sorts in numeric order, for portable range queries.

FHIR decimals keep their precision (https://hl7.org/fhir/R4/datatypes.html#decimal)
and search compares them exactly; SQLite has no exact decimal column type.
So a value is stored as a key whose byte order is its numeric order, and
both backends compare keys as plain text:

- sign: ``1`` negative, ``2`` zero, ``3`` positive;
- positive ``0.d1d2... x 10^e``: ``e + 5000`` in four digits, then the digits
  without trailing zeros (so 1.50 and 1.5 have the same key);
- negative: the exponent and digits are complemented, ending in ``~`` (which
  sorts after every digit) so that a longer magnitude sorts first.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_BIAS = 5000
LOWEST = "0"  # below every key
HIGHEST = "4"  # above every key


def parse_decimal(text: str) -> Decimal:
    """A finite decimal from its text; ValueError otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text[:40]!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text[:40]!r}")
    return value


def decimal_key(value: Decimal) -> str:
    if value.is_zero():
        return "2"
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0")
    # value = 0.<digits> x 10^e with a non-zero first digit.
    e = len(digits) + exponent
    e = max(min(e, _BIAS - 1), -_BIAS + 1)
    if not sign:
        return f"3{e + _BIAS:04d}{text}"
    complement = "".join(str(9 - int(d)) for d in text)
    return f"1{_BIAS - e:04d}{complement}~"
