"""The preflight limit: a bare ASGI app answering every request with one fixed 204.

The headers are the ones Firehouse sends for the benchmark's preflight
(``OPTIONS /Patient``, ``Origin: https://app.example``, request method PUT,
request headers ``authorization,content-type``) under the policy
``--cors-origins https://app.example --cors-headers '*' --cors-methods '*'
--cors-max-age 600``. Nothing is parsed or decided, so no CORS layer on this
server stack can be faster; ``benchmarks/run.py`` checks that the header set
still matches Firehouse's before it measures.
"""

from __future__ import annotations

import sys
from typing import Any

HEADERS = [
    (b"access-control-allow-origin", b"https://app.example"),
    (b"access-control-allow-methods", b"PUT"),
    (b"access-control-allow-headers", b"authorization,content-type"),
    (b"access-control-max-age", b"600"),
    (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
]
_START = {"type": "http.response.start", "status": 204, "headers": HEADERS}
_BODY = {"type": "http.response.body", "body": b""}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/health/check":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send(_BODY)
        return
    await send(_START)
    await send(_BODY)


if __name__ == "__main__":
    from _uvicorn import serve

    sys.exit(serve("fixed_204_app:app", sys.argv[1:]))
