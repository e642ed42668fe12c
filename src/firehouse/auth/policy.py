"""What a token may do: one decision per (resource type, permission letter).

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html. Every
interaction needs one v2 permission letter on its resource type (read/vread
``r``, search ``s``, create ``c``, update/patch ``u``, delete ``d``). A
``user/`` or ``system/`` scope grants it on every resource the type has; a
``patient/`` scope grants it only inside the compartment of the token's
``patient`` launch-context claim (#launch-context-arrives-with-your-access_token).
A ``patient/`` scope without a ``patient`` claim grants nothing.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from firehouse.auth.scopes import Grant, parse_scopes
from firehouse.auth.tokens import REALM, TokenClaims
from firehouse.errors import Category, FhirError, Issue

LETTER_WORDS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}


def forbidden(message: str) -> FhirError:
    """403 with an OperationOutcome (code forbidden) and RFC 6750's insufficient_scope."""
    return FhirError(
        Category.FORBIDDEN,
        Issue(message, "forbidden"),
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'},
    )


@dataclass(frozen=True)
class Access:
    """The caller of one request. ``claims`` is None when authentication is off."""

    claims: TokenClaims | None
    grants: tuple[Grant, ...] = ()
    local_base: str | None = None
    _open: bool = field(default=False)

    @classmethod
    def open(cls, local_base: str | None = None) -> Access:
        """``--auth none``: everything is allowed."""
        return cls(None, (), local_base, _open=True)

    @classmethod
    def of(cls, claims: TokenClaims, local_base: str | None = None) -> Access:
        return cls(claims, parse_scopes(claims.scopes), local_base)

    @property
    def patient(self) -> str | None:
        return self.claims.patient if self.claims is not None else None

    def confinement(self, resource_type: str, letter: str) -> str | None:
        """None when allowed everywhere, the patient id when allowed only in that
        patient's compartment; raises 403 when not allowed at all.

        ``resource_type`` ``*`` asks for every type at once (system-level search).
        """
        if self._open:
            return None
        covering = [g for g in self.grants if g.covers(resource_type, letter)]
        if any(g.context in ("user", "system") for g in covering):
            return None
        if covering and self.patient is not None:
            return self.patient
        what = "all resource types" if resource_type == "*" else resource_type
        verb = LETTER_WORDS[letter]
        if covering:
            raise forbidden(f"patient/ scopes need a launch-context patient to {verb} {what}")
        raise forbidden(f"the token's scopes do not allow to {verb} {what}")

    def may(self, resource_type: str, letter: str) -> bool:
        try:
            self.confinement(resource_type, letter)
        except FhirError:
            return False
        return True

    def write_confinement(self, resource_type: str) -> str | None:
        """The patient a written ``resource_type`` must belong to, if any.

        A write the scopes do not allow at all was refused before it began; here
        only the compartment matters, so a failing decision means "confined".
        """
        if self._open:
            return None
        for letter in ("c", "u"):
            try:
                if self.confinement(resource_type, letter) is None:
                    return None
            except FhirError:
                continue
        return self.patient


# The caller of the request being handled, for the checks deep below the REST
# layer (the write guard of :mod:`firehouse.auth.guard`). Starlette's thread
# pool copies the context, so storage calls made in a worker thread see it.
CURRENT: contextvars.ContextVar[Access | None] = contextvars.ContextVar(
    "firehouse_access", default=None
)
