"""Loopback servers around the browser tests: page origins, and a proxy that counts.

- :class:`StaticSite` serves the test pages (and ``examples/spa``) from one
  origin; two of them on different hosts and ports are the two page origins.
- :class:`RecordingProxy` sits between Chromium and a real ``firehouse serve``
  and records every request that reaches the server. Preflights are invisible
  to page script and to Playwright's request events, so counting them where
  they arrive is the only honest way to see the browser's preflight cache
  (https://fetch.spec.whatwg.org/#cors-preflight-cache) at work.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own business.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    }
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Each test binds a fresh free port; no lingering TIME_WAIT trouble.
    allow_reuse_address = True


class _Quiet:
    def log_message(self, format: str, *args: object) -> None:
        pass  # the test output is not the place for an access log


class _StaticHandler(_Quiet, SimpleHTTPRequestHandler):
    mounts: Mapping[str, Path] = {}

    def translate_path(self, path: str) -> str:
        # Longest prefix first: "/spa/" is served from examples/spa, the rest from pages.
        for prefix, folder in sorted(self.mounts.items(), key=lambda m: -len(m[0])):
            if path.startswith(prefix):
                relative = path[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
                target = (folder / relative.lstrip("/")).resolve()
                if target.is_relative_to(folder.resolve()):
                    return str(target)
        return str(Path("/nonexistent"))

    def end_headers(self) -> None:
        # Test pages must never come from the browser's cache of another run.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticSite:
    """A folder (or several, by path prefix) served over HTTP on ``host:port``."""

    def __init__(self, host: str, mounts: Mapping[str, Path], *, url_host: str | None = None):
        handler = type("Handler", (_StaticHandler,), {"mounts": dict(mounts)})
        self._server = _Server((host, 0), handler)
        port = self._server.server_address[1]
        self.origin = f"http://{url_host or host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Seen:
    """One request as it reached the server."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")

    @property
    def is_preflight(self) -> bool:
        return self.method == "OPTIONS" and "access-control-request-method" in self.headers


class _ProxyHandler(_Quiet, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as browsers expect
    proxy: RecordingProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        self.proxy.record(
            Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        upstream = http.client.HTTPConnection(self.proxy.upstream_host, timeout=30)
        try:
            # Host is passed through, so Location and links name the proxy, as the page sees it.
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if self.command == "HEAD":
                length_header = response.getheader("Content-Length")
                if length_header is not None:
                    self.send_header("Content-Length", length_header)
            elif response.status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _forward


class RecordingProxy:
    """A reverse proxy to ``upstream`` that remembers every request it passed on."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.upstream_host = urlsplit(upstream).netloc
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_ProxyHandler,), {"proxy": self})
        self._server = _Server((host, 0), handler)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def seen(self, path: str | None = None) -> list[Seen]:
        """Requests that reached the server, optionally only those for ``path`` (no query)."""
        with self._lock:
            seen = list(self._seen)
        return [s for s in seen if path is None or s.path.split("?", 1)[0] == path]

    def preflights(self, path: str) -> list[Seen]:
        return [s for s in self.seen(path) if s.is_preflight]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
