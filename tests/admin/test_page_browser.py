"""The settings page in real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright, which never downloads a browser here).

Log in, edit the policy on the page, save, reload and see it stored; invalid
input shows its message next to its field and changes nothing; ``*`` origins
disables Allow credentials. Each test leaves screenshots in
``artifacts/screenshots/`` for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.support.server import ServerProcess, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TOKEN = "browser-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = start_server(tmp_path / "page.db", "--admin-token", TOKEN)
    yield process
    process.stop()


@pytest.fixture
def page(browser: Any, server: ServerProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


def stored(server: ServerProcess) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{server.url}/admin/cors", headers=AUTH).json()
    return result


def log_in(page: Any, server: ServerProcess) -> None:
    page.goto(f"{server.url}/admin/")
    assert page.url.endswith("/admin/login")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/admin/")


def test_log_in_edit_save_reload_and_see_it_stored(page: Any, server: ServerProcess) -> None:
    page.goto(f"{server.url}/admin/")
    shot(page, "1-login")
    page.get_by_label("Admin token").fill("not the token")
    page.get_by_role("button", name="Sign in").click()
    assert page.locator("#token-error").inner_text() == "That is not the admin token."
    log_in(page, server)
    assert "Version 0" in page.locator("#current-version").inner_text()
    page.get_by_label("Allowed origins").fill("https://app.example.com\nhttps://admin.example.com")
    page.get_by_label("Allowed headers").fill("authorization, content-type")
    page.get_by_label("GET", exact=True).check()
    page.get_by_label("PUT", exact=True).check()
    page.get_by_label("Max age (seconds)").fill("600")
    page.get_by_label("Allow credentials").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/?saved=1")
    assert "Saved as version 1" in page.locator("#notice").inner_text()
    page.reload()
    assert page.get_by_label("Allowed origins").input_value() == (
        "https://app.example.com\nhttps://admin.example.com"
    )
    assert page.get_by_label("PUT", exact=True).is_checked()
    assert not page.get_by_label("DELETE", exact=True).is_checked()
    assert page.get_by_label("Max age (seconds)").input_value() == "600"
    assert page.get_by_label("Allow credentials").is_checked()
    assert "Version 1, saved" in page.locator("#current-version").inner_text()
    assert "v1" in page.locator("#history").inner_text()
    shot(page, "2-saved")
    policy = stored(server)
    assert policy["origins"] == ["https://app.example.com", "https://admin.example.com"]
    assert policy["methods"] == ["GET", "PUT"] and policy["maxAge"] == 600
    assert policy["allowCredentials"] is True
    # The FHIR API follows: a preflight from the new origin is granted.
    granted = httpx.options(
        f"{server.url}/Patient",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"},
    )
    assert granted.headers["access-control-allow-origin"] == "https://app.example.com"


def test_invalid_input_shows_its_message_next_to_the_field_and_changes_nothing(
    page: Any, server: ServerProcess
) -> None:
    log_in(page, server)
    page.get_by_label("Allowed origins").fill("https://ok.example\nhttps://bad.example/path")
    page.get_by_label("Max age (seconds)").fill("100000")
    page.get_by_role("button", name="Save").click()
    origins_error = page.locator(".field:has(#origins) .field-error")
    max_age_error = page.locator(".field:has(#max_age) .field-error")
    assert "https://bad.example/path" in origins_error.inner_text()
    assert "has a path" in origins_error.inner_text()
    assert "100000 is out of range" in max_age_error.inner_text()
    assert page.locator("#not-saved").is_visible()
    assert page.get_by_label("Allowed origins").get_attribute("aria-invalid") == "true"
    # The typed values stay, to be corrected.
    assert "bad.example/path" in page.get_by_label("Allowed origins").input_value()
    shot(page, "3-invalid")
    assert stored(server)["version"] == 0


def test_star_origins_disables_allow_credentials_with_the_reason(
    page: Any, server: ServerProcess
) -> None:
    log_in(page, server)
    credentials = page.get_by_label("Allow credentials")
    credentials.check()
    assert not page.locator("#credentials-reason").is_visible()
    page.get_by_label("Allowed origins").fill("*")
    assert credentials.is_disabled() and not credentials.is_checked()
    assert "Not available while Allowed origins contains *" in (
        page.locator("#credentials-reason").inner_text()
    )
    assert "Security risk" in page.locator("#origins-any-warning").inner_text()
    page.get_by_label("Select all").check()
    assert page.get_by_label("PATCH", exact=True).is_checked()
    shot(page, "4-star-origins")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/?saved=1")
    assert page.get_by_label("Allow credentials").is_disabled()
    assert "security risk" in page.locator(".alert.warning").inner_text()
    policy = stored(server)
    assert policy["origins"] == ["*"] and policy["methods"] == ["*"]
    assert policy["allowCredentials"] is False
    # Back to a listed origin: the checkbox is usable again.
    page.get_by_label("Allowed origins").fill("https://app.example.com")
    assert page.get_by_label("Allow credentials").is_enabled()


def test_a_conflicting_save_is_refused_and_the_test_box_answers(
    page: Any, server: ServerProcess
) -> None:
    log_in(page, server)
    # Another administrator saves while this page is open.
    httpx.put(
        f"{server.url}/admin/cors",
        json={"origins": ["https://other.example"], "methods": ["GET"]},
        headers={**AUTH, "If-Match": '"0"'},
    )
    page.get_by_label("Allowed origins").fill("https://mine.example")
    page.get_by_role("button", name="Save").click()
    assert "Not saved: version 1 was saved" in page.locator("#conflict").inner_text()
    assert stored(server)["origins"] == ["https://other.example"]
    page.goto(f"{server.url}/admin/")
    page.get_by_label("Origin", exact=True).fill("https://other.example")
    page.get_by_label("Method").select_option("PUT")
    page.get_by_role("button", name="Test").click()
    result = page.locator("#test-result")
    assert "Blocked" in result.inner_text()
    assert "method PUT is not in the allowed methods (GET)" in result.inner_text()
    shot(page, "5-test-origin")
