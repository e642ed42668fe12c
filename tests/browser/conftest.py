"""Real headless Chromium against a real ``firehouse serve``, pages on two other origins.

The browser is Debian's ``chromium`` driven by the ``playwright`` package;
Playwright never downloads a browser here (``executable_path`` is the system
binary). Under CI (``CI=true``) a missing Chromium or Playwright FAILS the
run instead of skipping it: a green CI must mean the browser proof ran.

Everything expensive is session-scoped: one browser, two page origins
(``http://127.0.0.1:<a>`` and ``http://localhost:<b>``) and one Firehouse
process per CORS configuration, started on first use. Each test gets a fresh
browser context, so cookies and the preflight cache never leak between tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firehouse.cors.policy import CorsPolicy, parse_policy
from tests.browser.servers import RecordingProxy, StaticSite
from tests.support.server import ServerProcess, start_server

TIMEOUT_MS = 15_000
PAGES = Path(__file__).parent / "pages"
SPA = Path(__file__).parents[2] / "examples" / "spa"
# What a page reads from a response; CORS hides all but the exposed ones.
READ = ["Location", "ETag", "Last-Modified", "Content-Type", "X-Request-Id", "Allow"]


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh profile: no cookies, an empty preflight cache."""
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


# --------------------------------------------------------------------------- page origins


@pytest.fixture(scope="session")
def site_a() -> Iterator[StaticSite]:
    """The allowed page origin, ``http://127.0.0.1:<port>``; also serves the example SPA."""
    site = StaticSite("127.0.0.1", {"/": PAGES, "/spa/": SPA})
    yield site
    site.close()


@pytest.fixture(scope="session")
def site_b() -> Iterator[StaticSite]:
    """Another origin by host and port, ``http://localhost:<port>``: refused unless ``*``."""
    site = StaticSite("127.0.0.1", {"/": PAGES, "/spa/": SPA}, url_host="localhost")
    yield site
    site.close()


def open_page(context: Any, site: StaticSite, path: str = "/index.html") -> Any:
    page = context.new_page()
    page.goto(site.url(path))
    return page


@pytest.fixture
def page_a(context: Any, site_a: StaticSite) -> Any:
    return open_page(context, site_a)


@pytest.fixture
def page_b(context: Any, site_b: StaticSite) -> Any:
    return open_page(context, site_b)


def call(
    page: Any, url: str, init: dict[str, Any] | None = None, read: list[str] | None = None
) -> dict[str, Any]:
    """``fetch(url, init)`` in ``page``: status, readable headers and body, or the error."""
    result: dict[str, Any] = page.evaluate(
        "([url, init, read]) => window.call(url, init, read)", [url, init or {}, read or READ]
    )
    return result


# --------------------------------------------------------------------------- FHIR servers


@dataclass
class Fhir:
    """A running Firehouse, reached through a proxy that records what arrives."""

    server: ServerProcess
    proxy: RecordingProxy
    policy: CorsPolicy

    @property
    def url(self) -> str:
        return self.proxy.url


def configurations(site_a: StaticSite) -> dict[str, dict[str, Any]]:
    """The CORS policies under test, as the JSON settings of ``shared/spec/cors.md``."""
    return {
        # C2-like: listed origin, methods and headers, credentials, a long max age.
        "listed": {
            "origins": [site_a.origin],
            "methods": ["GET", "POST", "PUT", "DELETE"],
            "headers": ["authorization", "content-type", "if-match"],
            "allowCredentials": True,
            "maxAge": 600,
        },
        # C3: anyone, without credentials.
        "any": {"origins": ["*"], "methods": ["*"], "headers": ["*"]},
        # The flags examples/spa/README.md tells people to use.
        "spa-readme": {
            "origins": [site_a.origin],
            "methods": ["GET", "POST"],
            "headers": ["content-type"],
        },
        # Preflights must not be cached at all.
        "no-cache": {
            "origins": [site_a.origin],
            "methods": ["GET", "PUT"],
            "headers": ["content-type"],
            "maxAge": 0,
        },
    }


def serve_flags(policy: dict[str, Any]) -> list[str]:
    flags = []
    for key, flag in (
        ("origins", "--cors-origins"),
        ("methods", "--cors-methods"),
        ("headers", "--cors-headers"),
    ):
        if key in policy:
            flags += [flag, ",".join(policy[key])]
    if "maxAge" in policy:
        flags += ["--cors-max-age", str(policy["maxAge"])]
    if policy.get("allowCredentials"):
        flags.append("--cors-allow-credentials")
    return flags


@pytest.fixture(scope="session")
def fhir_servers(
    tmp_path_factory: pytest.TempPathFactory, site_a: StaticSite
) -> Iterator[Callable[[str], Fhir]]:
    """``fhir_servers(name)``: the Firehouse for one configuration, started on first use."""
    started: dict[str, Fhir] = {}
    configs = configurations(site_a)
    folder = tmp_path_factory.mktemp("browser-fhir")

    def get(name: str) -> Fhir:
        if name not in started:
            policy = configs[name]
            server = start_server(folder / f"{name}.db", *serve_flags(policy))
            started[name] = Fhir(server, RecordingProxy(server.url), parse_policy(policy))
        return started[name]

    yield get
    for fhir in started.values():
        fhir.proxy.close()
        fhir.server.stop()


@pytest.fixture
def listed(fhir_servers: Callable[[str], Fhir]) -> Fhir:
    return fhir_servers("listed")


@pytest.fixture
def any_origin(fhir_servers: Callable[[str], Fhir]) -> Fhir:
    return fhir_servers("any")


@pytest.fixture
def no_cache(fhir_servers: Callable[[str], Fhir]) -> Fhir:
    return fhir_servers("no-cache")
