"""Routing FHIR paths by their segments (https://hl7.org/fhir/R4/http.html#summary).

FHIR URLs are short and regular (``/Patient/123/_history/2``), so a path is
split once and compared segment by segment against the patterns with the same
number of segments, literal patterns first: ``/Patient/_history`` is history,
not the resource with id ``_history``. Starlette's router tried every pattern's
regex in turn, ~13 per read and 15% of its CPU (BENCHMARKS.md). Mounts (the
admin plane) and the lifespan still go to a Starlette ``Router``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Lifespan as StarletteLifespan


@dataclass(frozen=True, slots=True)
class _Pattern:
    segments: tuple[str | None, ...]  # a literal, or None for a parameter
    names: tuple[str, ...]  # parameter names, in order
    app: ASGIApp

    @property
    def literals(self) -> int:
        return sum(1 for s in self.segments if s is not None)


def _compile(path: str, app: ASGIApp) -> _Pattern:
    segments: list[str | None] = []
    names: list[str] = []
    for part in _split(path) or ():
        if part.startswith("{") and part.endswith("}"):
            segments.append(None)
            names.append(part[1:-1])
        else:
            segments.append(part)
    return _Pattern(tuple(segments), tuple(names), app)


def _split(path: str) -> list[str] | None:
    """The path's segments; None when one is empty (``//``), which no route has."""
    trimmed = path.strip("/")
    if not trimmed:
        return []
    parts = trimmed.split("/")
    return None if "" in parts else parts


class SegmentRouter:
    def __init__(
        self,
        routes: Sequence[BaseRoute],
        *,
        default: ASGIApp,
        lifespan: StarletteLifespan[object] | None = None,
    ) -> None:
        self._mounts = tuple(r.path for r in routes if isinstance(r, Mount))
        by_length: dict[int, list[_Pattern]] = {}
        others: list[BaseRoute] = []
        for route in routes:
            if isinstance(route, Route) and not self._mounted(route.path):
                pattern = _compile(route.path, route.app)
                by_length.setdefault(len(pattern.segments), []).append(pattern)
            else:
                others.append(route)
        # Stable sort: among equally literal patterns the declared order wins.
        self._patterns = {
            length: tuple(sorted(found, key=lambda p: -p.literals))
            for length, found in by_length.items()
        }
        self._fallback = Router(others, default=default, lifespan=lifespan)
        self._default = default

    def _mounted(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self._mounts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._mounted(scope["path"]):
            await self._fallback(scope, receive, send)
            return
        parts = _split(scope["path"])
        if parts is not None:
            for pattern in self._patterns.get(len(parts), ()):
                params: dict[str, str] = {}
                for expected, actual in zip(pattern.segments, parts, strict=True):
                    if expected is None:
                        params[pattern.names[len(params)]] = actual
                    elif expected != actual:
                        break
                else:
                    scope["path_params"] = params
                    await pattern.app(scope, receive, send)
                    return
        await self._default(scope, receive, send)
