"""The stored CORS policy: one versioned value in the database, with its history.

``shared/spec/cors.md``, "Changing the policy at run time": the admin API, the
CLI, the settings page and the start-up flags all read and write this one
stored policy through :func:`replace` and :func:`merge`. Each write names the
version it was based on, so two administrators cannot silently overwrite each
other; a write that changes nothing makes no new version.

How every process applies a change is :mod:`firehouse.cors.live`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from firehouse.cors.policy import (
    CORS_OFF,
    CorsPolicy,
    InvalidPolicy,
    PolicyProblem,
    parse_policy,
    policy_to_json,
    warnings,
)
from firehouse.cors.startup import given_cors_settings
from firehouse.cors.validation import WRONG_TYPE
from firehouse.settings import Settings
from firehouse.storage.base import StaleStateVersion, StateChange, Storage

log = logging.getLogger("firehouse.cors")

STATE_NAME = "cors"
STARTUP_ACTOR = "start-up settings (flags, environment or config file)"
# Read-only members of the policy document: accepted back in a PUT, ignored.
READ_ONLY = frozenset({"version", "warnings", "updatedAt", "updatedBy"})
_RETRIES = 5


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """The policy and the version it is stored as; version 0: never stored, defaults apply."""

    policy: CorsPolicy
    version: int
    updated_at: datetime | None = None
    updated_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The admin API's document: cors.md setting names plus version and warnings."""
        return {
            **policy_to_json(self.policy),
            "version": self.version,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "updatedBy": self.updated_by,
            "warnings": warnings(self.policy),
        }


NEVER_STORED = StoredPolicy(CORS_OFF, 0)


@dataclass(frozen=True, slots=True)
class Saved:
    """The outcome of a write: the stored policy now, and whether this write made it."""

    stored: StoredPolicy
    changed: bool


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One entry of the policy's history."""

    version: int
    changed_at: datetime
    actor: str
    old: Any  # the previous policy JSON (None for the first version)
    new: Any

    @property
    def before(self) -> dict[str, Any]:
        """The settings this change replaced; the defaults for the first version."""
        return self.old if isinstance(self.old, dict) else policy_to_json(CORS_OFF)

    @property
    def changed_settings(self) -> list[str]:
        old = self.before
        new = self.new if isinstance(self.new, dict) else {}
        return [key for key in new.keys() | old.keys() if old.get(key) != new.get(key)]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "time": self.changed_at.isoformat(),
            "actor": self.actor,
            "changed": sorted(self.changed_settings),
            "old": self.old,
            "new": self.new,
        }


class StalePolicy(Exception):
    """The write was based on ``expected``, but version ``current`` is stored now."""

    def __init__(self, expected: int, current: int | None) -> None:
        self.expected = expected
        self.current = current
        now = "a newer version" if current is None else f"version {current}"
        super().__init__(
            f"the policy changed since version {expected} was read ({now} is stored); "
            "read it again and reapply your change"
        )


class UnreadablePolicy(Exception):
    """The stored value is not a valid policy (written by hand, or by another version)."""

    def __init__(self, version: int, reason: str) -> None:
        self.version = version
        self.reason = reason
        super().__init__(f"stored CORS policy version {version} is unreadable: {reason}")


def load(storage: Storage) -> StoredPolicy:
    """The stored policy; raises :class:`UnreadablePolicy` or the database's error."""
    record = storage.read_state(STATE_NAME)
    if record is None:
        return NEVER_STORED
    try:
        policy = parse_policy(json.loads(record.value))
    except (ValueError, TypeError) as exc:  # InvalidPolicy and JSONDecodeError included
        raise UnreadablePolicy(record.version, str(exc)) from exc
    return StoredPolicy(policy, record.version, record.updated_at, record.actor)


def replace(
    storage: Storage, data: Mapping[str, Any], *, expected_version: int | None, actor: str
) -> Saved:
    """Store the whole policy ``data`` (cors.md JSON names; missing settings take defaults).

    ``expected_version`` is the version the change was based on (0: never
    stored); None writes over whatever is stored. Raises :class:`InvalidPolicy`
    listing every problem, or :class:`StalePolicy`; either way nothing changes.
    """
    policy = parse_policy(_writable(data))
    return _save(storage, lambda _current: policy, expected_version, actor)


def merge(
    storage: Storage, changes: Mapping[str, Any], *, expected_version: int | None, actor: str
) -> Saved:
    """Apply a JSON merge patch (RFC 7386) of settings onto the stored policy.

    A setting given as null goes back to its default; settings not given keep
    their stored values. This is what ``firehouse cors set`` and the start-up
    flags do. Raises like :func:`replace`, and :class:`UnreadablePolicy` when
    the stored value cannot be read (only a whole policy can replace it).
    """
    if not isinstance(changes, Mapping):
        raise InvalidPolicy([PolicyProblem(WRONG_TYPE, "", "a change must be a JSON object")])
    patch = _writable(changes)

    def merged(current: StoredPolicy | UnreadablePolicy) -> CorsPolicy:
        if isinstance(current, UnreadablePolicy):
            raise current  # nothing trustworthy to merge onto; a whole policy can replace it
        data = policy_to_json(current.policy)
        for key, value in patch.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        return parse_policy(data)

    return _save(storage, merged, expected_version, actor)


def history(storage: Storage, limit: int = 50) -> list[PolicyChange]:
    """The policy's past versions, newest first."""
    return [_change(c) for c in storage.state_history(STATE_NAME, limit)]


def apply_startup_settings(storage: Storage, settings: Settings) -> Saved | None:
    """Write the CORS settings given by flags, environment or TOML, as ``cors set`` would.

    Only explicitly given settings are merged onto the stored policy
    (shared/spec/interface.md, "Running"); None when none was given.
    """
    given = given_cors_settings(settings)
    if not given:
        return None
    saved = merge(storage, given, expected_version=None, actor=STARTUP_ACTOR)
    names = ", ".join(given)
    if saved.changed:
        log.info(
            "CORS policy version %d written from the start-up settings (%s)",
            saved.stored.version,
            names,
        )
    else:
        log.info(
            "CORS start-up settings (%s) already match the stored policy version %d",
            names,
            saved.stored.version,
        )
    return saved


def _save(
    storage: Storage,
    build: Callable[[StoredPolicy | UnreadablePolicy], CorsPolicy],
    expected: int | None,
    actor: str,
) -> Saved:
    for _ in range(_RETRIES):
        current: StoredPolicy | UnreadablePolicy
        try:
            current = load(storage)
        except UnreadablePolicy as exc:
            # A broken stored value must not lock administrators out: a whole
            # policy can replace it (a merge refuses, in build()).
            current = exc
        version = current.version
        if expected is not None and expected != version:
            raise StalePolicy(expected, version)
        policy = build(current)
        if isinstance(current, StoredPolicy) and policy == current.policy:
            return Saved(current, changed=False)
        value = json.dumps(policy_to_json(policy), separators=(",", ":"))
        try:
            record = storage.write_state(
                STATE_NAME, value, expected_version=version or None, actor=actor
            )
        except StaleStateVersion as exc:
            if expected is not None:
                raise StalePolicy(expected, exc.current) from exc
            continue  # an unconditional write: build again on top of the newer version
        return Saved(StoredPolicy(policy, record.version, record.updated_at, record.actor), True)
    raise StalePolicy(version, None)


def _writable(data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidPolicy([PolicyProblem(WRONG_TYPE, "", "a CORS policy must be a JSON object")])
    return {k: v for k, v in data.items() if k not in READ_ONLY}


def _change(change: StateChange) -> PolicyChange:
    return PolicyChange(
        version=change.version,
        changed_at=change.changed_at,
        actor=change.actor,
        old=None if change.old_value is None else _json_or_text(change.old_value),
        new=_json_or_text(change.new_value),
    )


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
