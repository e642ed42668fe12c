"""The browser's preflight cache follows ``maxAge`` (``Access-Control-Max-Age``).

https://fetch.spec.whatwg.org/#cors-preflight-cache: within max age, a second
identical call needs no new preflight; ``maxAge: 0`` (sent as ``0``, cors.md)
means every call asks first. Counted where the preflights arrive, at the proxy
in front of the server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.browser.conftest import Fhir, call

pytestmark = pytest.mark.browser


def put_twice(page: Any, fhir: Fhir) -> str:
    """Two identical preflighted PUTs (update-as-create, then update) to a fresh URL."""
    id = f"cache-{uuid.uuid4().hex[:12]}"
    path = f"/Patient/{id}"
    init = {
        "method": "PUT",
        "headers": {"Content-Type": "application/fhir+json"},
        "body": json.dumps({"resourceType": "Patient", "id": id}),
    }
    statuses = [call(page, f"{fhir.url}{path}", init).get("status") for _ in range(2)]
    assert statuses == [201, 200]
    assert [s.method for s in fhir.proxy.seen(path) if s.method == "PUT"] == ["PUT", "PUT"]
    return path


def test_within_max_age_the_second_call_needs_no_preflight(page_a: Any, listed: Fhir) -> None:
    assert listed.policy.max_age == 600
    path = put_twice(page_a, listed)
    preflights = listed.proxy.preflights(path)
    assert len(preflights) == 1
    assert preflights[0].headers["access-control-request-method"] == "PUT"


def test_max_age_0_means_a_preflight_for_every_call(page_a: Any, no_cache: Fhir) -> None:
    assert no_cache.policy.max_age == 0
    path = put_twice(page_a, no_cache)
    assert len(no_cache.proxy.preflights(path)) == 2
