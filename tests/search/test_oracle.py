"""Oracle: search results equal a brute-force evaluation of the same SearchParameters.

A carebundle dataset (30 patients, ~1,400 resources) is loaded through the
service; for every token, string, reference, date and quantity parameter of
the common clinical types, values are sampled from the data itself and each
search's result set is compared with a plain Python evaluation of the
parameter's FHIRPath expression by ``fhirpathpy`` over every resource.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhirpathpy import compile as fp_compile
from fhirpathpy.models import models
from starlette.testclient import TestClient

from firehouse.search.registry import builtin
from firehouse.settings import Settings
from tests.search.conftest import ids

TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "DiagnosticReport",
    "MedicationRequest",
)
SAMPLES = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("carebundle")
    subprocess.run(
        [
            str(Path(sys.executable).parent / "carebundle"),
            "generate",
            "--seed",
            "11",
            "--count",
            "30",
            "--profile",
            "mixed",
            "--format",
            "ndjson",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    data: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(Path(out).glob("*.ndjson")):
        data[path.stem] = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return data


@pytest.fixture(scope="module")
def loaded(
    dataset: dict[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    from firehouse.app import create_app
    from firehouse.fhir import json as fhir_json
    from firehouse.fhir.service import update_in

    path = tmp_path_factory.mktemp("oracle") / "oracle.db"
    app = create_app(Settings(database=f"sqlite:///{path}"))
    with TestClient(app, base_url="http://fhir.test") as client:
        from firehouse.search.wiring import install
        from firehouse.storage import open_storage

        store = open_storage(f"sqlite:///{path}")
        install(store)
        with store.transaction() as tx:
            for resource_type, resources in dataset.items():
                for resource in resources:
                    parsed = fhir_json.loads(orjson.dumps(resource))
                    update_in(tx, resource_type, resource["id"], parsed)
        store.close()
        yield client


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split()
    )


def _values(resource: dict[str, Any], expression: str) -> list[Any]:
    # fhirpathpy has no resolve(): the oracle checks the reference's type itself.
    wanted = re.findall(r"\.where\(resolve\(\) is (\w+)\)", expression)
    plain = re.sub(r"\.where\(resolve\(\) is \w+\)", "", expression)
    plain = re.sub(r"\(([^()]+?)\s+as\s+(\w+)\)", r"\1.ofType(\2)", plain)
    values = fp_compile(plain, models["r4"])(resource, {})
    if wanted:
        values = [
            v
            for v in values
            if isinstance(v, dict) and str(v.get("reference", "")).split("/")[0] in wanted
        ]
    return values


def _tokens(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, dict):
        for coding in value.get("coding", [value]):
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield coding["code"]
        if isinstance(value.get("value"), str):
            yield value["value"]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in ("family", "given", "text", "line", "city", "state", "postalCode", "country"):
            item = value.get(key)
            for part in item if isinstance(item, list) else [item]:
                if isinstance(part, str):
                    yield part


def _days(value: Any) -> Iterator[tuple[date, date]]:
    if isinstance(value, str):
        day = date.fromisoformat(value[:10]) if len(value) >= 10 else None
        if day is not None:
            yield day, day
    elif isinstance(value, dict) and "start" in value:
        start, end = value.get("start"), value.get("end")
        if isinstance(start, str) and isinstance(end, str):
            yield date.fromisoformat(start[:10]), date.fromisoformat(end[:10])


def _cases(dataset: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str, Any]]:
    """(query, resource type, predicate) for sampled values of every parameter."""
    registry = builtin()
    rng = random.Random(11)
    for resource_type in TYPES:
        resources = dataset.get(resource_type, [])
        for param in registry.for_type(resource_type).values():
            expression = param.expression
            if not expression or param.code.startswith("_") or "exists()" in expression:
                continue
            expression = expression.replace("Resource.", f"{resource_type}.")
            per_resource = [(r, _values(r, expression)) for r in resources]
            if param.type == "token":
                pool = sorted({t for _, vs in per_resource for v in vs for t in _tokens(v)})
                for code in rng.sample(pool, min(SAMPLES, len(pool))):
                    yield (
                        f"{param.code}={code}",
                        resource_type,
                        lambda vs, c=code: any(c in _tokens(v) for v in vs),
                        per_resource,
                    )
            elif param.type == "string":
                pool = sorted(
                    {_fold(s)[:3] for _, vs in per_resource for v in vs for s in _strings(v)}
                )
                for prefix in rng.sample(pool, min(SAMPLES, len(pool))):
                    yield (
                        f"{param.code}={prefix}",
                        resource_type,
                        lambda vs, p=prefix: any(
                            _fold(s).startswith(p) for v in vs for s in _strings(v)
                        ),
                        per_resource,
                    )
            elif param.type == "reference":
                pool = sorted(
                    {
                        v["reference"]
                        for _, vs in per_resource
                        for v in vs
                        if isinstance(v, dict) and "/" in str(v.get("reference", ""))
                    }
                )
                for ref in rng.sample(pool, min(SAMPLES, len(pool))):
                    yield (
                        f"{param.code}={ref}",
                        resource_type,
                        lambda vs, r=ref: any(
                            isinstance(v, dict) and v.get("reference") == r for v in vs
                        ),
                        per_resource,
                    )
            elif param.type == "date":
                pool = sorted({lo for _, vs in per_resource for v in vs for lo, _ in _days(v)})
                for day in rng.sample(pool, min(SAMPLES, len(pool))):
                    yield (
                        f"{param.code}=ge{day.isoformat()}",
                        resource_type,
                        lambda vs, d=day: any(hi >= d for v in vs for _, hi in _days(v)),
                        per_resource,
                    )
            elif param.type == "quantity":
                pool = sorted(
                    {
                        v["value"]
                        for _, vs in per_resource
                        for v in vs
                        if isinstance(v, dict) and isinstance(v.get("value"), int | float | Decimal)
                    }
                )
                for number in rng.sample(pool, min(SAMPLES, len(pool))):
                    yield (
                        f"{param.code}=gt{number}",
                        resource_type,
                        lambda vs, n=number: any(
                            isinstance(v, dict)
                            and isinstance(v.get("value"), int | float | Decimal)
                            and v["value"] > n
                            for v in vs
                        ),
                        per_resource,
                    )


def test_search_agrees_with_brute_force(
    loaded: TestClient, dataset: dict[str, list[dict[str, Any]]]
) -> None:
    checked = 0
    disagreements = []
    for query, resource_type, predicate, per_resource in _cases(dataset):
        expected = {r["id"] for r, values in per_resource if predicate(values)}
        got = ids(loaded, f"/{resource_type}?{query}&_count=1000")
        if got != expected:
            disagreements.append((resource_type, query, len(got), len(expected)))
        checked += 1
    assert checked > 60
    assert disagreements == [], disagreements
