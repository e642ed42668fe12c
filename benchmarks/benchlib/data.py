"""The benchmark's data: a realistic ~1 KB Patient, and servers seeded with known ids.

Separate id sets keep the scenarios from disturbing each other: reads go to
resources nobody writes during the run, updates to their own set, and history
to resources with a fixed number of versions (so every history response has
the same size in every round).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATIENT_FILE = Path(__file__).resolve().parent.parent / "data" / "patient.json"
JSON_TYPE = "application/fhir+json"


def patient() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PATIENT_FILE.read_text(encoding="utf-8"))
    return data


def compact(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_bodies(workdir: Path) -> tuple[Path, Path]:
    """The create body and the update template.

    In the template ``__ID__`` stands for the id and ``__N__`` for a counter
    in ``identifier[0].value``: every update must change the resource, since an
    update that changes nothing makes no new version (and costs no write).
    """
    resource = patient()
    create = workdir / "patient-create.json"
    create.write_bytes(compact(resource))
    with_id: dict[str, Any] = {"resourceType": "Patient", "id": "__ID__"}
    with_id.update({k: v for k, v in resource.items() if k != "resourceType"})
    with_id["identifier"] = [dict(with_id["identifier"][0], value="12345-__N__")]
    update = workdir / "patient-update.json"
    update.write_bytes(compact(with_id))
    return create, update


class Client:
    """One keep-alive HTTP/1.1 connection to a server under test (127.0.0.1 only)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self) -> None:
        self.conn.close()


@dataclass(frozen=True)
class Seeded:
    read_ids: Path
    update_ids: Path
    history_ids: Path
    read_bodies: dict[str, bytes]  # id -> the bytes the server returns for it


def _create(client: Client, body: bytes) -> str:
    status, _, data = client.request("POST", "/Patient", body, {"Content-Type": JSON_TYPE})
    if status != 201:
        raise RuntimeError(f"seeding: POST /Patient gave {status}: {data[:300]!r}")
    return str(json.loads(data)["id"])


def _update(client: Client, id: str, template: bytes, n: int) -> None:
    body = template.replace(b"__ID__", id.encode()).replace(b"__N__", str(n).encode())
    status, _, data = client.request("PUT", f"/Patient/{id}", body, {"Content-Type": JSON_TYPE})
    if status != 200:
        raise RuntimeError(f"seeding: PUT /Patient/{id} gave {status}: {data[:300]!r}")


def seed(
    port: int,
    workdir: Path,
    tag: str,
    *,
    reads: int,
    updates: int,
    histories: int,
    versions: int,
) -> Seeded:
    create_body = (workdir / "patient-create.json").read_bytes()
    template = (workdir / "patient-update.json").read_bytes()
    client = Client(port)
    try:
        read_ids = [_create(client, create_body) for _ in range(reads)]
        update_ids = [_create(client, create_body) for _ in range(updates)]
        history_ids = []
        for _ in range(histories):
            id = _create(client, create_body)
            for n in range(versions - 1):
                _update(client, id, template, n)
            history_ids.append(id)
        bodies = {}
        for id in read_ids:
            status, _, data = client.request("GET", f"/Patient/{id}")
            if status != 200:
                raise RuntimeError(f"seeding: GET /Patient/{id} gave {status}")
            bodies[id] = data
    finally:
        client.close()
    paths = []
    for name, ids in (("read", read_ids), ("update", update_ids), ("history", history_ids)):
        path = workdir / f"{tag}-{name}-ids.txt"
        path.write_text("\n".join(ids) + "\n")
        paths.append(path)
    return Seeded(paths[0], paths[1], paths[2], bodies)
