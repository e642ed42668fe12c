"""The settings web page at ``/admin/`` (shared/spec/interface.md, "URLs").

Server-rendered (Jinja2, package data), no front-end build, no third-party
assets; the few lines of script in ``static/admin.js`` only mirror rules the
server enforces anyway (Allow credentials is off while Origins has ``*``).
Login takes the admin token once; then a signed session cookie and a CSRF
token per form (:mod:`firehouse.admin.auth`). Saving names the version the
form was loaded from, so an administrator who saves over a newer change is
told so instead of silently overwriting it (cors.md, "Changing the policy at
run time").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from firehouse.admin import form as policy_form
from firehouse.admin.auth import Session, same_origin
from firehouse.admin.context import AdminContext
from firehouse.cors.explain import CheckResult, explain
from firehouse.cors.policy import CORS_OFF, InvalidPolicy, split_list_setting, warnings
from firehouse.cors.store import StalePolicy, StoredPolicy, UnreadablePolicy, history, load, replace

MAX_FORM = 64 * 1024
HISTORY_SHOWN = 20
HOME = "/admin/"
LOGIN = "/admin/login"

_env = Environment(
    loader=PackageLoader("firehouse.admin", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def _setting_value(value: Any) -> str:
    """A stored setting as the history shows it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


_env.filters["when"] = _when
_env.filters["setting_value"] = _setting_value


class FormRejected(Exception):
    """A POST without a valid session, CSRF token or same-origin source."""


class SettingsPage:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx
        self.auth = ctx.auth

    # -- login ---------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        session = self.auth.session(request)
        if session is not None and session.logged_in:
            return RedirectResponse(HOME, status_code=303)
        return self._login_page(request, session)

    async def login(self, request: Request) -> Response:
        session = self.auth.session(request)
        data = await _form(request)
        try:
            self._check_post(request, session, data)
        except FormRejected as exc:
            return self._login_page(request, None, error=str(exc), status=403)
        if not self.auth.token_ok(_one(data, "token")):
            return self._login_page(
                request, session, token_error="That is not the admin token.", status=401
            )
        response = RedirectResponse(HOME, status_code=303)
        # A new nonce on login: a session id planted before login is worth nothing after.
        self.auth.set_cookie(response, request, self.auth.new_session(logged_in=True))
        return response

    async def logout(self, request: Request) -> Response:
        session = self.auth.session(request)
        data = await _form(request)
        try:
            self._check_post(request, session, data)
        except FormRejected:
            return RedirectResponse(HOME, status_code=303)
        response = RedirectResponse(LOGIN, status_code=303)
        self.auth.clear_cookie(response)
        return response

    # -- the settings --------------------------------------------------------

    async def show(self, request: Request) -> Response:
        session = self.auth.session(request)
        if session is None or not session.logged_in:
            return RedirectResponse(LOGIN, status_code=303)
        stored = await self._load()
        notice = None
        saved = request.query_params.get("saved", "")
        if saved.isdigit():
            notice = f"Saved as version {saved}. Every server process applies it within a second."
        elif request.query_params.get("unchanged", "").isdigit():
            notice = "Nothing changed: the form matches the stored policy, no new version was made."
        return await self._settings_page(request, session, stored, notice=notice)

    async def save(self, request: Request) -> Response:
        session, data = await self._logged_in_post(request)
        if session is None:
            return self._rejected(request)
        values = policy_form.from_form(data, data.get("methods", []))
        version_text = _one(data, "version")
        if not version_text.isdigit():
            stored = await self._load()
            return await self._settings_page(
                request,
                session,
                stored,
                values=values,
                errors={"": ["The form has no version; reload the page and try again."]},
                status=400,
            )
        actor = f"settings page from {request.client.host if request.client else 'unknown'}"
        try:
            saved = await run_in_threadpool(
                lambda: replace(
                    self.ctx.storage,
                    policy_form.to_policy_json(values),
                    expected_version=int(version_text),
                    actor=actor,
                )
            )
        except InvalidPolicy as exc:
            stored = await self._load()
            return await self._settings_page(
                request,
                session,
                stored,
                values=values,
                errors=policy_form.errors_by_field(exc.problems),
                form_version=int(version_text),
                status=400,
            )
        except StalePolicy as exc:
            stored = await self._load()
            by = f" by {stored.updated_by}" if stored.updated_by else ""
            conflict = (
                f"Not saved: version {stored.version} was saved{by} after you opened this "
                f"page (you started from version {exc.expected}). Your edits are still in "
                "the form; compare them with the history below, then save again to "
                f"replace version {stored.version}."
            )
            return await self._settings_page(
                request, session, stored, values=values, conflict=conflict, status=409
            )
        self.ctx.applied(saved)
        outcome = "saved" if saved.changed else "unchanged"
        return RedirectResponse(f"{HOME}?{outcome}={saved.stored.version}", status_code=303)

    async def test_origin(self, request: Request) -> Response:
        session, data = await self._logged_in_post(request)
        if session is None:
            return self._rejected(request)
        test = {
            "origin": _one(data, "test_origin").strip(),
            "method": _one(data, "test_method").strip() or "GET",
            "headers": _one(data, "test_headers"),
        }
        stored = await self._load()
        result = None
        errors = {}
        if not test["origin"]:
            errors["test_origin"] = ["Enter the origin of the page that calls the API."]
        else:
            result = explain(
                stored.policy, test["origin"], test["method"], split_list_setting(test["headers"])
            )
        return await self._settings_page(
            request, session, stored, test=test, test_result=result, errors=errors
        )

    # -- helpers -------------------------------------------------------------

    async def _load(self) -> StoredPolicy:
        try:
            return await run_in_threadpool(load, self.ctx.storage)
        except UnreadablePolicy as exc:
            # Still show the page so an administrator can save a good policy over it.
            return StoredPolicy(CORS_OFF, exc.version, updated_by=f"unreadable: {exc.reason}")

    async def _logged_in_post(self, request: Request) -> tuple[Session | None, dict[str, Any]]:
        session = self.auth.session(request)
        data = await _form(request)
        try:
            self._check_post(request, session, data)
        except FormRejected:
            return None, data
        if session is None or not session.logged_in:
            return None, data
        return session, data

    def _check_post(
        self, request: Request, session: Session | None, data: Mapping[str, Any]
    ) -> None:
        if not same_origin(request, self.ctx.public_origins):
            raise FormRejected("The form was not sent from this server's own page.")
        if session is None:
            raise FormRejected("Your session has expired (or cookies are off); please try again.")
        if not self.auth.csrf_ok(session, _one(data, "csrf")):
            raise FormRejected("The form has expired; please try again.")

    def _rejected(self, request: Request) -> Response:
        session = self.auth.session(request)
        if session is None or not session.logged_in:
            return RedirectResponse(LOGIN, status_code=303)
        return HTMLResponse(
            _env.get_template("rejected.html").render(title="Not saved"), status_code=403
        )

    def _login_page(
        self,
        request: Request,
        session: Session | None,
        *,
        error: str | None = None,
        token_error: str | None = None,
        status: int = 200,
    ) -> Response:
        fresh = session is None
        session = session or self.auth.new_session(logged_in=False)
        html = _env.get_template("login.html").render(
            title="Sign in",
            csrf=self.auth.csrf_token(session),
            error=error,
            token_error=token_error,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            self.auth.set_cookie(response, request, session)
        return response

    async def _settings_page(
        self,
        request: Request,
        session: Session,
        stored: StoredPolicy,
        *,
        values: policy_form.FormValues | None = None,
        errors: dict[str, list[str]] | None = None,
        notice: str | None = None,
        conflict: str | None = None,
        test: dict[str, str] | None = None,
        test_result: CheckResult | None = None,
        form_version: int | None = None,
        status: int = 200,
    ) -> Response:
        changes = await run_in_threadpool(history, self.ctx.storage, HISTORY_SHOWN)
        html = _env.get_template("settings.html").render(
            title="CORS settings",
            csrf=self.auth.csrf_token(session),
            stored=stored,
            stored_warnings=warnings(stored.policy),
            values=values or policy_form.from_policy(stored.policy),
            form_version=stored.version if form_version is None else form_version,
            errors=errors or {},
            notice=notice,
            conflict=conflict,
            history=changes,
            test=test or {"origin": "", "method": "GET", "headers": ""},
            test_result=test_result,
        )
        return HTMLResponse(html, status_code=status)


async def _form(request: Request) -> dict[str, Any]:
    """An urlencoded form: single fields as text, ``methods`` as a list."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    data: dict[str, Any] = {k: v[0] for k, v in parsed.items()}
    data["methods"] = parsed.get("methods", [])
    return data


def _one(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""
