"""UCUM canonical units for quantity search: https://hl7.org/fhir/R4/search.html#quantity.

The spec asks a server that searches ``http://unitsofmeasure.org`` quantities
to compare them in canonical units where it can, so ``5.4|...|mg`` finds a
stored ``0.0054 g`` and ``100|...|mg/dL`` finds ``1 g/L``. No maintained
UCUM library is on PyPI (pint is not UCUM: it reads neither ``mm[Hg]`` nor
``10*3/uL``), so this module implements the part of UCUM
(https://ucum.org/ucum) that clinical data uses: the grammar (``.`` and
``/``, exponents, parentheses, ``{annotations}``, ``10*n``), the metric
prefixes, and a table of the common units: SI base and derived units,
litres, time, ``%``, pressures (``mm[Hg]``, ``cm[H2O]``, ``bar``),
equivalents, ``osm``, international units, ``U``, ``kat``, ``cal``, and the
avoirdupois pound and ounce, inch and foot.

Limits, each leaving the quantity to match on its code as written:

- A code outside the table (or malformed) has no canonical form.
- ``Cel`` and ``[degF]`` are left out: their conversion adds an offset, and a
  range of temperatures would need a different comparison, not just a factor.
- UCUM is case-sensitive and so is this: ``Mg`` is a megagram, not ``mg``;
  ``MG/DL`` is not a unit. But ``l`` and ``L`` are both the litre in UCUM, so
  ``mg/dl`` and ``mg/dL`` are the same unit, as UCUM says.
- ``mol`` is kept as a base (UCUM defines it as 6.0221367e23, a number) so
  that amounts never compare equal to plain counts; ``eq`` and ``osm`` are moles.
- International units (``[iU]``, ``[IU]``) convert only among themselves.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from functools import cache

SYSTEM = "http://unitsofmeasure.org"

Dims = tuple[tuple[str, int], ...]

_PREFIXES: dict[str, Decimal] = {
    "Y": Decimal("1e24"),
    "Z": Decimal("1e21"),
    "E": Decimal("1e18"),
    "P": Decimal("1e15"),
    "T": Decimal("1e12"),
    "G": Decimal("1e9"),
    "M": Decimal("1e6"),
    "k": Decimal("1e3"),
    "h": Decimal("1e2"),
    "da": Decimal("1e1"),
    "d": Decimal("1e-1"),
    "c": Decimal("1e-2"),
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "n": Decimal("1e-9"),
    "p": Decimal("1e-12"),
    "f": Decimal("1e-15"),
    "a": Decimal("1e-18"),
    "z": Decimal("1e-21"),
    "y": Decimal("1e-24"),
}

# Pressure: kg/(m.s2) = 1000 g.m-1.s-2.
_PA = (Decimal(1000), {"g": 1, "m": -1, "s": -2})

# atom -> (metric: takes a prefix, factor to the base units, base units)
_ATOMS: dict[str, tuple[bool, Decimal, dict[str, int]]] = {
    "m": (True, Decimal(1), {"m": 1}),
    "g": (True, Decimal(1), {"g": 1}),
    "s": (True, Decimal(1), {"s": 1}),
    "K": (True, Decimal(1), {"K": 1}),
    "C": (True, Decimal(1), {"C": 1}),
    "cd": (True, Decimal(1), {"cd": 1}),
    "mol": (True, Decimal(1), {"mol": 1}),
    "eq": (True, Decimal(1), {"mol": 1}),
    "osm": (True, Decimal(1), {"mol": 1}),
    "kat": (True, Decimal(1), {"mol": 1, "s": -1}),
    "U": (True, Decimal(1) / Decimal(60_000_000), {"mol": 1, "s": -1}),  # umol/min
    "[iU]": (True, Decimal(1), {"[iU]": 1}),
    "[IU]": (True, Decimal(1), {"[iU]": 1}),
    "L": (True, Decimal("0.001"), {"m": 3}),
    "l": (True, Decimal("0.001"), {"m": 3}),
    "t": (True, Decimal(1_000_000), {"g": 1}),
    "Hz": (True, Decimal(1), {"s": -1}),
    "N": (True, Decimal(1000), {"g": 1, "m": 1, "s": -2}),
    "J": (True, Decimal(1000), {"g": 1, "m": 2, "s": -2}),
    "W": (True, Decimal(1000), {"g": 1, "m": 2, "s": -3}),
    "cal": (True, Decimal("4184"), {"g": 1, "m": 2, "s": -2}),
    "Pa": (True, *_PA),
    "bar": (True, _PA[0] * 100_000, _PA[1]),
    "m[Hg]": (True, _PA[0] * Decimal("133322"), _PA[1]),
    "m[H2O]": (True, _PA[0] * Decimal("9806.65"), _PA[1]),
    "min": (False, Decimal(60), {"s": 1}),
    "h": (False, Decimal(3600), {"s": 1}),
    "d": (False, Decimal(86400), {"s": 1}),
    "wk": (False, Decimal(604800), {"s": 1}),
    "mo": (False, Decimal(2629800), {"s": 1}),  # the mean Julian month
    "a": (False, Decimal(31557600), {"s": 1}),  # the Julian year
    "%": (False, Decimal("0.01"), {}),
    "[ppm]": (False, Decimal("1e-6"), {}),
    "[lb_av]": (False, Decimal("453.59237"), {"g": 1}),
    "[oz_av]": (False, Decimal("28.349523125"), {"g": 1}),
    "[in_i]": (False, Decimal("0.0254"), {"m": 1}),
    "[ft_i]": (False, Decimal("0.3048"), {"m": 1}),
    "10*": (False, Decimal(10), {}),
    "10^": (False, Decimal(10), {}),
}

_EXPONENT = re.compile(r"^(?P<unit>.*?[^\d+-])(?P<exp>[+-]?\d+)$")


class _NotUcum(ValueError):
    pass


Unit = tuple[Decimal, dict[str, int]]


def _times(a: Unit, b: Unit, sign: int) -> Unit:
    dims = dict(a[1])
    for base, exp in b[1].items():
        dims[base] = dims.get(base, 0) + sign * exp
    factor = a[0] * b[0] if sign > 0 else a[0] / b[0]
    return factor, {k: v for k, v in dims.items() if v}


def _atom(symbol: str) -> Unit:
    if symbol in _ATOMS:
        _, factor, dims = _ATOMS[symbol]
        return factor, dims
    # Two-letter ``da`` first, so ``dam`` is a decametre, not a deci-``am``.
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        atom = _ATOMS.get(symbol[len(prefix) :]) if symbol.startswith(prefix) else None
        if atom is not None and atom[0]:
            return _PREFIXES[prefix] * atom[1], atom[2]
    raise _NotUcum(symbol)


def _simple(symbol: str) -> Unit:
    if symbol.isdigit():
        return Decimal(symbol), {}
    if symbol in _ATOMS or not _EXPONENT.match(symbol):
        return _atom(symbol)
    found = _EXPONENT.match(symbol)
    assert found is not None
    factor, dims = _atom(found["unit"])
    exp = int(found["exp"])
    return factor**exp, {k: v * exp for k, v in dims.items()}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def term(self) -> Unit:
        unit: Unit = (Decimal(1), {})
        sign = 1
        if self.text.startswith("/", self.i):  # a leading ``/``: ``/min``
            self.i += 1
            sign = -1
        while True:
            unit = _times(unit, self.component(), sign)
            if self.i < len(self.text) and self.text[self.i] in "./":
                sign = 1 if self.text[self.i] == "." else -1
                self.i += 1
                continue
            return unit

    def component(self) -> Unit:
        if self.text.startswith("(", self.i):
            self.i += 1
            inner = self.term()
            if not self.text.startswith(")", self.i):
                raise _NotUcum(self.text)
            self.i += 1
            return inner
        start, depth = self.i, 0
        while self.i < len(self.text):
            char = self.text[self.i]
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
            elif depth == 0 and char in "./()":
                break
            self.i += 1
        # An annotation means nothing to the unit: ``{beats}/min`` is ``/min``.
        symbol = re.sub(r"\{[^{}]*\}", "", self.text[start : self.i])
        return (Decimal(1), {}) if not symbol else _simple(symbol)


@cache
def canonical(code: str) -> tuple[Decimal, str] | None:
    """(factor, canonical code) of a UCUM code, or None outside what is supported.

    ``value * factor`` in the canonical code equals ``value`` in ``code``:
    ``canonical("mg/dL") == (Decimal("10"), "g.m-3")``.
    """
    if not code or any(c.isspace() for c in code):
        return None
    with localcontext() as context:
        context.prec = 40  # exact for every factor in the table and their products
        try:
            parser = _Parser(code)
            factor, dims = parser.term()
        except (_NotUcum, ArithmeticError):
            return None
        if parser.i != len(code):
            return None
        name = ".".join(f"{b}{'' if e == 1 else e}" for b, e in sorted(dims.items())) or "1"
        return factor.normalize(), name
