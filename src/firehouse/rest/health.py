"""``GET /health/check``: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from firehouse.rest.context import Context

log = logging.getLogger("firehouse.health")


async def health_check(ctx: Context, request: Request) -> Response:
    try:
        await run_in_threadpool(ctx.storage.ping)
    except Exception as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "not answering"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})
