"""The CORS layer as plain ASGI: the current policy's decision onto every response.

Outermost layer of the FHIR app (``shared/design/architecture.md``), so that
preflights never need a token and every response, errors included, carries
the headers a browser needs to show it to the calling page
(``shared/spec/cors.md``, "How a request is handled"; the protocol is
https://fetch.spec.whatwg.org/#http-cors-protocol).

Plain ASGI rather than Starlette's ``BaseHTTPMiddleware``: no request object,
no extra task, and the response start message is edited in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firehouse.cors.decision import CorsDecision
from firehouse.cors.policy import CorsPolicy, decide_actual, decide_preflight

log = logging.getLogger("firehouse.cors")

_ERROR_BODY = (
    b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
    b'"code":"exception","diagnostics":"Internal server error"}]}'
)
_ERROR_HEADERS = [
    (b"content-type", b"application/fhir+json"),
    (b"content-length", str(len(_ERROR_BODY)).encode("ascii")),
]


class CorsMiddleware:
    """Answers preflights itself and adds CORS headers and ``Vary`` to all else.

    ``get_policy`` is called once per request (not at all for excluded paths
    and non-HTTP scopes) and must return the current immutable policy, which
    is swapped as a whole when an operator changes it: one request never sees
    half of an old policy and half of a new one.
    Paths under ``excluded_path_prefixes`` (the same-origin admin plane) go to
    the inner app untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        get_policy: Callable[[], CorsPolicy],
        *,
        excluded_path_prefixes: tuple[str, ...] = ("/admin",),
    ) -> None:
        self.app = app
        self.get_policy = get_policy
        prefixes = tuple(p.rstrip("/") for p in excluded_path_prefixes)
        # "/admin" covers "/admin" and "/admin/..." but not "/administrator".
        self._excluded = prefixes
        self._excluded_dirs = tuple(p + "/" for p in prefixes)
        self._refusals = _RefusalLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self._excluded_dirs) or path in self._excluded:
            await self.app(scope, receive, send)
            return
        policy = self.get_policy()
        if scope["method"] == "OPTIONS":
            origin, request_method, request_headers = _cors_request_headers(scope)
            if origin is not None and request_method is not None:
                decision = decide_preflight(policy, origin, request_method, request_headers)
                if not decision.allowed:
                    self._refusals.record(origin, decision)
                await _send_preflight(send, decision)
                return
        else:
            # Only the Origin matters here, and with CORS off not even that.
            origin = _origin(scope) if policy.enabled else None
        await self._call_with_headers(scope, receive, send, decide_actual(policy, origin))

    async def _call_with_headers(
        self, scope: Scope, receive: Receive, send: Send, decision: CorsDecision
    ) -> None:
        started = False
        # With CORS off there is nothing to add, but an unhandled error still
        # becomes the same OperationOutcome: the error shape never depends on CORS.
        adds = bool(decision.raw_headers or decision.raw_vary)

        async def send_with_cors(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if adds:
                    headers = _with_cors(message.get("headers", ()), decision)
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_cors)
        except Exception:
            if started:
                raise  # too late for a response of our own; the server closes the stream
            # The browser shows the page a 500 only if it carries CORS headers;
            # an inner error handler should have caught this, so log it loudly.
            # %r: a decoded path may hold line breaks that would forge log lines.
            log.exception("unhandled error in %s %r", scope["method"], scope["path"])
            headers = _with_cors(_ERROR_HEADERS, decision)
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": _ERROR_BODY})


def _cors_request_headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """``Origin``, ``Access-Control-Request-Method`` and ``-Headers``, decoded.

    Repeated headers are joined with ", " (RFC 9110 section 5.3): a repeated
    Origin then reads as several origins and is refused, as cors.md requires.
    """
    origin = method = headers = None
    for name, value in scope["headers"]:
        if name == b"origin":
            text = value.decode("latin-1")
            origin = text if origin is None else f"{origin}, {text}"
        elif name == b"access-control-request-method":
            text = value.decode("latin-1")
            method = text if method is None else f"{method}, {text}"
        elif name == b"access-control-request-headers":
            text = value.decode("latin-1")
            headers = text if headers is None else f"{headers}, {text}"
    return origin, method, headers


def _origin(scope: Scope) -> str | None:
    origin = None
    for name, value in scope["headers"]:
        if name == b"origin":
            text = value.decode("latin-1")
            origin = text if origin is None else f"{origin}, {text}"
    return origin


async def _send_preflight(send: Send, decision: CorsDecision) -> None:
    headers = list(decision.raw_headers)
    if decision.raw_vary:
        headers.append((b"vary", decision.raw_vary))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _with_cors(
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...],
    decision: CorsDecision,
) -> list[tuple[bytes, bytes]]:
    """A new header list (the app's may be reused) with the decision's headers and Vary."""
    out = list(headers)
    out.extend(decision.raw_headers)
    if decision.raw_vary:
        _merge_vary(out, decision.vary, decision.raw_vary)
    return out


def _merge_vary(headers: list[tuple[bytes, bytes]], tokens: tuple[str, ...], raw: bytes) -> None:
    """Add ``tokens`` to the response's Vary, keeping what is there, no duplicates."""
    existing = [i for i, (name, _) in enumerate(headers) if name.lower() == b"vary"]
    if not existing:
        headers.append((b"vary", raw))
        return
    values: list[str] = []
    for i in existing:
        values.extend(v.strip() for v in headers[i][1].decode("latin-1").split(","))
    values = [v for v in values if v]
    seen = {v.lower() for v in values}
    if "*" in seen:
        return  # "Vary: *" already says the response varies on everything
    for token in tokens:
        if token.lower() not in seen:
            seen.add(token.lower())
            values.append(token)
    for i in reversed(existing):
        del headers[i]
    headers.append((b"vary", ", ".join(values).encode("latin-1")))


class _RefusalLog:
    """Logs refused preflights: each (origin, reason) at INFO at most once a minute.

    A hostile client can send endless refused preflights; the log must not
    become the cost of serving them. Repeats go to DEBUG.
    """

    PERIOD = 60.0
    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def record(self, origin: str, decision: CorsDecision) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        # %r escapes control characters, so a hostile origin cannot forge log lines.
        shown = origin if len(origin) <= 200 else origin[:200] + "..."
        now = time.monotonic()
        key = (shown, decision.reason.value)
        last = self._last.get(key)
        if last is not None and now - last < self.PERIOD:
            log.debug("refused CORS preflight from origin %r: %s", shown, decision.reason)
            return
        if len(self._last) >= self.MAX_ENTRIES:
            self._last.clear()
        self._last[key] = now
        log.info("refused CORS preflight from origin %r: %s", shown, decision.reason)
