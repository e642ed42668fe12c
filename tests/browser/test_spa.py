"""``examples/spa`` works cross-origin, as its README promises, in real Chromium."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import TIMEOUT_MS, Fhir, open_page
from tests.browser.servers import StaticSite

pytestmark = pytest.mark.browser


@pytest.fixture
def readme_server(fhir_servers: Any) -> Fhir:
    """Firehouse started with the CORS flags of examples/spa/README.md."""
    fhir: Fhir = fhir_servers("spa-readme")
    return fhir


def spa(context: Any, site: StaticSite, fhir: Fhir) -> Any:
    return open_page(context, site, f"/spa/index.html?fhir={quote(fhir.url, safe='')}")


def test_create_a_patient_through_the_form_and_see_it_listed(
    context: Any, site_a: StaticSite, readme_server: Fhir
) -> None:
    from playwright.sync_api import expect

    page = spa(context, site_a, readme_server)
    status = page.locator("#status")
    expect(status).to_contain_text("patient(s) from", timeout=TIMEOUT_MS)
    family = f"Okafor-{uuid.uuid4().hex[:8]}"
    page.fill("#family", family)
    page.fill("#given", "Ada Grace")
    page.fill("#birthDate", "1990-05-01")
    page.select_option("#gender", "female")
    page.click("text=Create patient")

    # Location and ETag were readable from script: the page shows both.
    expect(status).to_contain_text(f"Created {readme_server.url}/Patient/", timeout=TIMEOUT_MS)
    expect(status).to_contain_text('ETag W/"1"')
    created = page.locator("#patients li", has_text=family)
    expect(created).to_have_text(re.compile(rf"{family}, Ada Grace, born 1990-05-01, female"))
    id = created.get_attribute("data-id")

    # The list from the server (a fresh cross-origin GET) has it too.
    page.reload()
    expect(page.locator(f'#patients li[data-id="{id}"]')).to_contain_text(family)
    assert page.locator("#status").get_attribute("data-kind") == "info"


def test_a_refused_origin_is_explained_on_the_page(
    context: Any, site_b: StaticSite, readme_server: Fhir
) -> None:
    from playwright.sync_api import expect

    page = spa(context, site_b, readme_server)
    status = page.locator("#status")
    expect(status).to_contain_text(f"--cors-origins {site_b.origin}", timeout=TIMEOUT_MS)
    assert status.get_attribute("data-kind") == "error"
    assert page.locator("#patients li").count() == 0
