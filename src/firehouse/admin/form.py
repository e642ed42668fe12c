"""The settings page's form: the fields of Azure's CORS blade, to and from the policy.

Azure's portal shows Origins (one per line), Headers, Methods (checkboxes
with "Select all"), Max age and Allow credentials; Firehouse adds Exposed
headers (shared/spec/cors.md, "The settings"). The form always describes the
whole policy, so saving it is a PUT of the policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firehouse.cors.policy import ANY, CorsPolicy, PolicyProblem, split_list_setting

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# JSON setting name -> form field name, so a problem is shown next to its field.
FIELDS = {
    "origins": "origins",
    "headers": "headers",
    "methods": "methods",
    "maxAge": "max_age",
    "allowCredentials": "allow_credentials",
    "exposedHeaders": "exposed_headers",
}
_INTEGER = re.compile(r"-?\d{1,12}")


@dataclass
class FormValues:
    """What the form shows: text as the user typed it, so a rejected form keeps it."""

    origins: str = ""
    headers: str = ""
    methods: list[str] = field(default_factory=list)
    methods_all: bool = False
    max_age: str = ""
    allow_credentials: bool = False
    exposed_headers: str = ""

    @property
    def any_origin(self) -> bool:
        return ANY in split_list_setting(self.origins)

    @property
    def method_choices(self) -> list[str]:
        """The standard methods, then any other the stored policy lists (kept, not lost)."""
        return [*METHODS, *(m for m in self.methods if m not in METHODS and m != ANY)]


def from_policy(policy: CorsPolicy) -> FormValues:
    return FormValues(
        origins="\n".join(policy.origins),
        headers=", ".join(policy.headers),
        methods=[] if policy.any_method else list(policy.methods),
        methods_all=policy.any_method,
        max_age="" if policy.max_age is None else str(policy.max_age),
        allow_credentials=policy.allow_credentials,
        exposed_headers=", ".join(policy.exposed_headers),
    )


def from_form(form: Mapping[str, Any], methods: Iterable[str]) -> FormValues:
    def text(name: str) -> str:
        value = form.get(name, "")
        return value if isinstance(value, str) else ""

    return FormValues(
        origins=text("origins"),
        headers=text("headers"),
        methods=[m for m in methods if isinstance(m, str)],
        methods_all=form.get("methods_all") == "on",
        max_age=text("max_age").strip(),
        allow_credentials=form.get("allow_credentials") == "on",
        exposed_headers=text("exposed_headers"),
    )


def to_policy_json(values: FormValues) -> dict[str, Any]:
    """The policy the form describes, for validation by the one policy parser."""
    max_age: Any = None
    if values.max_age:
        # Not a number: passed on as text so the parser's message names it.
        max_age = int(values.max_age) if _INTEGER.fullmatch(values.max_age) else values.max_age
    return {
        "origins": split_list_setting(values.origins),
        "headers": split_list_setting(values.headers),
        "methods": [ANY] if values.methods_all else values.methods,
        "maxAge": max_age,
        "allowCredentials": values.allow_credentials,
        "exposedHeaders": split_list_setting(values.exposed_headers),
    }


def errors_by_field(problems: Iterable[PolicyProblem]) -> dict[str, list[str]]:
    """Messages keyed by form field; problems of no field go under ``""``."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(FIELDS.get(problem.field, ""), []).append(problem.message)
    return found
