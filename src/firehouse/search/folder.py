"""SearchParameters from a folder, loaded at start-up (setting ``search_parameters_dir``).

https://hl7.org/fhir/R4/searchparameter.html. Every ``*.json`` file in the
folder (not its subfolders) is a SearchParameter resource or a Bundle of
them, as implementation guides publish them (``SearchParameter-*.json``, or
a ``search-parameters.json`` Bundle). They join the built-in R4 and CARIN BB
parameters, replacing one of the same type and code; parameters stored as
SearchParameter resources apply on top of both.

Unlike a stored SearchParameter, which is a client's write and is skipped
with a warning when unusable, a file is the operator's configuration: a file
that is not a usable SearchParameter stops the start-up, naming the file, so
a typo cannot silently leave a search unsupported. Resources stored before a
parameter was added are found by it only after ``firehouse db reindex``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from firehouse.search.registry import SearchParam, params_from_resource

SOURCE = "folder"


class SearchParameterFolderError(ValueError):
    """A file in ``search_parameters_dir`` is not a usable SearchParameter."""


def _resources(path: Path) -> list[Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SearchParameterFolderError(f"{path}: not readable JSON ({exc})") from exc
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        return [e.get("resource") for e in data.get("entry") or () if isinstance(e, dict)]
    return [data]


def load(folder: str) -> list[SearchParam]:
    """The SearchParameters of ``folder`` in file-name order; none when ``folder`` is ''."""
    if not folder:
        return []
    root = Path(folder)
    if not root.is_dir():
        raise SearchParameterFolderError(f"search_parameters_dir {folder!r} is not a folder")
    made: list[SearchParam] = []
    for path in sorted(root.glob("*.json")):
        for resource in _resources(path):
            if not isinstance(resource, dict) or resource.get("resourceType") != "SearchParameter":
                raise SearchParameterFolderError(f"{path}: not a SearchParameter (or a Bundle)")
            if not resource.get("expression"):
                raise SearchParameterFolderError(
                    f"{path}: SearchParameter {resource.get('code')!r} has no expression"
                )
            try:
                made.extend(params_from_resource(resource, SOURCE))
            except ValueError as exc:
                raise SearchParameterFolderError(f"{path}: {exc}") from exc
    return made
