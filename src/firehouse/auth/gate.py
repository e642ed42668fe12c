"""The one place a FHIR request is authenticated and its interaction authorised.

``rest.routes.Dispatch`` knows which interaction a request is and calls
:meth:`Gate.admit` before the handler and :meth:`Gate.audit` after it.
What each interaction needs (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):

- the permission letter on its resource type (:data:`INTERACTIONS`);
- for a ``patient/`` grant, the patient compartment: an instance interaction's
  existing resource (and a vread's version) must be in it; searches are
  restricted with ``SearchRequest.restrict_to_patients``; writes are checked by
  :func:`~firehouse.auth.guard.compartment_write_check`; batch/transaction entries by
  :func:`~firehouse.auth.guard.entry_guard`. Type and system history and
  conditional update/delete cannot be confined cheaply and are refused.

``/metadata``, ``/health/check`` and ``/.well-known/smart-configuration`` are
public (app-launch.html#discovery-of-server-capabilities-and-configuration).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from firehouse.auth import audit
from firehouse.auth.guard import require_in_compartment
from firehouse.auth.policy import CURRENT, Access, forbidden
from firehouse.auth.tokens import TokenValidator, unauthorized
from firehouse.storage.base import HistoryQuery, Storage


@dataclass(frozen=True, slots=True)
class Interaction:
    code: str  # the FHIR interaction (http.html), as the audit record names it
    letter: str | None  # the SMART v2 permission it needs; None: public or per entry
    level: str  # public | instance | type | system | bundle


_PUBLIC = Interaction("capabilities", None, "public")
INTERACTIONS: Mapping[str, Interaction] = {
    "capabilities.capabilities": _PUBLIC,
    "health.health_check": Interaction("health", None, "public"),
    "discovery.smart_configuration": Interaction("smart-configuration", None, "public"),
    "read.read": Interaction("read", "r", "instance"),
    "read.vread": Interaction("vread", "r", "instance"),
    "update.update": Interaction("update", "u", "instance"),
    "patch.patch": Interaction("patch", "u", "instance"),
    "delete.delete": Interaction("delete", "d", "instance"),
    "history.instance_history": Interaction("history-instance", "r", "instance"),
    "create.create": Interaction("create", "c", "type"),
    "conditional.update": Interaction("update-conditional", "u", "type"),
    "conditional.delete": Interaction("delete-conditional", "d", "type"),
    "search.search_type": Interaction("search-type", "s", "type"),
    "search.search_compartment": Interaction("search-compartment", "s", "type"),
    "history.type_history": Interaction("history-type", "s", "type"),
    "search.search_system": Interaction("search-system", "s", "system"),
    "history.system_history": Interaction("history-system", "s", "system"),
    "batch.batch": Interaction("batch", None, "bundle"),
}
# Interactions a patient-confined grant cannot be narrowed for, so refused.
_UNCONFINABLE = frozenset(
    {"history-type", "history-system", "update-conditional", "delete-conditional"}
)
UNKNOWN = Interaction("unknown", "r", "system")


def interaction_of(module: str, name: str) -> Interaction:
    """The interaction of a handler, by its module and function name; unknown ones
    need the broadest read permission (fail closed)."""
    return INTERACTIONS.get(f"{module.rsplit('.', 1)[-1]}.{name}", UNKNOWN)


def bearer(request: Request) -> str:
    value = request.headers.get("authorization")
    if value is None:
        raise unauthorized("this FHIR server needs an Authorization: Bearer access token")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


class Gate:
    """Authentication (``validator``; None: ``--auth none``) and authorisation."""

    def __init__(self, validator: TokenValidator | None, storage: Storage) -> None:
        self.validator = validator
        self.storage = storage

    def access(self, request: Request, local_base: str) -> Access:
        if self.validator is None:
            return Access.open(local_base)
        return Access.of(self.validator.validate(bearer(request)), local_base)

    def admit(
        self,
        request: Request,
        interaction: Interaction,
        params: Mapping[str, str],
        local_base: str,
    ) -> contextvars.Token[Access | None] | None:
        """Raise 401/403, or return the token to reset :data:`CURRENT` with.

        The :class:`Access` is left in ``request.state.access`` for the
        interaction modules (search restriction, Bundle entries).
        """
        if interaction.level == "public":
            return None
        access = self.access(request, local_base)
        request.state.access = access
        letter = interaction.letter
        resource_type = params.get("resource_type")
        if letter is not None:
            target = resource_type if interaction.level != "system" else None
            patient = access.confinement(target or "*", letter)
            if interaction.code == "create" and "if-none-exist" in request.headers:
                # A conditional create answers with the match it finds: a search.
                patient = patient or access.confinement(target or "*", "s")
                if patient is not None:
                    raise forbidden(
                        "conditional create is not available to a patient-confined token"
                    )
            if patient is not None:
                if interaction.code in _UNCONFINABLE:
                    raise forbidden(
                        f"{interaction.code} is not available to a patient-confined token"
                    )
                if interaction.level == "instance" and resource_type is not None:
                    self._check_instance(access, patient, resource_type, params)
                if interaction.code == "history-instance" and resource_type is not None:
                    self._check_history(access, patient, resource_type, params.get("id", ""))
        return CURRENT.set(access)

    def _check_instance(
        self, access: Access, patient: str, resource_type: str, params: Mapping[str, str]
    ) -> None:
        id = params.get("id", "")
        indexer = self.storage.indexer
        current = self.storage.read(resource_type, id)
        require_in_compartment(indexer, current, patient, access.local_base)
        version = params.get("version")
        if version is not None and version.isdigit() and len(version) < 10:
            found = self.storage.vread(resource_type, id, int(version))
            require_in_compartment(indexer, found, patient, access.local_base)

    def _check_history(self, access: Access, patient: str, resource_type: str, id: str) -> None:
        # Every version is shown, and an old one may have been someone else's
        # (a resource moved between patients): all must be in the compartment.
        cursor = None
        while True:
            page = self.storage.history(
                HistoryQuery(resource_type, id, before_seq=cursor, count=500)
            )
            for version in page.entries:
                require_in_compartment(self.storage.indexer, version, patient, access.local_base)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @staticmethod
    def release(token: contextvars.Token[Access | None] | None) -> None:
        if token is not None:
            CURRENT.reset(token)

    @staticmethod
    def audit(request: Request, interaction: Interaction, status: int) -> None:
        if interaction.level == "public":
            return
        access: Access | None = getattr(request.state, "access", None)
        params = request.path_params
        resource_type = params.get("resource_type")
        if interaction.code == "search-compartment":
            resource_type = f"{params.get('compartment')}/{params.get('id')}/{resource_type}"
        audit.record(
            access,
            interaction.code,
            resource_type,
            params.get("id") if interaction.level == "instance" else None,
            status,
            request_id=request.headers.get("x-request-id"),
        )
