"""One logging set-up for the serving process and each worker process.

Workers are new processes (uvicorn spawns them), so they configure logging
themselves; the process id in every line tells the workers apart, which is
how an operator sees that each of them applied a CORS change.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    # Audit records are not diagnostics: a quieter --log-level must not drop
    # them (https://hl7.org/fhir/R4/security.html#audit).
    logging.getLogger("firehouse.audit").setLevel(logging.INFO)
