"""``firehouse import``: FHIR JSON, Bundles and NDJSON files loaded into storage.

The loading itself is :mod:`.loader` (no console I/O, usable from Python);
:mod:`.console` adds the progress bar, the report and the exit status.
Bundle planning and reference rewriting live in :mod:`firehouse.fhir.references`,
shared with the REST batch/transaction interaction.
"""

from __future__ import annotations

from firehouse.importing.console import run_import
from firehouse.importing.loader import (
    DEFAULT_BATCH_SIZE,
    SUFFIXES,
    Importer,
    ImportStats,
    Problem,
    find_files,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "SUFFIXES",
    "ImportStats",
    "Importer",
    "Problem",
    "find_files",
    "run_import",
]
