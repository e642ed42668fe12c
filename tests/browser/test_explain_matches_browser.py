"""``firehouse cors check`` tells the truth: its verdict is what Chromium does.

:func:`firehouse.cors.explain.explain` replays the Fetch standard's checks
without a browser; here the same calls go through real Chromium against a
server running the same policy, and every verdict must match.
"""

from __future__ import annotations

from typing import Any

import pytest

from firehouse.cors.explain import explain
from tests.browser.conftest import Fhir, call, open_page
from tests.browser.servers import StaticSite

pytestmark = pytest.mark.browser

VALUES = {
    "Content-Type": "application/fhir+json",
    "If-Match": 'W/"1"',
    "Authorization": "Bearer t0k",
    "X-Trace": "1",
}
# (method, headers the page sets, credentials)
CALLS = [
    ("GET", [], False),
    ("GET", [], True),
    ("POST", ["Content-Type"], False),
    ("PUT", ["Content-Type", "If-Match"], False),
    ("PUT", ["Content-Type", "Authorization"], True),
    ("DELETE", [], False),
    ("PATCH", ["Content-Type"], False),
    ("GET", ["X-Trace"], False),
    ("GET", ["Authorization"], False),
]


@pytest.mark.parametrize("config", ["listed", "any"])
@pytest.mark.parametrize("site_name", ["a", "b"])
def test_every_verdict_matches_the_browser(
    context: Any,
    fhir_servers: Any,
    site_a: StaticSite,
    site_b: StaticSite,
    config: str,
    site_name: str,
) -> None:
    fhir: Fhir = fhir_servers(config)
    site = site_a if site_name == "a" else site_b
    page = open_page(context, site)
    verdicts = []
    for i, (method, headers, credentials) in enumerate(CALLS):
        init: dict[str, Any] = {
            "method": method,
            "headers": {name: VALUES[name] for name in headers},
            "credentials": "include" if credentials else "same-origin",
        }
        if method in ("POST", "PUT", "PATCH"):
            init["body"] = "{}"
        result = call(page, f"{fhir.url}/Patient/explain-{config}-{site_name}-{i}", init)
        predicted = explain(fhir.policy, site.origin, method, headers, credentials=credentials)
        verdicts.append(
            (
                method,
                headers,
                credentials,
                "error" not in result,
                predicted.allowed,
                predicted.reason,
            )
        )
    wrong = [v for v in verdicts if v[3] != v[4]]
    assert wrong == [], "browser and `cors check` disagree: (call, browser, check, reason)"
    # The table only proves something if it holds both outcomes where both exist.
    outcomes = {v[3] for v in verdicts}
    assert outcomes == ({False} if (config, site_name) == ("listed", "b") else {True, False})
