"""Error categories of the domain, free of HTTP.

Every layer below ``rest`` raises :class:`FhirError` with a category and a list
of issues; ``rest/errors.py`` is the one place that turns a category into an
HTTP status and the issues into an OperationOutcome
(https://hl7.org/fhir/R4/operationoutcome.html).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Category(enum.Enum):
    INVALID = "invalid"
    NOT_FOUND = "not-found"
    GONE = "gone"
    CONFLICT = "conflict"
    PRECONDITION_FAILED = "precondition-failed"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    NOT_ACCEPTABLE = "not-acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    UNSUPPORTED = "unsupported"
    UNPROCESSABLE = "unprocessable"
    TOO_LARGE = "too-large"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong and where (a FHIRPath)."""

    diagnostics: str
    code: str = "invalid"  # http://hl7.org/fhir/R4/valueset-issue-type.html
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def at(self, *expression: str) -> Issue:
        return Issue(self.diagnostics, self.code, self.severity, expression)


_DEFAULT_ISSUE_CODE: dict[Category, str] = {
    Category.INVALID: "invalid",
    Category.NOT_FOUND: "not-found",
    Category.GONE: "deleted",
    Category.CONFLICT: "conflict",
    Category.PRECONDITION_FAILED: "conflict",
    Category.UNAUTHORIZED: "login",
    Category.FORBIDDEN: "forbidden",
    Category.METHOD_NOT_ALLOWED: "not-supported",
    Category.NOT_ACCEPTABLE: "not-supported",
    Category.UNSUPPORTED_MEDIA_TYPE: "not-supported",
    Category.UNSUPPORTED: "not-supported",
    Category.UNPROCESSABLE: "processing",
    Category.TOO_LARGE: "too-costly",
    Category.UNAVAILABLE: "transient",
    Category.INTERNAL: "exception",
}


class FhirError(Exception):
    """A failure the client should hear about, with one or more issues."""

    def __init__(
        self,
        category: Category,
        issues: str | Issue | Iterable[Issue],
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(issues, str):
            issues = [Issue(issues, _DEFAULT_ISSUE_CODE[category])]
        elif isinstance(issues, Issue):
            issues = [issues]
        self.category = category
        self.issues: Sequence[Issue] = tuple(issues)
        self.headers = headers or {}
        super().__init__("; ".join(i.diagnostics for i in self.issues))


def invalid(message: str, *expression: str) -> FhirError:
    return FhirError(Category.INVALID, Issue(message, "invalid", expression=expression))


def not_found(message: str) -> FhirError:
    return FhirError(Category.NOT_FOUND, message)
