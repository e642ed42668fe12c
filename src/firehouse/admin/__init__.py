"""The admin plane: the CORS admin API and the settings page, under ``/admin``.

Same-origin only: the CORS middleware leaves ``/admin`` alone, so no response
here ever carries ``Access-Control-*`` headers (shared/spec/cors.md, "How a
request is handled"). With no admin token configured the whole plane answers
404 and says how to turn it on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firehouse.admin.api import AdminApi, HttpProblem, problem
from firehouse.admin.auth import AdminAuth
from firehouse.admin.context import AdminContext, public_origins
from firehouse.admin.page import SettingsPage
from firehouse.cors.live import LivePolicy
from firehouse.settings import Settings
from firehouse.storage.base import Storage

OFF_MESSAGE = (
    "The admin plane is off because no admin token is set. Start the server with "
    "--admin-token TOKEN or the environment variable FIREHOUSE_ADMIN_TOKEN to turn it on."
)
_Endpoint = Callable[[Request], Awaitable[Response]]
_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
]


def admin_routes(settings: Settings, storage: Storage, live: LivePolicy | None) -> list[BaseRoute]:
    """The routes to put first in the app's router."""
    ctx = AdminContext(
        AdminAuth(settings.admin_token), storage, live, public_origins(settings.base_url)
    )
    api = AdminApi(ctx)
    page = SettingsPage(ctx)

    def bearer(endpoint: _Endpoint) -> _Endpoint:
        async def guarded(request: Request) -> Response:
            if not ctx.auth.bearer_ok(request):
                return problem(
                    401,
                    "The admin token is missing or wrong",
                    detail="send Authorization: Bearer <admin token>",
                    headers={"WWW-Authenticate": 'Bearer realm="firehouse admin"'},
                )
            try:
                return await endpoint(request)
            except HttpProblem as exc:
                return exc.response()

        return guarded

    router = Router(
        [
            Route("/cors", bearer(api.get_policy), methods=["GET"]),
            Route("/cors", bearer(api.put_policy), methods=["PUT"]),
            Route("/cors", bearer(api.patch_policy), methods=["PATCH"]),
            Route("/cors/history", bearer(api.get_history), methods=["GET"]),
            Route("/cors/check", bearer(api.check), methods=["POST"]),
            Route("/", page.show, methods=["GET"]),
            Route("/", page.save, methods=["POST"]),
            Route("/login", page.login_form, methods=["GET"]),
            Route("/login", page.login, methods=["POST"]),
            Route("/logout", page.logout, methods=["POST"]),
            Route("/test", page.test_origin, methods=["POST"]),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static")),
        ]
    )
    gate = AdminGate(router, ctx.auth.enabled)
    return [
        Route("/admin", lambda _: RedirectResponse("/admin/", status_code=308)),
        Mount("/admin", app=gate),
    ]


class AdminGate:
    """404 while the plane is off; security headers on every admin response."""

    def __init__(self, app: ASGIApp, enabled: bool) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if not self.enabled:
            await _off_response(scope)(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _off_response(scope: Scope) -> Response:
    accept = dict(scope["headers"]).get(b"accept", b"")
    if b"text/html" in accept:
        return HTMLResponse(
            f"<!doctype html><title>Admin plane off</title><p>{OFF_MESSAGE}</p>",
            status_code=404,
        )
    return problem(404, "The admin plane is off", detail=OFF_MESSAGE)
