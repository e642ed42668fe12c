"""``firehouse cors show | set | history`` against a database file and a running server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import CliRunner, Result

from firehouse.cli import main
from tests.support.server import running_server

TOKEN = "cli-test-token"
A, B = "https://a.example", "https://b.example"


def cors(*args: str, env: dict[str, str] | None = None) -> Result:
    clean: dict[str, str | None] = {"FIREHOUSE_ADMIN_TOKEN": None, "FIREHOUSE_DATABASE": None}
    return CliRunner().invoke(main, ["cors", *args], env={**clean, **(env or {})})


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--database", f"sqlite:///{tmp_path / 'cli.db'}"]


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_show_on_a_new_database_is_version_0_cors_off(db: list[str]) -> None:
    result = cors("show", *db)
    assert result.exit_code == 0
    assert "version 0" in result.stdout and "origins:          (none)" in result.stdout
    assert as_json(cors("show", "--json", *db))["version"] == 0


def test_set_merges_the_given_settings_like_serve_flags(db: list[str]) -> None:
    first = cors("set", *db, "--origins", f"{A}, HTTPS://B.example:443", "--methods", "get put")
    assert first.exit_code == 0, first.output
    assert "saved CORS policy version 1" in first.stderr
    assert f"origins:          {A}, {B}" in first.stdout
    # serve's flag names work too, and only the given setting changes.
    document = as_json(cors("set", *db, "--cors-max-age", "600", "--json"))
    assert (document["version"], document["maxAge"]) == (2, 600)
    assert document["origins"] == [A, B] and document["methods"] == ["GET", "PUT"]
    assert document["updatedBy"].startswith("CLI ")


def test_set_without_a_change_makes_no_version(db: list[str]) -> None:
    cors("set", *db, "--origins", A)
    again = cors("set", *db, "--origins", A)
    assert again.exit_code == 0 and "no change: stored version 1" in again.stderr


def test_set_lists_every_problem_and_exits_2_changing_nothing(db: list[str]) -> None:
    cors("set", *db, "--origins", A)
    result = cors(
        "set", *db, "--origins", "* https://x.example/", "--allow-credentials",
        "--max-age", "100000", "--headers", "bad;header",
    )  # fmt: skip
    assert result.exit_code == 2
    ids = {line.split()[0] for line in result.stderr.splitlines() if line.startswith("  cors.")}
    assert ids == {"cors.E003", "cors.E004", "cors.E007", "cors.E012", "cors.E014"}
    assert as_json(cors("show", "--json", *db))["origins"] == [A]


def test_set_warns_about_star_origins(db: list[str]) -> None:
    result = cors("set", *db, "--origins", "*")
    assert result.exit_code == 0
    assert "warning: security risk: origins is *" in result.stderr


def test_set_unsets_max_age_and_turns_credentials_off(db: list[str]) -> None:
    cors("set", *db, "--origins", A, "--max-age", "5", "--allow-credentials")
    document = as_json(cors("set", *db, "--max-age", "none", "--no-allow-credentials", "--json"))
    assert document["maxAge"] is None and document["allowCredentials"] is False


def test_set_needs_a_setting(db: list[str]) -> None:
    assert cors("set", *db).exit_code == 2


def test_set_with_a_stale_expected_version_exits_1(db: list[str]) -> None:
    cors("set", *db, "--origins", A)
    cors("set", *db, "--origins", B)
    result = cors("set", *db, "--methods", "GET", "--expect-version", "1")
    assert result.exit_code == 1 and "version 2 is stored now" in result.stderr
    assert as_json(cors("show", "--json", *db))["methods"] == []


def test_history_lists_versions_newest_first(db: list[str]) -> None:
    cors("set", *db, "--origins", A)
    cors("set", *db, "--max-age", "60")
    result = cors("history", *db)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("v2  ") and "    maxAge: (unset) -> 60" in lines
    assert "    origins: (none) -> https://a.example" in lines
    assert [c["version"] for c in as_json(cors("history", "--json", *db))] == [2, 1]
    assert [c["version"] for c in as_json(cors("history", "--limit", "1", "--json", *db))] == [2]


def test_the_database_comes_from_the_config_file_too(tmp_path: Path) -> None:
    config = tmp_path / "firehouse.toml"
    config.write_text(f'database = "sqlite:///{tmp_path / "from-config.db"}"\n')
    assert cors("set", "--config", str(config), "--origins", A).exit_code == 0
    assert (tmp_path / "from-config.db").exists()


@pytest.mark.slow
def test_against_a_running_server(tmp_path: Path) -> None:
    with running_server(tmp_path / "srv.db", "--admin-token", TOKEN) as server:
        url = ["--url", server.url]
        assert cors("show", *url).exit_code == 2  # no token: a usage error
        wrong = cors("show", *url, "--admin-token", "nope")
        assert wrong.exit_code == 1 and "admin token" in wrong.stderr
        token = {"FIREHOUSE_ADMIN_TOKEN": TOKEN}
        saved = cors("set", *url, "--origins", A, "--methods", "PUT", "--json", env=token)
        document = as_json(saved)
        assert document["version"] == 1 and "(CLI " in document["updatedBy"]
        # The server applies it: a preflight from A is granted.
        answer = httpx.options(
            f"{server.url}/Patient",
            headers={"Origin": A, "Access-Control-Request-Method": "PUT"},
        )
        assert answer.headers["access-control-allow-origin"] == A
        invalid = cors("set", *url, "--origins", "*", "--allow-credentials", env=token)
        assert invalid.exit_code == 2 and "cors.E003" in invalid.stderr
        stale = cors("set", *url, "--max-age", "1", "--expect-version", "0", env=token)
        assert stale.exit_code == 1
        assert as_json(cors("show", *url, "--json", env=token))["version"] == 1
        history = as_json(cors("history", *url, "--json", env=token))
        assert [c["version"] for c in history] == [1]
        # check asks the running server for its stored policy too.
        verdict = cors("check", *url, "--origin", A, "--method", "PUT", env=token)
        assert verdict.exit_code == 0, verdict.output
        assert f"policy: the stored policy, version 1, of {server.url}" in verdict.stdout
        assert cors("check", *url, "--origin", B, "--method", "PUT", env=token).exit_code == 1
    unreachable = cors("show", "--url", server.url, "--admin-token", TOKEN)
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.stderr
