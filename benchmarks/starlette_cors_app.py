"""The preflight reference: Starlette's ``CORSMiddleware`` in front of a trivial app.

Configured like the benchmark's Firehouse policy (origins
``https://app.example``, headers ``*``, methods ``*``, max age 600). Starlette
answers a preflight with ``200 OK`` and a plain-text body, and with
``allow_methods=["*"]`` it lists every method rather than echoing the
requested one; the work it does per preflight is otherwise the same.
"""

from __future__ import annotations

import sys

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/health/check", ok), Route("/Patient", ok, methods=["GET", "POST"])],
    middleware=[
        Middleware(
            CORSMiddleware,
            allow_origins=["https://app.example"],
            allow_headers=["*"],
            allow_methods=["*"],
            max_age=600,
        )
    ],
)


if __name__ == "__main__":
    from _uvicorn import serve

    sys.exit(serve("starlette_cors_app:app", sys.argv[1:]))
