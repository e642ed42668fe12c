"""Paging completeness: following ``next`` gives each match exactly once, also while writing."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from tests.search.conftest import follow, put


def _patients(client: TestClient, prefix: str, count: int) -> None:
    for i in range(count):
        put(
            client,
            {
                "resourceType": "Patient",
                "id": f"{prefix}{i}",
                "name": [{"family": f"Pager{prefix}"}],
                "birthDate": f"{1950 + i % 7}-01-0{1 + i % 5}",
            },
        )


def test_each_match_exactly_once_in_key_and_sort_order(api: TestClient) -> None:
    _patients(api, "a", 57)
    plain = follow(api, "/Patient?family=pagera&_count=7")
    assert sorted(e["resource"]["id"] for e in plain) == sorted(f"a{i}" for i in range(57))
    by_date = follow(api, "/Patient?family=pagera&_sort=-birthdate,_id&_count=5")
    got = [e["resource"]["id"] for e in by_date]
    assert sorted(got) == sorted(f"a{i}" for i in range(57))
    dates = [e["resource"]["birthDate"] for e in by_date]
    assert dates == sorted(dates, reverse=True)


def test_each_match_exactly_once_while_resources_are_written(api: TestClient) -> None:
    _patients(api, "b", 30)
    url = "/Patient?family=pagerb&_count=4"
    seen: list[str] = []
    written = 0
    while url:
        bundle = api.get(url).json()
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
        # Between pages: new matches, and updates of ones already shown and still to come.
        put(
            api, {"resourceType": "Patient", "id": f"bnew{written}", "name": [{"family": "PagerB"}]}
        )
        put(api, {"resourceType": "Patient", "id": f"b{written}", "name": [{"family": "PagerB"}]})
        written += 1
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        if url:
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}"
    assert len(seen) == len(set(seen))
    assert {f"b{i}" for i in range(30)} <= set(seen)


def test_a_deleted_match_disappears_from_later_pages(api: TestClient) -> None:
    _patients(api, "c", 6)
    first = api.get("/Patient?family=pagerc&_count=3").json()
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    later = [e["resource"]["id"] for e in follow(api, "/Patient?family=pagerc&_count=3")][3:]
    api.delete(f"/Patient/{later[0]}")
    parts = urlsplit(next_url)
    rest = [e["resource"]["id"] for e in follow(api, f"{parts.path}?{parts.query}")]
    assert later[0] not in rest and len(rest) == 2


def test_each_match_exactly_once_while_another_thread_writes(api: TestClient) -> None:
    """A reader paging while a writer creates new matches and updates old ones."""
    _patients(api, "d", 40)
    stop = threading.Event()
    writes: list[int] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            family = {"name": [{"family": "PagerD"}], "birthDate": "1953-01-01"}
            put(api, {"resourceType": "Patient", "id": f"dnew{n}", **family})
            put(api, {"resourceType": "Patient", "id": f"d{n % 40}", **family})
            n += 1
        writes.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for url in ("/Patient?family=pagerd&_count=3", "/Patient?family=pagerd&_sort=_id&_count=4"):
            seen = [e["resource"]["id"] for e in follow(api, url)]
            assert len(seen) == len(set(seen)), url
            assert {f"d{i}" for i in range(40)} <= set(seen), url
    finally:
        stop.set()
        thread.join()
    assert writes and writes[0] > 0  # the writer did write while the pages were read
