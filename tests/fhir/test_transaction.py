"""Batch and transaction Bundles run against a real SQLite file (no HTTP):
https://hl7.org/fhir/R4/http.html#transaction, through firehouse.fhir.transaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from firehouse.errors import Category, FhirError
from firehouse.fhir import json as fhir_json
from firehouse.fhir.transaction import (
    BundleRejected,
    EntryResult,
    Hooks,
    run_batch,
    run_bundle,
    run_transaction,
)
from firehouse.fhir.transaction.entries import parse_entry
from firehouse.fhir.transaction.searching import engine_hooks
from firehouse.search.engine import SearchEngine
from firehouse.search.wiring import install as install_search
from firehouse.storage import open_storage
from firehouse.storage.base import HistoryQuery, ListQuery, Storage
from firehouse.storage.schema import SEARCH_TABLES

BASE = "http://fhir.test"


@dataclass
class Env:
    storage: Storage
    hooks: Hooks


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    storage = open_storage(database_url)
    storage.migrate()
    registry = install_search(storage)
    yield Env(storage, engine_hooks(SearchEngine(storage, registry.current), BASE))
    storage.close()


def entry(method: str, url: str, resource: Any = None, full_url: str | None = None, **request: Any):
    item: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        item["resource"] = resource
    if full_url is not None:
        item["fullUrl"] = full_url
    return item


def patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **extra}


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **extra}


def put(env: Env, resource: dict[str, Any]) -> None:
    url = f"{resource['resourceType']}/{resource['id']}"
    run_transaction(env.storage, [entry("PUT", url, resource)])


def body(env: Env, resource_type: str, id: str) -> dict[str, Any]:
    stored = env.storage.read(resource_type, id)
    assert stored is not None and stored.body is not None, f"{resource_type}/{id} not stored"
    parsed: dict[str, Any] = json.loads(stored.body)
    return parsed


def current(env: Env, resource_type: str) -> list[dict[str, Any]]:
    page = env.storage.list_current(ListQuery(resource_type, count=1000))
    return [json.loads(v.body) for v in page.entries if v.body is not None]


def index_rows(env: Env) -> int:
    with env.storage.engine.connect() as conn:  # type: ignore[attr-defined]
        return sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one() for t in SEARCH_TABLES
        )


def history_length(env: Env) -> int:
    return len(env.storage.history(HistoryQuery(count=10_000)).entries)


# -- processing order --------------------------------------------------------------------


def test_deletes_run_first_then_creates_then_updates_then_reads(env: Env) -> None:
    put(env, patient(id="gone"))
    put(env, patient(id="b", active=False))
    results = run_transaction(
        env.storage,
        [
            entry("GET", "Patient/b"),
            entry("PUT", "Patient/b", patient(id="b", active=True)),
            entry("POST", "Patient", patient(gender="female")),
            entry("DELETE", "Patient/gone"),
        ],
    )
    # Results come back in entry order; the read ran last, so it sees the update.
    assert [r.outcome for r in results] == ["read", "updated", "created", "deleted"]
    assert results[0].stored is not None and results[0].stored.version == 2
    assert results[0].stored.body is not None and b'"active":true' in results[0].stored.body
    newest_first = env.storage.history(HistoryQuery(count=3)).entries
    assert [(v.method, v.id) for v in newest_first] == [
        ("PUT", "b"),
        ("POST", results[2].stored.id if results[2].stored else ""),
        ("DELETE", "gone"),
    ]


def test_a_resource_written_by_two_entries_fails_the_transaction(env: Env) -> None:
    with pytest.raises(BundleRejected) as caught:
        run_transaction(
            env.storage,
            [
                entry("PUT", "Patient/a", patient(id="a")),
                entry("DELETE", "Patient/a"),
            ],
        )
    issue = caught.value.issues[0]
    assert caught.value.category is Category.INVALID
    assert issue.expression[0] == "Bundle.entry[1]"
    assert "Patient/a is also written by Bundle.entry[0]" in issue.diagnostics
    assert env.storage.read("Patient", "a") is None


# -- references --------------------------------------------------------------------------


def test_full_url_references_are_rewritten_everywhere(env: Env) -> None:
    obs = fhir_json.loads(
        json.dumps(
            observation(
                subject={"reference": "urn:uuid:p1"},
                performer=[{"reference": "urn:oid:1.2.3"}, {"reference": "urn:uuid:unknown"}],
                extension=[{"url": "http://x", "valueReference": {"reference": "urn:uuid:p1"}}],
                contained=[
                    {
                        "resourceType": "Provenance",
                        "id": "prov",
                        "recorded": "2024-01-01T00:00:00Z",
                        "agent": [{"who": {"reference": "urn:oid:1.2.3"}}],
                        "target": [{"reference": "urn:uuid:p1"}],
                    }
                ],
                text={
                    "status": "generated",
                    "div": '<div xmlns="http://www.w3.org/1999/xhtml"><a href="urn:uuid:p1">'
                    "patient</a></div>",
                },
            )
        ).replace('"status": "final"', '"valueQuantity": {"value": 120.00}, "status": "final"')
    )
    results = run_transaction(
        env.storage,
        [
            entry("POST", "Observation", obs, "urn:uuid:o1"),
            entry("POST", "Patient", patient(), "urn:uuid:p1"),
            entry(
                "PUT",
                "Practitioner/dr",
                {"resourceType": "Practitioner", "id": "dr"},
                "urn:oid:1.2.3",
            ),
        ],
    )
    assert [r.outcome for r in results] == ["created", "created", "created"]
    assert results[1].stored is not None
    patient_ref = f"Patient/{results[1].stored.id}"
    assert results[0].stored is not None
    stored = body(env, "Observation", results[0].stored.id)
    assert stored["subject"]["reference"] == patient_ref
    assert stored["performer"] == [
        {"reference": "Practitioner/dr"},
        {"reference": "urn:uuid:unknown"},  # no entry has that fullUrl: left as written
    ]
    assert stored["extension"][0]["valueReference"]["reference"] == patient_ref
    assert stored["contained"][0]["agent"][0]["who"]["reference"] == "Practitioner/dr"
    assert stored["contained"][0]["target"][0]["reference"] == patient_ref
    assert f'href="{patient_ref}"' in stored["text"]["div"]
    raw = env.storage.read("Observation", results[0].stored.id)
    assert raw is not None and raw.body is not None and b'"value":120.00' in raw.body


def test_relative_references_resolve_against_a_restful_full_url(env: Env) -> None:
    results = run_transaction(
        env.storage,
        [
            entry("POST", "Patient", patient(id="old"), "http://example.org/fhir/Patient/old"),
            entry(
                "POST",
                "Observation",
                observation(subject={"reference": "Patient/old"}),
                "http://example.org/fhir/Observation/o",
            ),
            entry("POST", "Observation", observation(subject={"reference": "Patient/old"})),
        ],
    )
    new = results[0].stored
    assert new is not None and new.id != "old"  # a POST's id comes from the server
    first, second = (r.stored for r in results[1:])
    assert first is not None and second is not None
    assert body(env, "Observation", first.id)["subject"]["reference"] == f"Patient/{new.id}"
    # Without a RESTful fullUrl, "Patient/old" means this server's Patient/old.
    assert body(env, "Observation", second.id)["subject"]["reference"] == "Patient/old"


# -- atomicity ---------------------------------------------------------------------------


def test_a_failing_last_entry_leaves_no_trace(env: Env) -> None:
    put(env, patient(id="p", name=[{"family": "Before"}]))
    rows, versions = index_rows(env), history_length(env)
    with pytest.raises(BundleRejected) as caught:
        run_transaction(
            env.storage,
            [
                entry("POST", "Patient", patient(name=[{"family": "Newman"}])),
                entry("POST", "Observation", observation(subject={"reference": "Patient/p"})),
                entry("PUT", "Patient/p", patient(id="p", active=True), ifMatch='W/"2"'),
            ],
        )
    rejected = caught.value
    assert rejected.category is Category.PRECONDITION_FAILED
    assert [f.index for f in rejected.failures] == [2]
    assert rejected.issues[0].expression == ("Bundle.entry[2]",)
    assert rejected.issues[0].diagnostics.startswith("Bundle.entry[2] (PUT Patient/p): If-Match")
    assert current(env, "Observation") == []
    assert [p["id"] for p in current(env, "Patient")] == ["p"]
    assert body(env, "Patient", "p")["meta"]["versionId"] == "1"
    assert history_length(env) == versions
    assert index_rows(env) == rows


def test_invalid_entries_are_all_named_and_nothing_is_stored(env: Env) -> None:
    with pytest.raises(BundleRejected) as caught:
        run_transaction(
            env.storage,
            [
                entry("POST", "Patient", patient()),
                entry("POST", "Observation", observation(effectiveDateTime="2020-13-45")),
                entry("POST", "Patient", patient()),
                entry("PUT", "Patient/a", patient(id="b")),
            ],
        )
    issues = caught.value.issues
    assert caught.value.category is Category.INVALID
    assert [i.expression[0] for i in issues] == ["Bundle.entry[1]", "Bundle.entry[3]"]
    assert "Bundle.entry[1].resource.effectiveDateTime" in issues[0].expression
    assert "Bundle.entry[3].resource.id" in issues[1].expression
    assert current(env, "Patient") == []


# -- batch -------------------------------------------------------------------------------


def test_batch_entries_succeed_or_fail_alone(env: Env) -> None:
    put(env, patient(id="p"))
    results = run_batch(
        env.storage,
        [
            entry("POST", "Patient", patient(gender="male")),
            entry("PUT", "Patient/p", patient(id="p", active=True), ifMatch='W/"5"'),
            entry("POST", "Observation", observation(effectiveDateTime="2020-13-45")),
            entry("GET", "Patient/missing"),
            {"request": {"method": "FETCH", "url": "Patient"}},
            entry("DELETE", "Patient/p", ifMatch='W/"1"'),
        ],
    )
    assert [r.outcome for r in results] == ["created", None, None, None, None, "deleted"]
    errors = [r.error.category if r.error else None for r in results]
    assert errors == [
        None,
        Category.PRECONDITION_FAILED,
        Category.INVALID,
        Category.NOT_FOUND,
        Category.INVALID,
        None,
    ]
    assert len(current(env, "Patient")) == 1  # the created one; p was deleted by the last entry


# -- If-Match ----------------------------------------------------------------------------


def test_if_match_per_entry(env: Env) -> None:
    put(env, patient(id="a"))
    put(env, patient(id="b"))
    results = run_transaction(
        env.storage,
        [
            entry("PUT", "Patient/a", patient(id="a", active=True), ifMatch='W/"1"'),
            entry("DELETE", "Patient/b", ifMatch='"1"'),
        ],
    )
    assert [r.outcome for r in results] == ["updated", "deleted"]
    with pytest.raises(BundleRejected) as caught:
        run_transaction(env.storage, [entry("PUT", "Patient/a", patient(id="a"), ifMatch='W/"1"')])
    assert "the current version is 2" in caught.value.issues[0].diagnostics


# -- conditional entries and references --------------------------------------------------


def identified(value: str, **extra: Any) -> dict[str, Any]:
    return patient(identifier=[{"system": "http://ids", "value": value}], **extra)


def test_if_none_exist_uses_the_match_and_points_references_at_it(env: Env) -> None:
    put(env, identified("x", id="known"))
    results = run_transaction(
        env.storage,
        [
            entry("POST", "Patient", identified("x"), "urn:uuid:a", ifNoneExist="identifier=x"),
            entry("POST", "Patient", identified("y"), "urn:uuid:b", ifNoneExist="identifier=y"),
            entry("POST", "Observation", observation(subject={"reference": "urn:uuid:a"})),
            entry("POST", "Observation", observation(subject={"reference": "urn:uuid:b"})),
        ],
        env.hooks,
    )
    assert [r.outcome for r in results] == ["matched", "created", "created", "created"]
    made = results[1].stored
    assert made is not None and results[0].stored is not None
    assert results[0].stored.id == "known" and results[0].stored.version == 1
    subjects = sorted(o["subject"]["reference"] for o in current(env, "Observation"))
    assert subjects == sorted(["Patient/known", f"Patient/{made.id}"])


def test_conditional_update_and_delete(env: Env) -> None:
    first = run_transaction(
        env.storage, [entry("PUT", "Patient?identifier=z", identified("z"))], env.hooks
    )
    assert first[0].outcome == "created" and first[0].stored is not None
    second = run_transaction(
        env.storage,
        [entry("PUT", "Patient?identifier=z", identified("z", active=True))],
        env.hooks,
    )
    assert second[0].outcome == "updated" and second[0].stored is not None
    assert second[0].stored.id == first[0].stored.id and second[0].stored.version == 2
    gone = run_transaction(env.storage, [entry("DELETE", "Patient?identifier=z")], env.hooks)
    assert gone[0].outcome == "deleted" and gone[0].stored is not None
    nothing = run_transaction(env.storage, [entry("DELETE", "Patient?identifier=z")], env.hooks)
    assert nothing[0].outcome == "deleted" and nothing[0].stored is None


def test_conditional_references_resolve_to_exactly_one_match(env: Env) -> None:
    put(env, identified("one", id="p1"))
    put(env, identified("two", id="p2"))
    put(env, identified("two", id="p3"))
    results = run_transaction(
        env.storage,
        [
            entry(
                "POST", "Observation", observation(subject={"reference": "Patient?identifier=one"})
            )
        ],
        env.hooks,
    )
    assert results[0].stored is not None
    assert body(env, "Observation", results[0].stored.id)["subject"]["reference"] == "Patient/p1"
    for query, words in (("identifier=two", "more than one"), ("identifier=none", "matches no")):
        with pytest.raises(BundleRejected) as caught:
            run_transaction(
                env.storage,
                [
                    entry("POST", "Patient", patient()),
                    entry(
                        "POST",
                        "Observation",
                        observation(subject={"reference": f"Patient?{query}"}),
                    ),
                ],
                env.hooks,
            )
        assert caught.value.category is Category.PRECONDITION_FAILED
        assert words in caught.value.issues[0].diagnostics
        assert caught.value.issues[0].expression[0] == "Bundle.entry[1]"
    assert len(current(env, "Observation")) == 1 and len(current(env, "Patient")) == 3


def test_without_search_conditional_entries_say_so(env: Env) -> None:
    with pytest.raises(BundleRejected) as caught:
        run_transaction(env.storage, [entry("DELETE", "Patient?identifier=z")])
    assert caught.value.category is Category.UNSUPPORTED
    assert "needs search" in caught.value.issues[0].diagnostics


def test_search_entries_answer_with_a_searchset(env: Env) -> None:
    put(env, identified("s", id="s1"))
    [result] = run_batch(env.storage, [entry("GET", "Patient?identifier=s")], env.hooks)
    assert result.outcome == "searched" and result.body is not None
    searchset = json.loads(result.body)
    assert searchset["type"] == "searchset"
    assert [e["resource"]["id"] for e in searchset["entry"]] == ["s1"]


# -- PATCH entries -----------------------------------------------------------------------


def binary_patch(operations: list[dict[str, Any]]) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(operations).encode()).decode()
    return {"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}


def test_patch_entries_with_json_patch_and_fhirpath_patch(env: Env) -> None:
    put(env, patient(id="a", active=False))
    put(env, observation(id="o"))
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "Observation"},
                    {"name": "name", "valueString": "subject"},
                    {"name": "value", "valueReference": {"reference": "urn:uuid:new"}},
                ],
            }
        ],
    }
    results = run_transaction(
        env.storage,
        [
            entry(
                "PATCH",
                "Patient/a",
                binary_patch([{"op": "replace", "path": "/active", "value": True}]),
            ),
            entry("PATCH", "Observation/o", parameters, ifMatch='W/"1"'),
            entry("POST", "Patient", patient(), "urn:uuid:new"),
        ],
    )
    assert [r.outcome for r in results] == ["updated", "updated", "created"]
    assert body(env, "Patient", "a")["active"] is True
    new = results[2].stored
    assert new is not None
    # The FHIRPath Patch's value pointed at another entry: rewritten like a resource.
    assert body(env, "Observation", "o")["subject"] == {"reference": f"Patient/{new.id}"}


# -- the Bundle itself -------------------------------------------------------------------


def test_run_bundle_checks_the_bundle_and_its_size(env: Env) -> None:
    with pytest.raises(FhirError) as caught:
        run_bundle(env.storage, {"resourceType": "Bundle", "type": "collection"})
    assert caught.value.category is Category.INVALID
    big = {"resourceType": "Bundle", "type": "batch", "entry": [entry("GET", "Patient/x")] * 3}
    with pytest.raises(FhirError) as caught:
        run_bundle(env.storage, big, max_entries=2)
    assert caught.value.category is Category.TOO_LARGE
    assert "at most 2" in caught.value.issues[0].diagnostics
    kind, results = run_bundle(env.storage, big, max_entries=3)
    assert kind == "batch" and all(isinstance(r, EntryResult) for r in results)


@pytest.mark.parametrize(
    ("method", "url", "category"),
    [
        ("POST", "Patient/1", Category.INVALID),
        ("PUT", "Patient", Category.INVALID),
        ("PUT", "Patient/a b", Category.INVALID),
        ("DELETE", "http://example.org/fhir/Patient/1", Category.INVALID),
        ("GET", "metadata", Category.INVALID),
        ("GET", "Patient/_history", Category.UNSUPPORTED),
        ("GET", "Patient/1/_history", Category.UNSUPPORTED),
    ],
)
def test_request_urls_an_entry_cannot_have(method: str, url: str, category: Category) -> None:
    with pytest.raises(FhirError) as caught:
        parse_entry(4, entry(method, url, patient(id="1") if method in ("POST", "PUT") else None))
    assert caught.value.category is category
    assert caught.value.issues[0].expression[0].startswith("Bundle.entry[4].request")


def test_request_urls_an_entry_can_have() -> None:
    vread = parse_entry(0, entry("GET", "/Patient/1/_history/2"))
    assert (vread.resource_type, vread.id, vread.version) == ("Patient", "1", "2")
    search = parse_entry(0, entry("GET", "Patient?name=a&name=b"))
    assert search.query == (("name", "a"), ("name", "b"))
    conditional = parse_entry(
        0, entry("POST", "Patient", patient(), ifNoneExist="Patient?identifier=x")
    )
    assert conditional.if_none_exist == (("identifier", "x"),)
    assert parse_entry(0, entry("DELETE", "Patient/1", ifMatch='W/"3"')).if_match == 3
