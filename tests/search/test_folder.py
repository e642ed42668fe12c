"""SearchParameters from ``search_parameters_dir``, then ``firehouse db reindex``.

https://hl7.org/fhir/R4/searchparameter.html: a server decides when a new
parameter applies to resources stored before it; here that is a reindex.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from firehouse.cli import main
from firehouse.search.folder import SearchParameterFolderError
from firehouse.settings import Settings
from tests.search.conftest import ids, put

EYES = "http://example.org/fhir/StructureDefinition/eye-colour"


def _param(code: str, base: str, kind: str, expression: str) -> dict[str, Any]:
    return {
        "resourceType": "SearchParameter",
        "url": f"http://example.org/fhir/SearchParameter/{base}-{code}",
        "name": code,
        "status": "active",
        "description": f"{base} by {code}",
        "code": code,
        "base": [base],
        "type": kind,
        "expression": expression,
    }


def _patient(id: str, colour: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": id,
        "extension": [{"url": EYES, "valueCode": colour}],
    }


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "params"
    root.mkdir()
    eyes = _param("eye-colour", "Patient", "token", f"Patient.extension('{EYES}').value")
    (root / "SearchParameter-eye-colour.json").write_text(json.dumps(eyes))
    note = _param("note-text", "Observation", "string", "Observation.note.text")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": note}]}
    (root / "search-parameters.json").write_text(json.dumps(bundle))
    (root / "README.txt").write_text("not JSON, not read")
    return root


def _app(database: str, folder: Path | None) -> TestClient:
    from firehouse.app import create_app

    settings = Settings(database=database, search_parameters_dir=str(folder or ""))
    return TestClient(create_app(settings), base_url="http://fhir.test")


def test_folder_parameters_search_new_writes_and_old_ones_after_reindex(
    tmp_path: Path, folder: Path
) -> None:
    database = f"sqlite:///{tmp_path}/folder.db"
    with _app(database, None) as before:
        put(before, _patient("old-blue", "blue"))
    with _app(database, folder) as api:
        put(api, _patient("new-blue", "blue"))
        put(api, _patient("new-brown", "brown"))
        observation = {
            "resourceType": "Observation",
            "id": "noted",
            "status": "final",
            "code": {"text": "x"},
            "note": [{"text": "Patient fasted overnight"}],
        }
        put(api, observation)
        # old-blue was written before the folder was configured: not indexed yet.
        assert ids(api, "/Patient?eye-colour=blue") == {"new-blue"}
        assert ids(api, "/Observation?note-text=fasted") == set()  # string: a prefix match
        assert ids(api, "/Observation?note-text=patient") == {"noted"}
        statement = api.get("/metadata").json()["rest"][0]["resource"]
        patient = next(r for r in statement if r["type"] == "Patient")
        assert "eye-colour" in {p["name"] for p in patient["searchParam"]}

    runner = CliRunner()
    result = runner.invoke(
        main,
        ["db", "reindex", "--database", database],
        env={"FIREHOUSE_SEARCH_PARAMETERS_DIR": str(folder)},
    )
    assert result.exit_code == 0, result.output
    with _app(database, folder) as api:
        assert ids(api, "/Patient?eye-colour=blue") == {"old-blue", "new-blue"}
        strict = api.get("/Patient?eye-colour=brown", headers={"Prefer": "handling=strict"})
        assert strict.status_code == 200
    with _app(database, None) as without:
        # Without the folder the parameter is unknown again: strict handling refuses it.
        refused = without.get("/Patient?eye-colour=blue", headers={"Prefer": "handling=strict"})
        assert refused.status_code == 400


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not readable JSON"),
        (json.dumps({"resourceType": "Patient"}), "not a SearchParameter"),
        (
            json.dumps({**_param("x", "Patient", "token", "Patient.id"), "expression": ""}),
            "no expression",
        ),
        (json.dumps(_param("x", "Patient", "colour", "Patient.id")), "known type"),
    ],
)
def test_a_bad_file_stops_the_start_up_naming_it(
    tmp_path: Path, folder: Path, content: str, message: str
) -> None:
    (folder / "SearchParameter-bad.json").write_text(content)
    with pytest.raises(SearchParameterFolderError, match=f"SearchParameter-bad.json.*{message}"):
        _app(f"sqlite:///{tmp_path}/bad.db", folder)
    result = CliRunner().invoke(
        main,
        ["db", "reindex", "--database", f"sqlite:///{tmp_path}/bad.db"],
        env={"FIREHOUSE_SEARCH_PARAMETERS_DIR": str(folder)},
    )
    assert result.exit_code == 2 and "SearchParameter-bad.json" in result.output


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SearchParameterFolderError, match="not a folder"):
        _app(f"sqlite:///{tmp_path}/none.db", tmp_path / "nowhere")
