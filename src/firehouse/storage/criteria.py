"""What the search layer hands to storage: index rows on write, a criteria tree on search.

The search layer (``firehouse.search``) knows FHIR: SearchParameters, prefixes,
modifiers, partial dates. Storage knows tables. This module is the narrow
vocabulary between them: plain frozen dataclasses, no SQL and no FHIR rules.
Storage turns a criteria tree into portable SQL (``search_sql.py``).

Values arrive already normalised: strings folded (see
:func:`firehouse.search.types.string.normalise`), dates as integer
microseconds since the epoch (UTC, inclusive ranges), decimals as
order-preserving text keys (:func:`firehouse.search.decimals.decimal_key`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

# ---------------------------------------------------------------- index rows


@dataclass(frozen=True, slots=True)
class StringRow:
    param: str
    norm: str  # lower-case, accents folded: prefix and :contains match this
    exact: str  # as written: :exact matches this
    group: int | None = None  # composite params: rows of one element share it


@dataclass(frozen=True, slots=True)
class TokenRow:
    param: str
    system: str | None
    code: str | None
    text: str | None = None  # normalised display / text, for :text
    group: int | None = None  # composite params: rows of one element share it


@dataclass(frozen=True, slots=True)
class DateRow:
    param: str
    low: int  # microseconds since the epoch, UTC, inclusive
    high: int  # inclusive
    group: int | None = None  # composite params: rows of one element share it


@dataclass(frozen=True, slots=True)
class NumberRow:
    param: str
    low: str  # decimal keys, inclusive
    high: str
    group: int | None = None  # composite params: rows of one element share it


# The system of the extra quantity rows in UCUM canonical units (search/ucum.py):
# only a search naming the UCUM system reads them.
UCUM_CANONICAL = "urn:firehouse:ucum-canonical"


@dataclass(frozen=True, slots=True)
class QuantityRow:
    param: str
    low: str
    high: str
    system: str | None
    code: str | None  # the unit code, or the unit text when there is no code
    group: int | None = None  # composite params: rows of one element share it


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    param: str
    target_type: str | None = None
    target_id: str | None = None
    url: str | None = None  # an absolute or canonical URL as written (canonical without |version)
    version: str | None = None  # a canonical's version
    identifier_system: str | None = None
    identifier_value: str | None = None
    group: int | None = None  # composite params: rows of one element share it


@dataclass(frozen=True, slots=True)
class UriRow:
    param: str
    value: str
    group: int | None = None  # composite params: rows of one element share it


IndexRow = StringRow | TokenRow | DateRow | NumberRow | QuantityRow | ReferenceRow | UriRow


class IndexKind(enum.Enum):
    """One index table per kind of value."""

    STRING = "string"
    TOKEN = "token"
    DATE = "date"
    NUMBER = "number"
    QUANTITY = "quantity"
    REFERENCE = "reference"
    URI = "uri"


ROW_KIND: dict[type[IndexRow], IndexKind] = {
    StringRow: IndexKind.STRING,
    TokenRow: IndexKind.TOKEN,
    DateRow: IndexKind.DATE,
    NumberRow: IndexKind.NUMBER,
    QuantityRow: IndexKind.QUANTITY,
    ReferenceRow: IndexKind.REFERENCE,
    UriRow: IndexKind.URI,
}


# ---------------------------------------------------------------- conditions on one index row

# The comparisons of https://hl7.org/fhir/R4/search.html#prefix, applied to
# ranges: the target's [low, high] against the search value's [low, high].
RangeOp = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]


@dataclass(frozen=True, slots=True)
class StringCond:
    mode: Literal["prefix", "exact", "contains"]
    value: str  # normalised for prefix/contains, as given for exact


@dataclass(frozen=True, slots=True)
class TokenCond:
    code: str | None = None
    system: str | None = None
    # Whether ``system`` constrains: ``|code`` means "no system" (system None,
    # match_system True); a bare ``code`` means any system.
    match_system: bool = False
    text: str | None = None  # :text, a normalised prefix of display/text


@dataclass(frozen=True, slots=True)
class RangeCond:
    """A date, number or quantity comparison; ``low``/``high`` are ints or decimal keys."""

    op: RangeOp
    low: int | str
    high: int | str
    # Numbers: ``high`` excluded (100 means [99.5, 100.5), search.html#number).
    high_open: bool = False
    # For quantities: the unit, matched on code (and system when given).
    system: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ReferenceCond:
    target_type: str | None = None
    target_id: str | None = None
    # Absolute URLs that also mean this target (this server's base + Type/id).
    urls: tuple[str, ...] = ()
    url: str | None = None  # match on url (canonical or absolute)
    version: str | None = None
    identifier_system: str | None = None
    identifier_value: str | None = None
    match_identifier_system: bool = False


@dataclass(frozen=True, slots=True)
class UriCond:
    mode: Literal["eq", "below", "above"]
    values: tuple[str, ...]  # for above: every prefix that matches


Condition = StringCond | TokenCond | RangeCond | ReferenceCond | UriCond


# ---------------------------------------------------------------- the criteria tree


@dataclass(frozen=True, slots=True)
class Match:
    """Resources with at least one index row of ``param`` meeting ``condition``.

    ``resource_type`` None matches the param on any type (system-level search).
    """

    kind: IndexKind
    resource_type: str | None
    param: str
    condition: Condition


@dataclass(frozen=True, slots=True)
class Missing:
    """``:missing``: resources with no (``missing=True``) or some index row of ``param``."""

    kind: IndexKind
    resource_type: str | None
    param: str
    missing: bool


@dataclass(frozen=True, slots=True)
class IdIn:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TypeIn:
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LastUpdated:
    op: RangeOp
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Criteria, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Criteria, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Criteria


@dataclass(frozen=True, slots=True)
class Chain:
    """Resources whose reference ``param`` points at a ``target_type`` meeting ``where``.

    https://hl7.org/fhir/R4/search.html#chaining. ``local_base`` is this
    server's base URL, so absolute references to it count too.
    """

    resource_type: str | None
    param: str
    target_type: str
    where: Criteria
    local_base: str | None = None


@dataclass(frozen=True, slots=True)
class Has:
    """Resources that a ``source_type`` meeting ``where`` points at through ``param``.

    https://hl7.org/fhir/R4/search.html#has (reverse chaining).
    """

    source_type: str
    param: str
    target_type: str
    where: Criteria
    local_base: str | None = None


@dataclass(frozen=True, slots=True)
class Composite:
    """Rows of several params written from one element (``component-code-value-quantity``).

    Part ``i`` matches rows of param ``f"{param}${i}"`` in its kind's table;
    all parts must share the row ``group``, so they come from the same element.
    """

    resource_type: str | None
    param: str
    parts: tuple[tuple[IndexKind, Condition], ...]


@dataclass(frozen=True, slots=True)
class Nothing:
    """Matches no resource (for example a chain whose target type has no such param)."""


Criteria = (
    Match
    | Missing
    | IdIn
    | TypeIn
    | LastUpdated
    | And
    | Or
    | Not
    | Chain
    | Has
    | Composite
    | Nothing
)


# ---------------------------------------------------------------- queries and pages


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``_sort`` key: an index param (by its lowest value; highest when descending),
    or the resource columns ``_id`` / ``_lastUpdated``."""

    kind: IndexKind | Literal["_id", "_lastUpdated"]
    param: str
    descending: bool = False


# A page boundary: the sort values of the last entry shown, then its key.
Cursor = tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_types: tuple[str, ...] | None  # None: every type (system search)
    criteria: Criteria | None = None
    sort: tuple[SortKey, ...] = ()
    after: Cursor | None = None
    count: int = 20
    total: bool = False  # also count every match
    estimate: bool = False  # the count may be an estimate (search_total.py)


@dataclass(frozen=True, slots=True)
class SearchHit:
    key: int
    resource_type: str
    id: str
    version: int
    last_updated_micros: int
    body: bytes


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    next_cursor: Cursor | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class IncludeQuery:
    """``_include``: the targets of ``params`` of the resources ``keys``.

    ``params`` empty means every reference param (``_include=Type:*``).
    ``target_type`` restricts the targets (``_include=Type:param:Target``).
    """

    keys: tuple[int, ...]
    source_type: str
    params: tuple[str, ...] = ()
    target_type: str | None = None
    local_base: str | None = None


@dataclass(frozen=True, slots=True)
class RevIncludeQuery:
    """``_revinclude``: resources of ``source_type`` pointing at ``targets`` by ``params``."""

    targets: tuple[tuple[str, str], ...]  # (type, id)
    source_type: str
    params: tuple[str, ...] = ()
    local_base: str | None = None
    where: Criteria | None = None  # an extra filter on the sources (compartments)
