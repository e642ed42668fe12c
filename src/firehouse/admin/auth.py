"""Who may use the admin plane: the bearer admin token, sessions and CSRF tokens.

- The API takes ``Authorization: Bearer <admin token>`` (shared/spec/interface.md,
  "URLs"). Tokens are compared as SHA-256 digests with :func:`hmac.compare_digest`,
  so neither the content nor the length of the token leaks through timing.
- The settings page logs in once with the token and then carries a session
  cookie: HttpOnly, ``SameSite=Strict``, path ``/admin``, signed with an HMAC
  key derived from the token. The cookie never holds the token, and changing
  the token ends every session.
- Every form POST carries a CSRF token tied to the session (an HMAC of the
  session's random nonce) and must come from this origin (``Origin``, else
  ``Referer``): https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
  The login form has a session too (not yet logged in), so it is covered as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "firehouse_admin"
COOKIE_PATH = "/admin"
SESSION_SECONDS = 8 * 3600
# A login form left open this long has to be reloaded before it can be sent.
LOGIN_FORM_SECONDS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _digest(text: str | bytes) -> bytes:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).digest()


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session cookie: ``nonce`` is random, ``logged_in`` once the token was given."""

    nonce: str
    expires: int
    logged_in: bool


class AdminAuth:
    """Checks for one admin token; an empty token means the admin plane is off."""

    def __init__(self, token: str) -> None:
        self.enabled = bool(token)
        self._token_digest = _digest(token)
        self._key = hmac.new(
            token.encode("utf-8"), b"firehouse admin session v1", "sha256"
        ).digest()

    # -- the token -----------------------------------------------------------

    def token_ok(self, given: str) -> bool:
        return self.enabled and hmac.compare_digest(_digest(given), self._token_digest)

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(given.strip())

    # -- sessions ------------------------------------------------------------

    def new_session(self, *, logged_in: bool) -> Session:
        lifetime = SESSION_SECONDS if logged_in else LOGIN_FORM_SECONDS
        return Session(secrets.token_urlsafe(18), int(time.time()) + lifetime, logged_in)

    def session(self, request: Request) -> Session | None:
        """The request's session when its cookie is genuine and not expired."""
        raw = request.cookies.get(COOKIE, "")
        parts = raw.split(".")
        if len(parts) != 4 or not self.enabled:
            return None
        nonce, expires, flag, signature = parts
        if not hmac.compare_digest(signature, self._sign(f"{nonce}.{expires}.{flag}")):
            return None
        if not expires.isdigit() or int(expires) < time.time() or flag not in ("0", "1"):
            return None
        return Session(nonce, int(expires), flag == "1")

    def set_cookie(self, response: Response, request: Request, session: Session) -> None:
        payload = f"{session.nonce}.{session.expires}.{int(session.logged_in)}"
        response.set_cookie(
            COOKIE,
            f"{payload}.{self._sign(payload)}",
            max_age=max(0, session.expires - int(time.time())),
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear_cookie(response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.nonce}")

    def csrf_ok(self, session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8"), self.csrf_token(session).encode())

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("utf-8"), "sha256").digest())


def same_origin(request: Request, extra_origins: tuple[str, ...] = ()) -> bool:
    """True when the form was sent by a page of this server (``Origin``, else ``Referer``).

    A request with neither is refused: every browser that could be used to
    attack sends one of them on a cross-site POST.
    """
    own = {f"{request.url.scheme}://{request.url.netloc}".lower(), *extra_origins}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.lower() in own
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() in own
    return False
