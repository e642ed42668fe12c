"""``firehouse auth dev-token``: a SMART access token for trying ``--auth smart`` locally.

Signed with the local development key (:mod:`firehouse.auth.devkeys`), which
``firehouse serve --auth smart`` trusts when no ``--auth-jwks`` is given.
"""

from __future__ import annotations

from typing import Any

import click

from firehouse.auth import devkeys
from firehouse.settings import SettingsError, resolve


@click.group()
def auth() -> None:
    """SMART on FHIR authentication tools."""


@auth.command("dev-token")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="A SMART scope (repeat, or space-separate): patient/*.read, user/Observation.rs, ...",
)
@click.option("--patient", default=None, help="Launch-context patient id (the patient claim).")
@click.option("--subject", default="dev-user", show_default=True, help="The token's sub.")
@click.option("--client-id", default="firehouse-dev-token", show_default=True)
@click.option(
    "--expires",
    default=3600,
    show_default=True,
    type=click.IntRange(1, 86_400 * 30),
    help="Seconds.",
)
@click.option("--database", default=None, help="Database URL (its folder holds the key).")
@click.option(
    "--auth-key-dir", default=None, help="Folder of the local key (setting auth_key_dir)."
)
@click.option(
    "--auth-issuer", default=None, help="iss to put in the token (default: the dev issuer)."
)
@click.option("--auth-audience", default=None, help="aud to put in the token.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False))
def dev_token(
    scopes: tuple[str, ...],
    patient: str | None,
    subject: str,
    client_id: str,
    expires: int,
    config_file: str | None,
    **flags: Any,
) -> None:
    """Print a signed access token (creates the local key pair on first use, mode 0600)."""
    try:
        settings = resolve(flags, config_file=config_file)
    except (SettingsError, OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    scope_list = [part for s in scopes for part in s.split()]
    token = devkeys.mint(
        settings, scope_list, patient=patient, subject=subject, client_id=client_id, expires=expires
    )
    click.echo(token)
    click.echo(
        f"# key: {devkeys.key_dir(settings) / devkeys.KEY_FILE}; "
        "use with: firehouse serve --auth smart (same --database or --auth-key-dir)",
        err=True,
    )
