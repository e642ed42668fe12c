"""SMART scope syntax, v1 and v2 (scopes-and-launch-context.html), without a server."""

from __future__ import annotations

import pytest

from firehouse.auth.policy import Access
from firehouse.auth.scopes import Grant, parse_scope
from firehouse.auth.tokens import TokenClaims
from firehouse.errors import FhirError


@pytest.mark.parametrize(
    ("scope", "grant"),
    [
        ("patient/Observation.read", Grant("patient", "Observation", frozenset("rs"))),
        ("user/*.write", Grant("user", "*", frozenset("cud"))),
        ("system/*.*", Grant("system", "*", frozenset("cruds"))),
        ("patient/*.rs", Grant("patient", "*", frozenset("rs"))),
        ("user/Patient.cruds", Grant("user", "Patient", frozenset("cruds"))),
        ("user/Patient.u", Grant("user", "Patient", frozenset("u"))),
        ("launch/patient", None),
        ("openid", None),
        ("user/Patient.sr", None),  # v2 letters must be in cruds order
        ("user/Patient.rr", None),
        ("user/Patient.", None),
        ("user/Patient.rs?category=x", None),
        ("admin/*.read", None),
        ("user/patient.read", None),  # resource types start upper-case
    ],
)
def test_parse_scope(scope: str, grant: Grant | None) -> None:
    assert parse_scope(scope) == grant


def access(scope: str, patient: str | None = None) -> Access:
    return Access.of(TokenClaims("u", "c", tuple(scope.split()), patient, None))


def test_confinement() -> None:
    assert access("user/*.read").confinement("Observation", "r") is None
    assert access("patient/*.read", "p1").confinement("Observation", "s") == "p1"
    # user/ wins over patient/ for the same permission
    assert (
        access("patient/*.read user/Observation.rs", "p1").confinement("Observation", "r") is None
    )
    assert access("patient/*.read user/Observation.rs", "p1").confinement("Patient", "r") == "p1"
    for scope, resource_type, letter in [
        ("user/Observation.rs", "Patient", "r"),
        ("user/Observation.rs", "Observation", "c"),
        ("patient/*.read", "Observation", "r"),  # no patient claim
        ("user/Observation.rs", "*", "s"),
    ]:
        with pytest.raises(FhirError):
            access(scope).confinement(resource_type, letter)
    assert Access.open().confinement("Anything", "d") is None
