"""OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html) built from issues."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from firehouse.errors import Issue


def issue_json(issue: Issue) -> dict[str, Any]:
    data: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue.code,
        "diagnostics": issue.diagnostics,
    }
    if issue.expression:
        data["expression"] = list(issue.expression)
    return data


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    rendered = [issue_json(i) for i in issues]
    if not rendered:
        rendered = [{"severity": "information", "code": "informational", "diagnostics": "OK"}]
    return {"resourceType": "OperationOutcome", "issue": rendered}


def information(message: str) -> dict[str, Any]:
    return operation_outcome([Issue(message, code="informational", severity="information")])
