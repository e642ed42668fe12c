"""Running the ASGI app under uvicorn with one or several worker processes.

The socket is bound before the "listening" line is printed, so a client that
reads the line can connect at once; SIGTERM/SIGINT let in-flight requests
finish (each write is one transaction, so nothing is half-written).
"""

from __future__ import annotations

import json
import logging
import os
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from firehouse.app import SETTINGS_ENV
from firehouse.auth.setup import AuthSettingsError, prepare
from firehouse.cors.policy import InvalidPolicy, parse_policy, warnings
from firehouse.cors.startup import given_cors_settings
from firehouse.cors.store import UnreadablePolicy, apply_startup_settings, load
from firehouse.logs import configure_logging
from firehouse.settings import Settings
from firehouse.storage import open_storage

log = logging.getLogger("firehouse")


def _public_url(settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def _invalid_cors(exc: InvalidPolicy) -> int:
    print("firehouse: the CORS settings are invalid, nothing was started:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem.id} {problem.field}: {problem.message}", file=sys.stderr)
    return 2


def run(settings: Settings) -> int:
    configure_logging(settings.log_level)
    try:
        # The given values on their own first: a typo must not even create the database.
        parse_policy(given_cors_settings(settings))
    except InvalidPolicy as exc:
        return _invalid_cors(exc)
    try:
        prepare(settings)
    except (AuthSettingsError, OSError) as exc:
        print(
            f"firehouse: the auth settings are invalid, nothing was started: {exc}", file=sys.stderr
        )
        return 2
    storage = open_storage(settings.database)
    try:
        version = storage.migrate()
        log.info("database %s at schema version %d", settings.database, version)
        # Once, here, before the workers start (shared/spec/interface.md, "Running").
        apply_startup_settings(storage, settings)
        stored = load(storage)
    except InvalidPolicy as exc:
        # Valid alone, but not merged onto the stored policy (say, origins * given
        # while the stored policy allows credentials).
        return _invalid_cors(exc)
    except UnreadablePolicy as exc:
        # The workers keep CORS off until a good policy is saved; say so now.
        log.error("%s; CORS stays off until a valid policy is saved", exc)
    else:
        for warning in warnings(stored.policy):
            log.warning("CORS policy version %d: %s", stored.version, warning)
    finally:
        storage.close()
    os.environ[SETTINGS_ENV] = json.dumps(settings.to_json())
    config = uvicorn.Config(
        "firehouse.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    sock = config.bind_socket()
    print(
        f"Firehouse FHIR R4 server listening on {_public_url(settings)} "
        f"(database {settings.database}, {settings.workers} worker(s))",
        flush=True,
    )
    server = uvicorn.Server(config)
    if settings.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
    return 0
