"""The one place where error categories become HTTP statuses and OperationOutcomes.

https://hl7.org/fhir/R4/http.html#Status-Codes: every error body is an
OperationOutcome, whatever went wrong.
"""

from __future__ import annotations

from starlette.responses import Response

from firehouse.errors import Category, FhirError, Issue
from firehouse.fhir import json as fhir_json
from firehouse.fhir.outcome import operation_outcome
from firehouse.rest.media import FHIR_JSON

STATUS: dict[Category, int] = {
    Category.INVALID: 400,
    Category.UNAUTHORIZED: 401,
    Category.FORBIDDEN: 403,
    Category.NOT_FOUND: 404,
    Category.METHOD_NOT_ALLOWED: 405,
    Category.NOT_ACCEPTABLE: 406,
    Category.CONFLICT: 409,
    Category.GONE: 410,
    Category.PRECONDITION_FAILED: 412,
    Category.TOO_LARGE: 413,
    Category.UNSUPPORTED_MEDIA_TYPE: 415,
    Category.UNPROCESSABLE: 422,
    Category.INTERNAL: 500,
    Category.UNSUPPORTED: 501,
    Category.UNAVAILABLE: 503,
}

INTERNAL_ERROR = FhirError(
    Category.INTERNAL,
    Issue(
        "Internal server error; the request changed nothing. The server log has the details.",
        code="exception",
    ),
)


def error_response(error: FhirError, *, head: bool = False) -> Response:
    body = b"" if head else fhir_json.dumps(operation_outcome(error.issues))
    response = Response(body, status_code=STATUS[error.category], media_type=FHIR_JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
