"""The admin API for the CORS policy (shared/spec/interface.md, "URLs"; cors.md,
"Changing the policy at run time").

- ``GET /admin/cors``: the stored policy with the cors.md setting names, plus
  ``version``, ``updatedAt``, ``updatedBy`` and ``warnings``; ``ETag: "<version>"``.
- ``PUT /admin/cors``: the whole policy (settings left out take their
  defaults); ``PATCH /admin/cors``: a JSON merge patch (RFC 7386) of settings,
  ``null`` resetting one to its default. The read-only members of the GET
  document may be sent back and are ignored.
- ``GET /admin/cors/history?limit=N``: past versions, newest first.
- ``POST /admin/cors/check``: ``{"origin", "method", "headers": [...]}`` (and
  optionally ``"credentials"``) -> what a browser will do, in words, by the
  engine of ``firehouse cors check`` (:func:`firehouse.cors.explain.explain`).

``If-Match`` is **required** on PUT and PATCH: without it the answer is 428
(RFC 6585). The spec promises that two administrators cannot silently
overwrite each other; accepting a write without a precondition would let any
script that forgot the header do exactly that. ``If-Match: *`` is the explicit
way to write over whatever is stored. A stale tag is answered 412 with the
current ``ETag``. ``W/"3"`` is accepted like ``"3"``: the version alone
determines the document, so weak and strong comparison agree here, and FHIR
clients are used to weak tags.

Errors are ``application/problem+json`` (RFC 9457) with a ``problems`` list of
``{"id", "field", "message"}``, every problem at once. Not OperationOutcomes:
the admin plane is not FHIR, and its problems carry the CORS rule ids
(``cors.E003`` ...) that the CLI and the settings page show too. An invalid
or stale write changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from firehouse.admin.context import AdminContext
from firehouse.cors.explain import explain
from firehouse.cors.policy import InvalidPolicy
from firehouse.cors.store import (
    StalePolicy,
    StoredPolicy,
    UnreadablePolicy,
    history,
    load,
    merge,
    replace,
)

MAX_BODY = 64 * 1024
MAX_HISTORY = 500
PROBLEM_JSON = "application/problem+json"
_ETAG = re.compile(r'(?:W/)?"(\d{1,9})"')
_ACTOR_HEADER = "x-firehouse-actor"


class HttpProblem(Exception):
    """An admin API error: becomes a problem+json response."""

    def __init__(
        self,
        status: int,
        title: str,
        *,
        problems: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.problems = problems or []
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> Response:
        body = {"status": self.status, "title": self.title, "problems": self.problems}
        body.update(self.extra)
        return JSONResponse(
            body, status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON
        )


def problem(status: int, title: str, **kwargs: Any) -> Response:
    return HttpProblem(status, title, **kwargs).response()


def etag(version: int) -> str:
    return f'"{version}"'


def policy_response(stored: StoredPolicy, status: int = 200) -> Response:
    return JSONResponse(
        stored.to_json(), status_code=status, headers={"ETag": etag(stored.version)}
    )


class AdminApi:
    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx

    async def get_policy(self, request: Request) -> Response:
        return policy_response(await self._load())

    async def put_policy(self, request: Request) -> Response:
        return await self._write(request, replace)

    async def patch_policy(self, request: Request) -> Response:
        return await self._write(request, merge)

    async def get_history(self, request: Request) -> Response:
        text = request.query_params.get("limit", "50")
        if not text.isdigit() or not 1 <= int(text) <= MAX_HISTORY:
            raise HttpProblem(
                400,
                "Invalid limit",
                problems=[_problem("admin.E003", "limit", f"limit must be 1 to {MAX_HISTORY}")],
            )
        changes = await run_in_threadpool(history, self.ctx.storage, int(text))
        return JSONResponse({"history": [c.to_json() for c in changes]})

    async def check(self, request: Request) -> Response:
        data = await _json_body(request)
        origin, method, headers, credentials = _check_input(data)
        stored = await self._load()
        result = explain(stored.policy, origin, method, headers, credentials=credentials)
        return JSONResponse({**result.to_json(), "policyVersion": stored.version})

    async def _load(self) -> StoredPolicy:
        try:
            return await run_in_threadpool(load, self.ctx.storage)
        except UnreadablePolicy as exc:
            raise HttpProblem(
                500,
                "The stored CORS policy is unreadable",
                detail=f"{exc}; PUT a whole policy (If-Match: *) to replace it",
                version=exc.version,
            ) from exc

    async def _write(self, request: Request, operation: Any) -> Response:
        expected = _precondition(request)
        data = await _json_body(request)
        actor = _actor(request)
        try:
            saved = await run_in_threadpool(
                lambda: operation(self.ctx.storage, data, expected_version=expected, actor=actor)
            )
        except InvalidPolicy as exc:
            raise HttpProblem(
                400,
                "The CORS policy is invalid; nothing was changed",
                problems=[p.to_json() for p in exc.problems],
            ) from exc
        except UnreadablePolicy as exc:
            raise HttpProblem(
                409,
                "The stored CORS policy is unreadable, so it cannot be patched",
                detail=f"{exc}; PUT a whole policy to replace it",
                version=exc.version,
            ) from exc
        except StalePolicy as exc:
            headers = {} if exc.current is None else {"ETag": etag(exc.current)}
            raise HttpProblem(
                412,
                "The policy changed since you read it; nothing was changed",
                detail=f"{exc}. GET /admin/cors for the current version and its ETag.",
                headers=headers,
                currentVersion=exc.current,
            ) from exc
        self.ctx.applied(saved)
        return policy_response(saved.stored)


def _problem(id: str, field: str, message: str) -> dict[str, str]:
    return {"id": id, "field": field, "message": message}


def _precondition(request: Request) -> int | None:
    """The version named by If-Match (0: never stored), or None for ``*``."""
    value = request.headers.get("if-match")
    if value is None:
        raise HttpProblem(
            428,
            "If-Match is required",
            detail='GET /admin/cors and send its ETag as If-Match (or "If-Match: *" to '
            "write over whatever is stored), so that no other change is lost",
        )
    value = value.strip()
    if value == "*":
        return None
    match = _ETAG.fullmatch(value)
    if match is None:
        raise HttpProblem(
            400,
            "Invalid If-Match",
            problems=[
                _problem(
                    "admin.E004",
                    "If-Match",
                    'If-Match must be one ETag of /admin/cors, such as "3", or *; '
                    f"got {value[:60]!r}",
                )
            ],
        )
    return int(match.group(1))


async def _json_body(request: Request) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HttpProblem(413, f"The body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HttpProblem(
            400,
            "The body is not JSON",
            problems=[_problem("admin.E001", "", f"the body must be a JSON object: {exc}")],
        ) from exc


def _check_input(data: Any) -> tuple[str, str, list[str], bool | None]:
    problems = []
    if not isinstance(data, dict):
        raise HttpProblem(
            400,
            "Invalid check",
            problems=[_problem("admin.E002", "", "send a JSON object with origin and method")],
        )
    origin, method = data.get("origin"), data.get("method")
    headers, credentials = data.get("headers", []), data.get("credentials")
    if not isinstance(origin, str) or not origin:
        problems.append(_problem("admin.E002", "origin", "origin must be a non-empty string"))
    if not isinstance(method, str) or not method:
        problems.append(_problem("admin.E002", "method", "method must be a non-empty string"))
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        problems.append(_problem("admin.E002", "headers", "headers must be a list of strings"))
    if credentials is not None and not isinstance(credentials, bool):
        problems.append(
            _problem("admin.E002", "credentials", "credentials must be true, false or absent")
        )
    unknown = sorted(set(data) - {"origin", "method", "headers", "credentials"})
    for key in unknown:
        problems.append(_problem("admin.E002", key, f"unknown member {key[:40]!r}"))
    if problems:
        raise HttpProblem(400, "Invalid check", problems=problems)
    return origin, method, headers, credentials  # type: ignore[return-value]


def _actor(request: Request) -> str:
    """Who made a change: the API, the name a client gives, and where it came from."""
    given = request.headers.get(_ACTOR_HEADER, "")
    given = "".join(c for c in given if c.isprintable())[:100].strip()
    where = request.client.host if request.client else "unknown address"
    return f"admin API ({given}) from {where}" if given else f"admin API from {where}"
