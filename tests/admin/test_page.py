"""The settings page over HTTP: login, session cookie, CSRF, saving with the stored version.

The browser tests (``test_page_browser.py``) drive the same page in Chromium;
these pin the server's half of every rule, script or no script.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.admin.conftest import AUTH, TOKEN

SELF = {"Origin": "http://fhir.test"}
A = "https://a.example"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def version_of(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, html
    return match.group(1)


def log_in(client: TestClient) -> str:
    """Log in through the form; returns the settings page's CSRF token."""
    form = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={"token": TOKEN, "csrf": csrf_of(form.text)},
        headers=SELF,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    return csrf_of(client.get("/admin/").text)


def form_for(page: str, **changes: Any) -> dict[str, Any]:
    """The fields a browser would send for the page as shown, with ``changes``."""
    data: dict[str, Any] = {
        "csrf": csrf_of(page),
        "version": version_of(page),
        "origins": "",
        "headers": "",
        "methods": [],
        "max_age": "",
        "exposed_headers": "Location, ETag",
    }
    data.update(changes)
    return data


def save(client: TestClient, data: dict[str, Any], headers: dict[str, str] = SELF) -> Any:
    return client.post("/admin/", data=data, headers=headers, follow_redirects=False)


def stored(client: TestClient) -> dict[str, Any]:
    result: dict[str, Any] = client.get("/admin/cors", headers=AUTH).json()
    return result


# -- login ------------------------------------------------------------------------


def test_the_page_asks_to_log_in_first(admin: TestClient) -> None:
    response = admin.get("/admin/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    form = admin.get("/admin/login")
    assert form.status_code == 200
    assert '<label for="token">Admin token</label>' in form.text
    assert form.headers["content-security-policy"].startswith("default-src 'none'")
    assert form.headers["x-frame-options"] == "DENY"


def test_logging_in_sets_a_signed_httponly_strict_cookie_without_the_token(
    admin: TestClient,
) -> None:
    form = admin.get("/admin/login")
    response = admin.post(
        "/admin/login",
        data={"token": TOKEN, "csrf": csrf_of(form.text)},
        headers=SELF,
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert TOKEN not in cookie and TOKEN.replace(" ", "+") not in cookie
    page = admin.get("/admin/")
    assert page.status_code == 200 and "Allowed origins" in page.text


def test_a_wrong_token_is_refused_next_to_the_field(admin: TestClient) -> None:
    form = admin.get("/admin/login")
    response = admin.post(
        "/admin/login", data={"token": "guess", "csrf": csrf_of(form.text)}, headers=SELF
    )
    assert response.status_code == 401
    assert 'id="token-error">That is not the admin token.' in response.text
    assert admin.get("/admin/", follow_redirects=False).status_code == 303


def test_login_needs_its_csrf_token_and_this_origin(admin: TestClient) -> None:
    form = admin.get("/admin/login")
    csrf = csrf_of(form.text)
    no_csrf = admin.post("/admin/login", data={"token": TOKEN}, headers=SELF)
    other_site = admin.post(
        "/admin/login",
        data={"token": TOKEN, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert no_csrf.status_code == other_site.status_code == 403
    assert admin.get("/admin/", follow_redirects=False).status_code == 303


def test_a_forged_or_tampered_cookie_is_no_session(admin: TestClient) -> None:
    log_in(admin)
    genuine = admin.cookies["firehouse_admin"]
    nonce, expires, flag, signature = genuine.split(".")
    admin.cookies.clear()
    for forged in (
        f"{nonce}.{int(expires) + 999}.{flag}.{signature}",
        f"{nonce}.{expires}.1.{signature[:-2]}AA",
        "x.9999999999.1.sig",
    ):
        admin.cookies.set("firehouse_admin", forged, domain="fhir.test", path="/admin")
        assert admin.get("/admin/", follow_redirects=False).status_code == 303
        admin.cookies.clear()


def test_a_cookie_of_another_token_is_no_session(admin: TestClient, tmp_path: Any) -> None:
    from firehouse.admin.auth import AdminAuth

    other = AdminAuth("another token")
    session = other.new_session(logged_in=True)
    payload = f"{session.nonce}.{session.expires}.1"
    admin.cookies.set(
        "firehouse_admin", f"{payload}.{other._sign(payload)}", domain="fhir.test", path="/admin"
    )
    assert admin.get("/admin/", follow_redirects=False).status_code == 303


def test_logging_out_ends_the_session(admin: TestClient) -> None:
    csrf = log_in(admin)
    response = admin.post(
        "/admin/logout", data={"csrf": csrf}, headers=SELF, follow_redirects=False
    )
    assert response.headers["location"] == "/admin/login"
    assert admin.get("/admin/", follow_redirects=False).status_code == 303


# -- saving -------------------------------------------------------------------------


def test_saving_the_form_stores_the_policy_and_shows_the_new_version(admin: TestClient) -> None:
    csrf = log_in(admin)
    page = admin.get("/admin/").text
    assert csrf in page and "Version 0" in page
    data = form_for(
        page,
        origins="https://app.example\nHTTPS://Other.Example:443",
        headers="authorization, content-type",
        methods=["GET", "PUT"],
        max_age="600",
        allow_credentials="on",
    )
    response = save(admin, data)
    assert response.status_code == 303 and response.headers["location"] == "/admin/?saved=1"
    shown = admin.get("/admin/?saved=1").text
    assert "Saved as version 1" in shown and "Version 1, saved" in shown
    assert "settings page from testclient" in shown
    policy = stored(admin)
    assert policy["origins"] == ["https://app.example", "https://other.example"]
    assert policy["headers"] == ["authorization", "content-type"]
    assert policy["methods"] == ["GET", "PUT"]
    assert (policy["maxAge"], policy["allowCredentials"]) == (600, True)
    assert policy["exposedHeaders"] == ["Location", "ETag"]


def test_select_all_methods_stores_star(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A, methods=["GET"], methods_all="on"))
    assert stored(admin)["methods"] == ["*"]
    shown = admin.get("/admin/").text
    assert re.search(r'id="methods_all" name="methods_all" checked', shown)


def test_saving_without_a_change_makes_no_version(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A))
    page = admin.get("/admin/").text
    response = save(admin, form_for(page, origins=A))
    assert response.headers["location"] == "/admin/?unchanged=1"
    assert "Nothing changed" in admin.get("/admin/?unchanged=1").text


def test_invalid_input_shows_each_message_next_to_its_field_and_changes_nothing(
    admin: TestClient,
) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A))
    page = admin.get("/admin/").text
    response = save(
        admin,
        form_for(
            page, origins="https://ok.example\nhttps://x.example/path", max_age="abc",
            headers="bad;header",
        ),
    )  # fmt: skip
    assert response.status_code == 400
    html = response.text
    assert 'id="origins-error">origin &#34;https://x.example/path&#34; has a path' in html
    assert '<p class="field-error" id="max_age-error">maxAge must be a whole number' in html
    assert 'id="headers-error">headers: &#34;bad;header&#34; is not a valid header name' in html
    assert 'aria-invalid="true"' in html and "Nothing was changed" in html
    # What the user typed is kept, so they can correct it.
    assert "https://x.example/path</textarea>" in html and 'value="abc"' in html
    assert stored(admin)["version"] == 1 and stored(admin)["origins"] == [A]


def test_star_origins_with_credentials_is_refused_by_the_server_even_without_script(
    admin: TestClient,
) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    response = save(admin, form_for(page, origins="*", allow_credentials="on"))
    assert response.status_code == 400
    assert 'id="allow_credentials-error">allowCredentials cannot be true while origins is *' in (
        response.text
    )
    assert stored(admin)["version"] == 0


def test_star_origins_disables_allow_credentials_with_the_reason_and_warns(
    admin: TestClient,
) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins="*"))
    html = admin.get("/admin/").text
    assert re.search(r'id="allow_credentials" name="allow_credentials"\s+disabled', html)
    assert '<p class="field-note" id="credentials-reason">' in html  # shown, not hidden
    assert '<p class="field-warning" id="origins-any-warning">' in html
    assert "Warning: security risk: origins is *" in html


def test_saving_over_a_newer_version_is_refused_and_keeps_the_edits(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text  # version 0 in the form
    # Meanwhile another administrator saves through the API.
    admin.put("/admin/cors", json={"origins": [A]}, headers={**AUTH, "If-Match": '"0"'})
    response = save(admin, form_for(page, origins="https://mine.example"))
    assert response.status_code == 409
    assert "Not saved: version 1 was saved by admin API" in response.text
    assert "you started from version 0" in response.text
    assert "https://mine.example</textarea>" in response.text
    assert stored(admin)["origins"] == [A]
    # Saving again from the conflict page is a deliberate choice, and works.
    again = save(admin, form_for(response.text, origins="https://mine.example"))
    assert again.status_code == 303 and stored(admin)["origins"] == ["https://mine.example"]


def test_a_save_without_csrf_token_or_from_another_origin_is_refused(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    data = form_for(page, origins=A)
    assert save(admin, {k: v for k, v in data.items() if k != "csrf"}).status_code == 403
    assert save(admin, {**data, "csrf": "forged"}).status_code == 403
    assert save(admin, data, headers={"Origin": "https://evil.example"}).status_code == 403
    assert save(admin, data, headers={"Origin": "null"}).status_code == 403
    assert save(admin, data, headers={"Referer": "https://evil.example/x"}).status_code == 403
    assert save(admin, data, headers={}).status_code == 403  # neither Origin nor Referer
    assert stored(admin)["version"] == 0
    assert save(admin, data, headers={"Referer": "http://fhir.test/admin/"}).status_code == 303


def test_the_csrf_token_is_tied_to_the_session(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    admin.cookies.clear()
    log_in(admin)  # a new session
    assert save(admin, form_for(page, origins=A)).status_code == 403


def test_a_save_without_a_session_goes_to_the_login(admin: TestClient) -> None:
    response = save(admin, {"origins": A, "version": "0", "csrf": "x"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    assert stored(admin)["version"] == 0


# -- history and the test box ---------------------------------------------------------


def test_the_page_shows_the_history_newest_first(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A))
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A, max_age="60"))
    html = admin.get("/admin/").text
    history = html[html.index('id="history"') :]
    assert history.index("v2") < history.index("v1")
    assert "<code>maxAge</code>: unset → 60" in history
    assert "<code>origins</code>: (none) → https://a.example" in history


def test_the_test_box_says_what_a_browser_will_do(admin: TestClient) -> None:
    csrf = log_in(admin)
    page = admin.get("/admin/").text
    save(admin, form_for(page, origins=A, methods=["GET"]))
    allowed = admin.post(
        "/admin/test",
        data={"csrf": csrf, "test_origin": A, "test_method": "GET", "test_headers": ""},
        headers=SELF,
    )
    assert 'class="result allowed"' in allowed.text and "simple request" in allowed.text
    blocked = admin.post(
        "/admin/test",
        data={"csrf": csrf, "test_origin": A, "test_method": "PUT", "test_headers": "x-custom"},
        headers=SELF,
    )
    assert 'class="result blocked"' in blocked.text
    assert "method PUT is not in the allowed methods (GET)" in blocked.text
    empty = admin.post("/admin/test", data={"csrf": csrf, "test_origin": ""}, headers=SELF)
    assert 'id="test_origin-error">Enter the origin' in empty.text


def test_every_field_has_a_label(admin: TestClient) -> None:
    log_in(admin)
    html = admin.get("/admin/").text
    ids = re.findall(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"', html)
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    wrapped = set(re.findall(r'<label class="check[^"]*"><input[^>]*id="([^"]+)"', html))
    for field_id in ids:
        assert field_id in labelled or field_id in wrapped, field_id


@pytest.mark.parametrize("path", ["/admin/static/admin.css", "/admin/static/admin.js"])
def test_the_page_needs_nothing_from_elsewhere(admin: TestClient, path: str) -> None:
    assert admin.get(path).status_code == 200
    log_in(admin)
    html = admin.get("/admin/").text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
