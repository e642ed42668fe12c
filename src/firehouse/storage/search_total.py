"""``_total``: how many resources match, https://hl7.org/fhir/R4/search.html#total.

``accurate`` counts every match. ``estimate`` counts exactly up to
:data:`EXACT_UP_TO` matches, the same bounded work as a few pages, and past
that extrapolates from where the matches lie in key order: keys grow with
every write, so if the first ``EXACT_UP_TO`` matches (in key order) span a
fraction of the key range the matches occupy, the whole range holds about
``EXACT_UP_TO / fraction``. Each step reads at most ``EXACT_UP_TO`` matches
plus the first and last match by key (index walks), so an estimate costs the
same on a million matches as on ten thousand, where an accurate count grows
with the result.

Both start from what the page already knows: a first page without a ``next``
holds every match, so its length is the exact total and no count runs.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, FromClause, func, select

# Below this many matches an estimate is the exact count.
EXACT_UP_TO = 10_000


def total(
    conn: Connection,
    r: FromClause,
    where: list[ColumnElement[bool]],
    *,
    estimate: bool,
    first_page_rows: int | None,
) -> int:
    """The number of rows of ``r`` meeting ``where``, counted or estimated.

    ``first_page_rows`` is the row count of a first page that has no next page.
    """
    if first_page_rows is not None:
        return first_page_rows
    if not estimate:
        return int(conn.execute(select(func.count()).select_from(r).where(*where)).scalar_one())
    capped = select(r.c.key).where(*where).order_by(r.c.key).limit(EXACT_UP_TO + 1).subquery()
    counted = int(conn.execute(select(func.count()).select_from(capped)).scalar_one())
    if counted <= EXACT_UP_TO:
        return counted
    return _extrapolated(conn, r, where)


def _extrapolated(conn: Connection, r: FromClause, where: list[ColumnElement[bool]]) -> int:
    def key_at(offset: int, *, last: bool = False) -> int | None:
        order = r.c.key.desc() if last else r.c.key
        stmt = select(r.c.key).where(*where).order_by(order).offset(offset).limit(1)
        found = conn.execute(stmt).scalar()
        return None if found is None else int(found)

    first, last = key_at(0), key_at(0, last=True)
    nth = key_at(EXACT_UP_TO - 1)
    if first is None or last is None or nth is None:
        # Deleted by another writer between the statements: the sample is the best figure.
        return EXACT_UP_TO
    # The matches after the sample are at least as many as their keys allow (≥ 1 each).
    spread = (last - first + 1) / (nth - first + 1)
    return max(EXACT_UP_TO + 1, round(EXACT_UP_TO * spread))
