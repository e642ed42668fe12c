"""FHIR JSON (https://hl7.org/fhir/R4/json.html) read and written without loss.

A FHIR ``decimal`` keeps its precision: ``120.00`` must come back as ``120.00``.
Floats cannot do that, so every JSON number with a fraction or exponent is kept
as :class:`JsonDecimal`, the literal text, and written back verbatim (so is an
integer literal too long for 64 bits). Other integers are plain ``int``.
Duplicate object keys and the non-JSON constants ``NaN``/``Infinity`` are
rejected, because FHIR forbids them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from firehouse.errors import invalid


class JsonDecimal:
    """A JSON number literal with a fraction or exponent, kept as written."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"JsonDecimal({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonDecimal) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __float__(self) -> float:
        return float(self.text)


class DuplicateKeyError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate property {key!r}")
            seen.add(key)
    return result


def _parse_int(text: str) -> int | JsonDecimal:
    # orjson writes 64-bit integers only; a longer literal is kept as text so a
    # large (valid) decimal such as 12345678901234567890 still round-trips.
    return int(text) if len(text) < 19 else JsonDecimal(text)


_decoder = json.JSONDecoder(
    parse_float=JsonDecimal,
    parse_int=_parse_int,
    parse_constant=_reject_constant,
    object_pairs_hook=_object_without_duplicates,
)


def loads(data: bytes | str) -> Any:
    """Parse JSON text, keeping decimals exact; raises FhirError(invalid) on bad JSON."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value, end = _decoder.raw_decode(text, _skip_ws(text, 0))
        if _skip_ws(text, end) != len(text):
            raise ValueError(f"extra data after the JSON value at character {end}")
        return value
    except UnicodeDecodeError as exc:
        raise invalid(f"The body is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise invalid(
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise invalid(f"The body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise invalid("The body is not valid JSON: nested too deeply") from exc


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _default(value: Any) -> Any:
    if isinstance(value, JsonDecimal):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise to UTF-8 JSON bytes; JsonDecimal literals are written verbatim."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(value, default=_default, option=option)
