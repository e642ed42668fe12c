"""Run a comparison ASGI app on exactly the server stack Firehouse uses.

Mirrors ``firehouse.server.run``: the same ``uvicorn.Config`` options (access
log off, no ``server`` header, the same log level), the socket bound by the
parent, ``Multiprocess`` for more than one worker and ``Server.run`` for one.
So a difference between Firehouse and a comparison app is the app, never the
HTTP server around it.

    python benchmarks/baseline_app.py --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess


def serve(app_path: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"serve {app_path} like firehouse serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        app_path,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )
    sock = config.bind_socket()
    print(f"{app_path} listening on http://{args.host}:{args.port}", flush=True)
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2:]))
