"""``firehouse import`` end to end (the real CLI on a real SQLite file), and the
pure Bundle planning of :mod:`firehouse.fhir.references` it shares with REST."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from carebundle.cli import main as carebundle
from click.testing import CliRunner, Result

from firehouse.cli import main
from firehouse.fhir import json as fhir_json
from firehouse.fhir.references import (
    assign_ids,
    plan_bundle,
    rewrite_references,
)
from firehouse.storage import open_storage
from firehouse.storage.base import ListQuery, Storage

CAREBUNDLE = ["--seed", "3", "--count", "5", "--profile", "mixed"]
RELATIVE_REFERENCE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")


# -- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """carebundle output once per module: transaction bundles and NDJSON of the same cohort."""
    root = tmp_path_factory.mktemp("carebundle")
    assert carebundle(["generate", *CAREBUNDLE, "--out", str(root / "bundles")]) == 0
    ndjson = ["generate", *CAREBUNDLE, "--format", "ndjson", "--out", str(root / "ndjson")]
    assert carebundle(ndjson) == 0
    return {"bundles": root / "bundles", "ndjson": root / "ndjson"}


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    opened = open_storage(database_url)
    opened.migrate()
    yield opened
    opened.close()


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["import", "--database", database_url, *args])


def summary(result: Result) -> dict[str, float]:
    """The summary's numbers by label: {"files read": 5, "created": 237, ...}."""
    found = re.findall(r"([a-z][a-z ]*): ([0-9.]+)", result.stdout)
    numbers = {label.removeprefix("resources ").strip(): float(value) for label, value in found}
    return numbers


def source_resources(folder: Path) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".ndjson":
            resources += [json.loads(line) for line in path.read_text().splitlines() if line]
        else:
            resources += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return resources


def stored(storage: Storage, types: set[str]) -> dict[str, dict[str, Any]]:
    """Every current resource of the given types, by ``Type/id``."""
    found: dict[str, dict[str, Any]] = {}
    for kind in sorted(types):
        cursor = None
        while True:
            page = storage.list_current(ListQuery(kind, after_key=cursor, count=1000))
            for version in page.entries:
                assert version.body is not None
                found[f"{kind}/{version.id}"] = json.loads(version.body)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    return found


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def assert_every_reference_resolves(resources: dict[str, dict[str, Any]]) -> int:
    count = 0
    for key, resource in resources.items():
        for reference in references(resource):
            assert not reference.startswith("urn:"), f"{key} still points at {reference}"
            if reference.startswith("#"):
                continue
            assert RELATIVE_REFERENCE.fullmatch(reference), f"{key}: {reference}"
            assert reference in resources, f"{key} points at {reference}, which is not stored"
            count += 1
    return count


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **extra}


# -- carebundle output -------------------------------------------------------------------


def test_transaction_bundles_store_everything_with_every_reference_resolved(
    generated: dict[str, Path], database_url: str, storage: Storage
) -> None:
    sources = source_resources(generated["bundles"])
    result = run(database_url, str(generated["bundles"]))
    assert result.exit_code == 0, result.output
    numbers = summary(result)
    assert numbers["files read"] == 5 and numbers["bundles"] == 5
    assert numbers["created"] == len(sources) and numbers["updated"] == 0
    assert numbers["failures"] == 0 and numbers["skipped"] == 0
    assert numbers["elapsed"] > 0
    assert re.search(r"elapsed: [0-9.]+ s \(\d+ resources/s\)", result.stdout)

    resources = stored(storage, {r["resourceType"] for r in sources})
    assert len(resources) == len(sources)
    assert assert_every_reference_resolves(resources) > len(sources)
    # urn:uuid values that are not references (identifier systems) are left alone.
    patient = next(r for r in resources.values() if r["resourceType"] == "Patient")
    assert patient["identifier"][0]["system"].startswith("urn:uuid:")


def test_ndjson_stores_everything_with_its_ids(
    generated: dict[str, Path], database_url: str, storage: Storage
) -> None:
    sources = source_resources(generated["ndjson"])
    result = run(database_url, str(generated["ndjson"]))
    assert result.exit_code == 0, result.output
    numbers = summary(result)
    assert numbers["files read"] == len(list(generated["ndjson"].iterdir()))
    assert numbers["created"] == len(sources) and numbers["bundles"] == 0

    resources = stored(storage, {r["resourceType"] for r in sources})
    assert set(resources) == {f"{r['resourceType']}/{r['id']}" for r in sources}
    assert_every_reference_resolves(resources)


def test_importing_ndjson_again_updates_instead_of_duplicating(
    generated: dict[str, Path], database_url: str, storage: Storage
) -> None:
    sources = source_resources(generated["ndjson"])
    assert run(database_url, str(generated["ndjson"])).exit_code == 0
    again = run(database_url, str(generated["ndjson"]))
    assert again.exit_code == 0, again.output
    assert summary(again)["created"] == 0 and summary(again)["updated"] == len(sources)
    resources = stored(storage, {r["resourceType"] for r in sources})
    assert len(resources) == len(sources)
    # Unchanged resources keep their version: a re-import does not grow history.
    assert {r["meta"]["versionId"] for r in resources.values()} == {"1"}


def test_a_small_batch_size_gives_the_same_result(
    generated: dict[str, Path], database_url: str, storage: Storage
) -> None:
    sources = source_resources(generated["ndjson"])
    result = run(database_url, "--batch-size", "7", str(generated["ndjson"]))
    assert result.exit_code == 0 and summary(result)["created"] == len(sources)
    assert len(stored(storage, {r["resourceType"] for r in sources})) == len(sources)


# -- bad records ---------------------------------------------------------------------------


def test_a_bad_ndjson_line_is_reported_with_file_and_line_and_the_rest_load(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    lines = [
        json.dumps(observation(id="good-1")),
        json.dumps(observation(id="bad-date", effectiveDateTime="2020-13-45")),
        "",
        '{"resourceType": "Observation", "status": "final",,}',
        json.dumps({"no": "resourceType"}),
        json.dumps(observation(id="good-2")),
    ]
    path = tmp_path / "data" / "obs.ndjson"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")

    result = run(database_url, str(tmp_path / "data"))
    assert result.exit_code == 1
    assert (
        f"{path} line 2 (Observation): Invalid dateTime '2020-13-45' at "
        "Observation.effectiveDateTime" in result.stderr
    )
    assert f"{path} line 4 column 51: invalid JSON: Expecting property name" in result.stderr
    assert f"{path} line 5: not a FHIR resource (no resourceType)" in result.stderr
    numbers = summary(result)
    assert numbers["failures"] == 3 and numbers["created"] == 2
    assert set(stored(storage, {"Observation"})) == {"Observation/good-1", "Observation/good-2"}


def test_a_transaction_with_one_bad_entry_stores_nothing_and_names_the_entry(
    generated: dict[str, Path], tmp_path: Path, database_url: str, storage: Storage
) -> None:
    source = sorted(generated["bundles"].iterdir())[0]
    bundle = json.loads(source.read_text())
    index = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Observation"
    )
    bundle["entry"][index]["resource"]["effectiveDateTime"] = "2020-13-45"
    path = write_json(tmp_path / "p1.json", bundle)

    result = run(database_url, str(path))
    assert result.exit_code == 1
    assert (
        f"{path} entry {index} (Observation): Invalid dateTime '2020-13-45' at "
        "Observation.effectiveDateTime" in result.stderr
    )
    assert "transaction rejected" in result.stderr
    numbers = summary(result)
    assert numbers["created"] == 0 and numbers["failures"] == 1 and numbers["bundles"] == 1
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert stored(storage, types) == {}


def test_unparseable_json_reports_the_parser_position(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "resourceType": "Patient",\n  "active": tru\n}\n')
    result = run(database_url, str(path))
    assert result.exit_code == 1
    assert f"{path} line 3 column 13: invalid JSON: Expecting value" in result.stderr


def test_a_batch_bundle_stores_its_good_entries_and_reports_the_bad(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": observation(), "request": {"method": "POST", "url": "Observation"}},
            {
                "resource": observation(id="o1"),
                "request": {"method": "PUT", "url": "Observation/o1"},
            },
            {
                "resource": observation(valueQuantity={"value": "1"}),
                "request": {"method": "POST", "url": "Observation"},
            },
            {"request": {"method": "DELETE", "url": "Observation/o1", "ifMatch": 'W/"7"'}},
        ],
    }
    path = write_json(tmp_path / "batch.json", bundle)
    result = run(database_url, str(path))
    assert result.exit_code == 1
    assert f"{path} entry 2 (Observation): " in result.stderr
    assert (
        f"{path} entry 3 (Observation): If-Match asked for version 7, but the current version is 1"
        in result.stderr
    )
    assert summary(result)["created"] == 2 and summary(result)["failures"] == 2
    assert "Observation/o1" in stored(storage, {"Observation"})


def test_collection_entries_are_stored_independently_with_references_resolved(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:pat", "resource": {"resourceType": "Patient", "id": "p7"}},
            {
                "fullUrl": "urn:oid:1.2.840.99",
                "resource": {"resourceType": "Practitioner"},
            },
            {
                "resource": observation(
                    subject={"reference": "urn:uuid:pat"},
                    performer=[{"reference": "urn:oid:1.2.840.99"}],
                )
            },
            {"resource": observation(status=7)},
        ],
    }
    result = run(database_url, str(write_json(tmp_path / "c.json", bundle)))
    assert result.exit_code == 1
    assert f"{tmp_path / 'c.json'} entry 3 (Observation): " in result.stderr
    assert summary(result)["created"] == 3 and summary(result)["failures"] == 1
    resources = stored(storage, {"Patient", "Practitioner", "Observation"})
    assert len(resources) == 3 and "Patient/p7" in resources
    assert assert_every_reference_resolves(resources) == 2


def test_a_searchset_outcome_entry_is_not_data() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a"}, "search": {"mode": "match"}},
            {
                "resource": {"resourceType": "OperationOutcome", "issue": []},
                "search": {"mode": "outcome"},
            },
        ],
    }
    assert [(p.index, p.action) for p in plan_bundle(bundle)] == [(0, "update")]


# -- files, folders, precision, exit codes --------------------------------------------------


def test_a_folder_is_walked_and_other_files_are_skipped_and_counted(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    write_json(tmp_path / "in" / "b" / "patient.json", {"resourceType": "Patient", "id": "p1"})
    write_json(tmp_path / "in" / "a.jsonl", {"resourceType": "Patient", "id": "p2"})
    (tmp_path / "in" / "README.txt").write_text("not FHIR")
    (tmp_path / "in" / "b" / "notes.md").write_text("# neither")

    result = run(database_url, str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    numbers = summary(result)
    assert numbers["files read"] == 2 and numbers["skipped"] == 2 and numbers["created"] == 2
    assert set(stored(storage, {"Patient"})) == {"Patient/p1", "Patient/p2"}


def test_decimal_precision_is_kept(tmp_path: Path, database_url: str, storage: Storage) -> None:
    weight = '{"url":"http://example.org/weight","valueDecimal":120.00}'
    (tmp_path / "p.json").write_text(f'{{"resourceType":"Patient","extension":[{weight}]}}')
    (tmp_path / "p.ndjson").write_text(
        f'{{"resourceType":"Patient","id":"n1","extension":[{weight}]}}\n'
    )
    result = run(database_url, str(tmp_path / "p.json"), str(tmp_path / "p.ndjson"))
    assert result.exit_code == 0, result.output
    bodies = [
        version.body
        for version in storage.list_current(ListQuery("Patient")).entries
        if version.body is not None
    ]
    assert len(bodies) == 2
    assert all(b'"valueDecimal":120.00' in body for body in bodies)


def test_a_plain_resource_with_an_id_is_an_update_and_without_one_a_create(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    write_json(tmp_path / "with.json", {"resourceType": "Patient", "id": "keep-me"})
    write_json(tmp_path / "without.json", {"resourceType": "Patient"})
    assert summary(run(database_url, str(tmp_path)))["created"] == 2
    again = summary(run(database_url, str(tmp_path)))
    assert again["created"] == 1 and again["updated"] == 1
    ids = set(stored(storage, {"Patient"}))
    assert "Patient/keep-me" in ids and len(ids) == 3


def test_exit_codes_and_usage_errors(tmp_path: Path, database_url: str) -> None:
    good = write_json(tmp_path / "ok.json", {"resourceType": "Patient"})
    assert run(database_url, str(good)).exit_code == 0
    assert run(database_url).exit_code == 2  # no PATH
    assert run(database_url, str(tmp_path / "missing.json")).exit_code == 2
    assert run("mysql://nowhere/db", str(good)).exit_code == 2
    bad = write_json(tmp_path / "bad.json", {"resourceType": "Nope"})
    assert run(database_url, str(good), str(bad)).exit_code == 1


def test_progress_lines_when_asked_for_without_a_terminal(
    tmp_path: Path, database_url: str
) -> None:
    write_json(tmp_path / "a.json", {"resourceType": "Patient"})
    write_json(tmp_path / "b.json", {"resourceType": "Patient"})
    asked = run(database_url, "--progress", str(tmp_path))
    assert "Importing: 2/2 files, 100%" in asked.stderr
    assert "Importing" not in run(database_url, str(tmp_path)).stderr


def test_python_dash_m_runs_the_same_command(tmp_path: Path, database_url: str) -> None:
    import subprocess
    import sys

    write_json(tmp_path / "a.json", {"resourceType": "Patient"})
    done = subprocess.run(
        [sys.executable, "-m", "firehouse", "import", "--database", database_url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "resources created: 1" in done.stdout


# -- planning and rewriting (pure) -----------------------------------------------------------


def _ids() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"new{n}"


def test_assign_ids_gives_urn_entries_new_ids_and_entries_with_ids_their_own() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:aaa", "resource": {"resourceType": "Patient"}},
            {
                "fullUrl": "urn:oid:1.2.3",
                "resource": {"resourceType": "Practitioner", "id": "dr"},
            },
            {"resource": {"resourceType": "Patient"}},
        ],
    }
    ids = _ids()
    assert assign_ids(bundle, make_id=lambda: next(ids)) == {
        "urn:uuid:aaa": "Patient/new1",
        "urn:oid:1.2.3": "Practitioner/dr",
    }


def test_rewrite_reaches_every_depth_and_leaves_the_input_alone() -> None:
    mapping = {"urn:uuid:p": "Patient/1"}
    resource = fhir_json.loads(
        """{"resourceType": "Observation",
        "subject": {"reference": "urn:uuid:p"},
        "extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:p"}}],
        "contained": [{"resourceType": "Provenance", "target": [{"reference": "urn:uuid:p"}]}],
        "focus": [{"reference": "urn:uuid:other"}, {"reference": "#c1"}],
        "identifier": [{"system": "urn:uuid:p"}],
        "valueQuantity": {"value": 120.00},
        "text": {"status": "generated", "div": "<div><a href=\\"urn:uuid:p\\">me</a></div>"}}"""
    )
    before = fhir_json.dumps(resource)
    rewritten = rewrite_references(resource, mapping)
    assert fhir_json.dumps(resource) == before
    assert rewritten["subject"] == {"reference": "Patient/1"}
    assert rewritten["extension"][0]["valueReference"]["reference"] == "Patient/1"
    assert rewritten["contained"][0]["target"][0]["reference"] == "Patient/1"
    assert rewritten["focus"] == [{"reference": "urn:uuid:other"}, {"reference": "#c1"}]
    assert rewritten["identifier"] is resource["identifier"]  # untouched subtrees are shared
    assert rewritten["text"]["div"] == '<div><a href="Patient/1">me</a></div>'
    assert b'"value":120.00' in fhir_json.dumps(rewritten)


def test_plan_bundle_leaves_batch_and_transaction_bundles_to_the_transaction_code() -> None:
    # Planned and run by firehouse.fhir.transaction (tests/fhir/test_transaction.py).
    for kind in ("batch", "transaction"):
        with pytest.raises(ValueError):
            plan_bundle({"resourceType": "Bundle", "type": kind, "entry": []})


def test_transaction_put_and_delete_entries(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    write_json(tmp_path / "old.json", {"resourceType": "Patient", "id": "gone"})
    assert run(database_url, str(tmp_path / "old.json")).exit_code == 0
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "DELETE", "url": "Patient/gone"}},
            {
                "fullUrl": "urn:uuid:kept",
                "resource": {"resourceType": "Patient", "id": "kept"},
                "request": {"method": "PUT", "url": "Patient/kept"},
            },
            {
                "resource": observation(subject={"reference": "urn:uuid:kept"}),
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    result = run(database_url, str(write_json(tmp_path / "tx" / "t.json", bundle)))
    assert result.exit_code == 0, result.output
    assert "deleted: 1" in result.stdout
    gone = storage.read("Patient", "gone")
    assert gone is not None and gone.deleted
    [obs] = stored(storage, {"Observation"}).values()
    assert obs["subject"]["reference"] == "Patient/kept"


def test_importing_a_transaction_of_puts_again_adds_no_resource_and_no_version(
    tmp_path: Path, database_url: str, storage: Storage
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:a",
                "resource": {"resourceType": "Patient", "id": "a"},
                "request": {"method": "PUT", "url": "Patient/a"},
            },
            {
                "resource": observation(id="o", subject={"reference": "urn:uuid:a"}),
                "request": {"method": "PUT", "url": "Observation/o"},
            },
        ],
    }
    path = write_json(tmp_path / "t.json", bundle)
    assert summary(run(database_url, str(path)))["created"] == 2
    again = run(database_url, str(path))
    assert again.exit_code == 0 and summary(again)["created"] == 0
    found = stored(storage, {"Patient", "Observation"})
    assert set(found) == {"Patient/a", "Observation/o"}
    assert {r["meta"]["versionId"] for r in found.values()} == {"1"}
    assert found["Observation/o"]["subject"]["reference"] == "Patient/a"


def test_the_carebundle_fixture_is_what_the_tests_expect(generated: dict[str, Path]) -> None:
    # Guards the assumptions above: urn:uuid fullUrls and POSTs only, NDJSON with ids.
    bundle = json.loads(sorted(generated["bundles"].iterdir())[0].read_text())
    assert bundle["type"] == "transaction"
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    assert all("id" in r for r in source_resources(generated["ndjson"]))
