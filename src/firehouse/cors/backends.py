"""Where ``firehouse cors show | set | history`` read and write the stored policy.

Either the database directly (``--database`` / ``--config``, through
:mod:`firehouse.cors.store`) or a running server's admin API (``--url`` and the
admin token, shared/spec/interface.md "URLs"). Both give the same documents:
the admin API's JSON, with the cors.md setting names.
"""

from __future__ import annotations

import getpass
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from firehouse.cors.policy import InvalidPolicy, PolicyProblem
from firehouse.cors.store import StalePolicy, history, load, merge
from firehouse.storage.base import Storage

_TIMEOUT = 30
_RETRIES = 5


def actor() -> str:
    """Who is running the command, for the history."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"CLI {user}@{socket.gethostname()}"


class BackendError(Exception):
    """The policy could not be read or written (connection, token, unreadable value)."""


class PolicyBackend(Protocol):
    def show(self) -> dict[str, Any]: ...

    def set(
        self, changes: Mapping[str, Any], expected_version: int | None
    ) -> tuple[dict[str, Any], bool]:
        """Merge ``changes``; the new document and whether a version was made."""
        ...

    def history(self, limit: int) -> list[dict[str, Any]]: ...


class DatabaseBackend:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def show(self) -> dict[str, Any]:
        return load(self.storage).to_json()

    def set(
        self, changes: Mapping[str, Any], expected_version: int | None
    ) -> tuple[dict[str, Any], bool]:
        saved = merge(self.storage, changes, expected_version=expected_version, actor=actor())
        return saved.stored.to_json(), saved.changed

    def history(self, limit: int) -> list[dict[str, Any]]:
        return [change.to_json() for change in history(self.storage, limit)]


class ServerBackend:
    """The admin API of a running server; the token goes in ``Authorization: Bearer``."""

    def __init__(self, url: str, token: str) -> None:
        self.base = url.rstrip("/")
        self.token = token

    def show(self) -> dict[str, Any]:
        return self._call("GET", "/admin/cors")[0]

    def set(
        self, changes: Mapping[str, Any], expected_version: int | None
    ) -> tuple[dict[str, Any], bool]:
        # If-Match always: the version we read (or the one the user named), so a
        # change made meanwhile is merged onto, never overwritten.
        for _ in range(_RETRIES):
            if expected_version is None:
                before, etag = self._call("GET", "/admin/cors")
                version = before["version"]
            else:
                etag, version = f'"{expected_version}"', expected_version
            try:
                after, _ = self._call("PATCH", "/admin/cors", dict(changes), if_match=etag)
            except StalePolicy:
                if expected_version is not None:
                    raise
                continue
            return after, after["version"] != version
        raise BackendError("the policy kept changing while it was being set; try again")

    def history(self, limit: int) -> list[dict[str, Any]]:
        body, _ = self._call("GET", f"/admin/cors/history?limit={limit}")
        result: list[dict[str, Any]] = body["history"]
        return result

    def _call(
        self, method: str, path: str, body: Any = None, *, if_match: str | None = None
    ) -> tuple[dict[str, Any], str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "X-Firehouse-Actor": actor(),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/merge-patch+json"
        if if_match is not None:
            headers["If-Match"] = if_match
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return json.loads(response.read()), response.headers.get("ETag", "")
        except urllib.error.HTTPError as exc:
            raise _error(exc) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise BackendError(f"cannot reach {self.base}: {exc}") from exc


def _error(exc: urllib.error.HTTPError) -> Exception:
    try:
        body = json.loads(exc.read())
    except ValueError:
        body = {}
    title = body.get("title") or exc.reason
    if exc.code == 400 and body.get("problems"):
        return InvalidPolicy(
            PolicyProblem(p.get("id", ""), p.get("field", ""), p.get("message", ""))
            for p in body["problems"]
        )
    if exc.code == 412:
        return StalePolicy(-1, body.get("currentVersion"))
    if exc.code == 401:
        return BackendError(f"{title}: give the server's admin token with --admin-token")
    detail = f": {body['detail']}" if body.get("detail") else ""
    return BackendError(f"the server answered {exc.code} {title}{detail}")
