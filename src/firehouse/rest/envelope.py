"""The error boundary of the FHIR API: no exception escapes as a crash.

Sits inside the CORS layer (so its 500s still get CORS headers) and outside
everything else. Every response gets an ``X-Request-Id`` (the client's when it
sent a sane one) that the server log also names.
"""

from __future__ import annotations

import logging
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firehouse.errors import FhirError
from firehouse.rest.errors import INTERNAL_ERROR, error_response

log = logging.getLogger("firehouse.errors")
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._\-]{1,64}")


class FhirEnvelope:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
                request_id = value
                break
        if not request_id:
            request_id = os.urandom(16).hex().encode()
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                log.exception("request %s failed after its response started", request_id.decode())
                raise
            if isinstance(exc, FhirError):
                response = error_response(exc)
            else:
                log.exception(
                    "request %s %s %s failed", request_id.decode(), scope["method"], scope["path"]
                )
                response = error_response(INTERNAL_ERROR)
            await response(scope, receive, send_with_id)
