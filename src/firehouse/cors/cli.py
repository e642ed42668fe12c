"""``firehouse cors ...``: the CORS policy from the command line.

``firehouse cors check`` plays out one cross-origin call the way a browser
would (:func:`firehouse.cors.explain.explain`, after the Fetch standard,
https://fetch.spec.whatwg.org/#http-cors-protocol) and says in plain words
whether the page gets the response, and why. Exit status 0 when allowed,
1 when the browser would block the call, 2 when the input or the policy is
invalid, so scripts and CI can assert a policy (``shared/spec/cors.md``).

The policy checked is the stored one (shared/spec/cors.md, "Changing the
policy at run time"), read from the database (``--database`` / ``--config`` /
``FIREHOUSE_DATABASE``) or from a running server (``--url`` plus the admin
token). ``--cors-*`` values given as flags, ``FIREHOUSE_CORS_*`` or in the
``--config`` file are applied on top, unsaved, to ask "what if": the same merge
``firehouse cors set`` and ``serve`` would make.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from firehouse.cors.decision import CorsDecision
from firehouse.cors.explain import CheckResult, explain
from firehouse.cors.policy import CORS_OFF, CorsPolicy, InvalidPolicy, parse_policy, policy_to_json
from firehouse.cors.startup import given_cors_settings
from firehouse.settings import BY_NAME, CORS_SETTING_NAMES, SettingsError, resolve

ALLOWED_EXIT = 0
BLOCKED_EXIT = 1
INVALID_EXIT = 2


@click.group("cors")
def cors() -> None:
    """Inspect the CORS policy (shared/spec/cors.md)."""


def settings_policy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--cors-*`` flags and ``--config`` of ``serve``, for commands that read the policy.

    Generated from the settings registry so the names and help never drift
    from ``serve``'s; the environment (``FIREHOUSE_CORS_*``) applies as well.
    """
    for name in reversed(CORS_SETTING_NAMES):
        setting = BY_NAME[name]
        help_text = f"{setting.help} [env {setting.env_var}]"
        if setting.is_flag:
            flag = setting.flag[2:]
            decl = f"--{flag}/--no-{flag}"
            command = click.option(decl, name, default=None, help=help_text)(command)
        else:
            command = click.option(setting.flag, name, default=None, help=help_text)(command)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="TOML file of settings, as for serve.",
    )(command)


def policy_from_options(
    flags: dict[str, Any],
    config_file: str | None,
    *,
    database: str | None = None,
    url: str | None = None,
    admin_token: str | None = None,
) -> tuple[CorsPolicy, str]:
    """The stored policy with any given ``--cors-*`` values applied, and where it came from.

    Exits 2 when the result is invalid (every problem listed), 1 when the
    stored policy cannot be read.
    """
    from firehouse.cors.manage import stored_document

    try:
        settings = resolve({**flags, "database": database}, config_file=config_file)
    except (SettingsError, OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    document = stored_document(settings.database if url is None else None, url, admin_token)
    source = f"the stored policy, version {document['version']}" + (
        f", of {url}" if url else f", in {settings.database}"
    )
    given = given_cors_settings(settings)
    if given:
        source += f", with {', '.join(sorted(given))} as given here (not saved)"
    data = {name: document[name] for name in policy_to_json(CORS_OFF)}
    data.update(given)
    try:
        return parse_policy(data), source
    except InvalidPolicy as exc:
        click.echo("the CORS settings are invalid:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem.id} {problem.field}: {problem.message}", err=True)
        sys.exit(INVALID_EXIT)


@cors.command("check")
@click.option(
    "--origin", required=True, help="The calling page's origin, e.g. https://app.example."
)
@click.option("--method", required=True, help="The method the page's fetch() uses, e.g. PUT.")
@click.option(
    "--header",
    "headers",
    multiple=True,
    help="A request header the page's script sets (repeat for several; commas also split).",
)
@click.option(
    "--credentials/--no-credentials",
    default=None,
    help="Whether the call sends cookies or HTTP auth "
    "[default: exactly when the policy allows credentials].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--database", default=None, help="Database URL (default from settings).")
@click.option("--url", default=None, help="A running server's base URL, instead.")
@click.option(
    "--admin-token",
    envvar="FIREHOUSE_ADMIN_TOKEN",
    default=None,
    help="The server's admin token, with --url [env FIREHOUSE_ADMIN_TOKEN].",
)
@settings_policy_options
def check(
    origin: str,
    method: str,
    headers: tuple[str, ...],
    credentials: bool | None,
    as_json: bool,
    database: str | None,
    url: str | None,
    admin_token: str | None,
    config_file: str | None,
    **flags: Any,
) -> None:
    """Say what a browser will do with one cross-origin call, and why.

    Exit status: 0 when the page gets the response, 1 when the browser
    blocks it, 2 when the policy or the input is invalid.
    """
    policy, source = policy_from_options(
        flags, config_file, database=database, url=url, admin_token=admin_token
    )
    names = [part.strip() for value in headers for part in value.split(",") if part.strip()]
    result = explain(policy, origin, method, names, credentials=credentials)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps({**result.to_json(), "policy": source}, indent=2))
    else:
        click.echo(describe(result, policy, origin, method, names, credentials))
        click.echo(f"policy: {source}")
    sys.exit(ALLOWED_EXIT if result.allowed else BLOCKED_EXIT)


def describe(
    result: CheckResult,
    policy: CorsPolicy,
    origin: str,
    method: str,
    headers: Sequence[str],
    credentials: bool | None,
) -> str:
    """The verdict, the reason, and the headers the server sends, for a person to read."""
    include = policy.allow_credentials if credentials is None else credentials
    call = f"{method} from {origin}"
    if headers:
        call += f" with header{'s' * (len(headers) > 1)} {', '.join(headers)}"
    if include:
        call += ", with credentials"
    verdict = "ALLOWED" if result.allowed else "BLOCKED"
    lines = [f"{verdict}: {call}", f"  {result.reason}"]
    if result.preflight_needed:
        lines.append("preflight: the browser asks first (OPTIONS); the server answers 204 with")
        lines.extend(_header_lines(result.preflight))
    else:
        lines.append("preflight: none, this is a simple request")
    lines.append("response: the server adds")
    lines.extend(_header_lines(result.actual))
    return "\n".join(lines)


def _header_lines(decision: CorsDecision) -> list[str]:
    lines = [f"    {name}: {value}" for name, value in decision.headers]
    if not lines:
        # Saying so outright: without Allow-Origin the browser refuses, whatever else is sent.
        lines.append("    (no Access-Control-* header)")
    if decision.vary:
        lines.append(f"    Vary: {', '.join(decision.vary)}")
    return lines


# The stored policy's commands (issue 4) live in their own module.
from firehouse.cors.manage import COMMANDS  # noqa: E402

for _command in COMMANDS:
    cors.add_command(_command)
