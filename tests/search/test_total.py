"""``_total``: https://hl7.org/fhir/R4/search.html#total.

``accurate`` is the exact count; ``estimate`` is exact up to a bound and an
extrapolation beyond it (storage/search_total.py); ``none`` (the default)
gives no total.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from firehouse.storage import search_total
from tests.search.conftest import put


@pytest.fixture(scope="module")
def loaded(api: TestClient) -> TestClient:
    for i in range(40):
        put(api, {"resourceType": "Patient", "id": f"tot{i}", "name": [{"family": "Totalis"}]})
        # Other writes between the matches, so their keys are not contiguous.
        put(api, {"resourceType": "Basic", "id": f"totb{i}", "code": {"text": "filler"}})
    return api


def _total(client: TestClient, query: str) -> int | None:
    bundle = client.get(f"/Patient?family=totalis&{query}").json()
    total = bundle.get("total")
    assert total is None or isinstance(total, int)
    return total


@pytest.mark.parametrize("count", [5, 40, 100])
def test_accurate_and_small_estimates_are_exact(loaded: TestClient, count: int) -> None:
    assert _total(loaded, f"_count={count}") is None
    assert _total(loaded, f"_count={count}&_total=accurate") == 40
    assert _total(loaded, f"_count={count}&_total=estimate") == 40
    assert _total(loaded, f"_count={count}&_total=estimate&_sort=-_id") == 40


def test_a_later_page_still_counts_every_match(loaded: TestClient) -> None:
    first = loaded.get("/Patient?family=totalis&_count=15&_total=accurate").json()
    later = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert loaded.get(later.removeprefix("http://fhir.test")).json()["total"] == 40


def test_a_large_result_is_estimated_from_a_bounded_sample(
    loaded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_total, "EXACT_UP_TO", 6)
    estimate = _total(loaded, "_count=5&_total=estimate")
    assert estimate is not None and 30 <= estimate <= 50
    assert _total(loaded, "_count=5&_total=accurate") == 40
    # A narrow search stays below the bound: exact.
    assert _total(loaded, "_id=tot1,tot2,tot3&_count=2&_total=estimate") == 3
