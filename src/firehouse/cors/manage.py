"""``firehouse cors show | set | history``: the stored policy from the command line.

They work against the database directly (``--database`` / ``--config``) or a
running server (``--url`` plus ``--admin-token`` / ``FIREHOUSE_ADMIN_TOKEN``),
and read and write the one stored policy of shared/spec/cors.md ("Changing the
policy at run time"). ``set`` takes the same values as ``serve``'s
``--cors-*`` flags (which are accepted under both names) and merges them onto
the stored policy, exactly as ``serve`` does at start-up.

Exit status: 0 done, 1 could not (server unreachable, wrong token, the policy
changed since ``--expect-version``), 2 the policy is invalid (every problem is
listed, nothing changed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click

from firehouse.cors.backends import BackendError, DatabaseBackend, PolicyBackend, ServerBackend
from firehouse.cors.policy import CORS_OFF, InvalidPolicy, policy_to_json, split_list_setting
from firehouse.cors.store import StalePolicy, UnreadablePolicy
from firehouse.settings import SettingsError, resolve

FAILED_EXIT = 1
INVALID_EXIT = 2
_ORDER = ("origins", "headers", "methods", "maxAge", "allowCredentials", "exposedHeaders")


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where the stored policy is: a database, or a running server."""
    options = [
        click.option("--database", default=None, help="Database URL (default from settings)."),
        click.option(
            "--config",
            "config_file",
            type=click.Path(exists=True, dir_okay=False),
            help="TOML file of settings, as for serve (its database is used).",
        ),
        click.option("--url", default=None, help="A running server's base URL, instead."),
        click.option(
            "--admin-token",
            envvar="FIREHOUSE_ADMIN_TOKEN",
            default=None,
            help="The server's admin token, with --url [env FIREHOUSE_ADMIN_TOKEN].",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def _backend(
    database: str | None, config_file: str | None, url: str | None, token: str | None
) -> Iterator[PolicyBackend]:
    if url:
        if not token:
            raise click.UsageError("--url needs the admin token (--admin-token or env)")
        yield ServerBackend(url, token)
        return
    from firehouse.storage import open_storage

    try:
        settings = resolve({"database": database}, config_file=config_file)
    except (SettingsError, OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    storage = open_storage(settings.database)
    try:
        storage.migrate()
        yield DatabaseBackend(storage)
    finally:
        storage.close()


def stored_document(database: str | None, url: str | None, token: str | None) -> dict[str, Any]:
    """The stored policy document (as ``GET /admin/cors`` gives it); exits 1 if unreadable."""
    with _reported(), _backend(database, None, url, token) as backend:
        return backend.show()


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the backends' errors into messages and exit statuses."""
    try:
        yield
    except InvalidPolicy as exc:
        click.echo("the CORS policy is invalid, nothing was changed:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem.id} {problem.field}: {problem.message}", err=True)
        sys.exit(INVALID_EXIT)
    except StalePolicy as exc:
        now = "" if exc.current is None else f" (version {exc.current} is stored now)"
        click.echo(f"not saved: the policy changed since that version{now}", err=True)
        sys.exit(FAILED_EXIT)
    except (BackendError, UnreadablePolicy) as exc:
        click.echo(f"firehouse: {exc}", err=True)
        sys.exit(FAILED_EXIT)


@click.command("show")
@source_options
def show(
    database: str | None,
    config_file: str | None,
    url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """Show the stored CORS policy and its version."""
    with _reported(), _backend(database, config_file, url, admin_token) as backend:
        document = backend.show()
    _print_policy(document, as_json)


@click.command("set")
@click.option("--origins", "--cors-origins", default=None, help="Allowed origins, or *.")
@click.option("--headers", "--cors-headers", default=None, help="Allowed request headers, or *.")
@click.option("--methods", "--cors-methods", default=None, help="Allowed methods, or *.")
@click.option(
    "--max-age", "--cors-max-age", default=None, help="Preflight cache seconds; 'none' unsets."
)
@click.option(
    "--allow-credentials/--no-allow-credentials",
    "--cors-allow-credentials/--no-cors-allow-credentials",
    "allow_credentials",
    default=None,
    help="Allow cookies / HTTP auth (not with origins *).",
)
@click.option(
    "--exposed-headers", "--cors-exposed-headers", default=None, help="Headers script may read."
)
@click.option(
    "--expect-version",
    type=int,
    default=None,
    help="Refuse to save unless the stored version is still this one.",
)
@source_options
def set_(
    origins: str | None,
    headers: str | None,
    methods: str | None,
    max_age: str | None,
    allow_credentials: bool | None,
    exposed_headers: str | None,
    expect_version: int | None,
    database: str | None,
    config_file: str | None,
    url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """Change the given settings of the stored policy; the others stay as stored.

    Lists are comma- or whitespace-separated, as for serve's --cors-* flags.
    """
    changes: dict[str, Any] = {}
    for name, value in (
        ("origins", origins),
        ("headers", headers),
        ("methods", methods),
        ("exposedHeaders", exposed_headers),
    ):
        if value is not None:
            changes[name] = split_list_setting(value)
    if max_age is not None:
        changes["maxAge"] = _max_age(max_age)
    if allow_credentials is not None:
        changes["allowCredentials"] = allow_credentials
    if not changes:
        raise click.UsageError("give at least one setting to change, e.g. --origins")
    with _reported(), _backend(database, config_file, url, admin_token) as backend:
        document, changed = backend.set(changes, expect_version)
    if changed:
        click.echo(f"saved CORS policy version {document['version']}", err=True)
    else:
        click.echo(
            f"no change: stored version {document['version']} already has these settings",
            err=True,
        )
    _print_policy(document, as_json)


@click.command("history")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@source_options
def history_(
    limit: int,
    database: str | None,
    config_file: str | None,
    url: str | None,
    admin_token: str | None,
    as_json: bool,
) -> None:
    """List the past versions of the stored policy, newest first."""
    with _reported(), _backend(database, config_file, url, admin_token) as backend:
        changes = backend.history(limit)
    if as_json:
        click.echo(json.dumps(changes, indent=2))
        return
    if not changes:
        click.echo("no version stored yet: CORS is off")
    for change in changes:
        click.echo(f"v{change['version']}  {_when(change['time'])}  {change['actor']}")
        # The first version replaced the defaults.
        old = change["old"] if isinstance(change["old"], dict) else policy_to_json(CORS_OFF)
        new = change["new"] if isinstance(change["new"], dict) else {}
        for name in change["changed"]:
            click.echo(f"    {name}: {_value(old.get(name))} -> {_value(new.get(name))}")


COMMANDS = (show, set_, history_)


def _max_age(text: str) -> Any:
    value = text.strip()
    if value.lower() in ("", "none", "unset", "null"):
        return None
    try:
        return int(value)
    except ValueError:
        return value  # the policy parser names it in its message


def _print_policy(document: dict[str, Any], as_json: bool) -> None:
    for warning in document.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    version = document["version"]
    if version:
        saved = f"saved {_when(document['updatedAt'])} by {document['updatedBy']}"
        click.echo(f"CORS policy version {version} ({saved})")
    else:
        click.echo("CORS policy version 0 (nothing stored yet: the defaults, CORS off)")
    for name in _ORDER:
        click.echo(f"  {name + ':':<18}{_value(document[name])}")


def _value(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def _when(text: str | None) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S UTC")
