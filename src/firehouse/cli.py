"""The ``firehouse`` command: ``serve`` (the default), ``db migrate``, ``import``, ``cors``.

Every setting of :mod:`firehouse.settings` is a flag of ``serve``, generated
from the one registry.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from firehouse.auth.cli import auth
from firehouse.cors.cli import cors
from firehouse.settings import REGISTRY, Settings, SettingsError, resolve

if TYPE_CHECKING:
    from firehouse.search.registry import SearchParam


def _setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for setting in reversed(REGISTRY):
        help_text = f"{setting.help} [env {setting.env_var}; default {setting.default!r}]"
        if setting.is_flag:
            name = setting.flag[2:]
            decl = f"--{name}/--no-{name}"
            command = click.option(decl, setting.name, default=None, help=help_text)(command)
        else:
            command = click.option(setting.flag, setting.name, default=None, help=help_text)(
                command
            )
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="TOML file of settings (keys are the setting names).",
    )(command)


def _resolve_or_exit(flags: dict[str, Any], config_file: str | None) -> Settings:
    try:
        return resolve(flags, config_file=config_file)
    except (SettingsError, OSError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc


class DefaultToServe(click.Group):
    """``firehouse`` with no command (or only options) means ``firehouse serve``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h", "--version")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToServe)
@click.version_option(package_name="firehouse")
def main() -> None:
    """Firehouse: a FHIR R4 server."""


main.add_command(cors)
main.add_command(auth)


@main.command()
@_setting_options
def serve(config_file: str | None, **flags: Any) -> None:
    """Run the FHIR server."""
    from firehouse.server import run

    settings = _resolve_or_exit(flags, config_file)
    sys.exit(run(settings))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("migrate")
@click.option("--database", default=None, help="Database URL (default from settings).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False))
def db_migrate(database: str | None, config_file: str | None) -> None:
    """Bring the database schema up to date."""
    from firehouse.storage import open_storage

    settings = _resolve_or_exit({"database": database}, config_file)
    storage = open_storage(settings.database)
    try:
        version = storage.migrate()
    finally:
        storage.close()
    click.echo(f"{settings.database}: schema at version {version}")


def _folder_params(settings: Settings) -> list[SearchParam]:
    """The ``search_parameters_dir`` SearchParameters; a bad file is a usage error."""
    from firehouse.search import folder

    try:
        return folder.load(settings.search_parameters_dir)
    except folder.SearchParameterFolderError as exc:
        raise click.UsageError(str(exc)) from exc


@db.command("reindex")
@click.option("--database", default=None, help="Database URL (default from settings).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False))
def db_reindex(database: str | None, config_file: str | None) -> None:
    """Rebuild the search index of every stored resource (with a progress bar)."""
    from firehouse.search import reindex
    from firehouse.storage import open_storage

    settings = _resolve_or_exit({"database": database}, config_file)
    extra = _folder_params(settings)
    storage = open_storage(settings.database)
    try:
        storage.migrate()
        total = reindex.count(storage)
        with click.progressbar(length=total, label="Reindexing", file=sys.stderr) as bar:
            done = reindex.reindex(storage, progress=bar.update, extra=extra)
    finally:
        storage.close()
    click.echo(f"{settings.database}: reindexed {done} resources")


# -- firehouse import ---------------------------------------------------------------


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--database", default=None, help="Database URL (default from settings).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML file of settings (keys are the setting names).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on stderr [default: only when stderr is a terminal].",
)
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Independent resources (NDJSON lines, batch entries) committed per transaction.",
)
def import_files(
    paths: tuple[Path, ...],
    database: str | None,
    config_file: str | None,
    progress: bool | None,
    batch_size: int,
) -> None:
    """Load FHIR JSON, Bundles and NDJSON files or folders into the database.

    Folders are walked recursively for *.json, *.ndjson and *.jsonl. Bad records
    are reported with file and line and do not stop the rest. Exit status 0 when
    everything loaded, 1 when anything failed.
    """
    from firehouse.errors import FhirError
    from firehouse.fhir.transaction.searching import engine_hooks
    from firehouse.importing import run_import
    from firehouse.search.engine import SearchEngine
    from firehouse.search.wiring import install as install_search
    from firehouse.storage import open_storage

    settings = _resolve_or_exit({"database": database}, config_file)
    extra = _folder_params(settings)
    try:
        storage = open_storage(settings.database)
    except FhirError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        storage.migrate()
        # Imported resources are indexed like any other write.
        registry = install_search(storage, extra)
        # Conditional entries of Bundles resolve as they would through POST /.
        engine = SearchEngine(storage, registry.current)
        hooks = engine_hooks(engine, settings.base_url.rstrip("/"))
        status = run_import(storage, paths, progress=progress, batch_size=batch_size, hooks=hooks)
    finally:
        storage.close()
    sys.exit(status)
