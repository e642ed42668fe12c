"""``firehouse cors check``: the verdict in plain words and an exit status scripts can test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from firehouse.cli import main

C1_FLAGS = [
    "--cors-origins",
    "https://localhost:6001",
    "--cors-headers",
    "*",
    "--cors-methods",
    "*",
    "--cors-max-age",
    "1440",
]
C2_FLAGS = [
    "--cors-origins",
    "https://a.example, https://b.example",
    "--cors-headers",
    "authorization,content-type",
    "--cors-methods",
    "GET PUT",
    "--cors-allow-credentials",
]


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test checks against its own (empty, so CORS-off) stored policy."""
    url = f"sqlite:///{tmp_path / 'check.db'}"
    monkeypatch.setenv("FIREHOUSE_DATABASE", url)
    return url


def check(*args: str, env: dict[str, str] | None = None) -> Result:
    # An empty environment for FIREHOUSE_*: the machine running the tests may set some.
    clean = {"FIREHOUSE_CORS_" + n: None for n in ("ORIGINS", "HEADERS", "METHODS", "MAX_AGE")}
    clean.update({"FIREHOUSE_CORS_ALLOW_CREDENTIALS": None, "FIREHOUSE_CORS_EXPOSED_HEADERS": None})
    return CliRunner().invoke(main, ["cors", "check", *args], env={**clean, **(env or {})})


def test_case01_allowed_preflight_exits_0_and_says_why() -> None:
    result = check(
        "--origin", "https://localhost:6001", "--method", "PUT",
        "--header", "Authorization", "--header", "Content-Type", *C1_FLAGS,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    first, why, *rest = result.stdout.splitlines()
    assert first.startswith("ALLOWED: PUT from https://localhost:6001")
    assert "preflight for PUT with headers Authorization, Content-Type" in why
    assert "reuse it for 1440 seconds" in why
    assert "    Access-Control-Allow-Methods: PUT" in rest
    assert "    Access-Control-Max-Age: 1440" in rest


def test_case03_refused_origin_exits_1_and_names_the_allowed_origins() -> None:
    result = check("--origin", "https://evil.example", "--method", "PUT", *C1_FLAGS)
    assert result.exit_code == 1
    assert result.stdout.startswith("BLOCKED: PUT from https://evil.example")
    assert (
        "refused: origin https://evil.example is not allowed; allowed origins are "
        "https://localhost:6001" in result.stdout
    )
    # Refused: the preflight answer carries nothing the browser could accept.
    assert "answers 204 with\n    (no Access-Control-* header)\n    Vary: Origin\n" in result.stdout


def test_a_header_outside_the_list_blocks_and_is_named() -> None:
    result = check(
        "--origin", "https://a.example", "--method", "PUT", "--header", "X-Trace", *C2_FLAGS
    )  # fmt: skip
    assert result.exit_code == 1
    assert "header X-Trace is not in the allowed headers (authorization, content-type)" in (
        result.stdout
    )


def test_headers_may_be_given_comma_separated() -> None:
    result = check(
        "--origin", "https://b.example", "--method", "PUT",
        "--header", "authorization, content-type", *C2_FLAGS,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "with credentials" in result.stdout  # C2 allows them, so a page may send them


def test_any_origin_warns_and_refuses_credentialed_calls() -> None:
    star = ["--cors-origins", "*", "--cors-methods", "*", "--cors-headers", "*"]
    plain = check("--origin", "https://anyone.example", "--method", "GET", *star)
    assert plain.exit_code == 0
    assert "security risk" in plain.stderr
    with_cookies = check(
        "--origin", "https://anyone.example", "--method", "GET", "--credentials", *star
    )  # fmt: skip
    assert with_cookies.exit_code == 1
    assert "never accept Access-Control-Allow-Origin: * for that" in with_cookies.stdout


def test_cors_off_blocks_everything() -> None:
    result = check("--origin", "https://a.example", "--method", "GET")
    assert result.exit_code == 1
    assert "CORS is off" in result.stdout


def test_an_invalid_policy_exits_2_listing_every_problem() -> None:
    result = check(
        "--origin", "https://a.example", "--method", "GET",
        "--cors-origins", "* https://a.example/", "--cors-max-age", "100000",
        "--cors-allow-credentials",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stdout == ""
    for field in ("origins", "maxAge"):
        assert f" {field}: " in result.stderr
    assert "https://a.example/" in result.stderr
    assert "100000" in result.stderr


def test_the_policy_comes_from_env_and_config_with_flags_winning(tmp_path: Path) -> None:
    config = tmp_path / "firehouse.toml"
    config.write_text('cors_origins = ["https://from-file.example"]\ncors_methods = ["GET"]\n')
    from_file = check(
        "--origin", "https://from-file.example", "--method", "GET", "--config", str(config)
    )  # fmt: skip
    assert from_file.exit_code == 0, from_file.output
    env = {"FIREHOUSE_CORS_ORIGINS": "https://from-env.example"}
    args = ["--method", "GET", "--config", str(config)]
    assert check("--origin", "https://from-env.example", *args, env=env).exit_code == 0
    assert check("--origin", "https://from-file.example", *args, env=env).exit_code == 1
    flag = ["--cors-origins", "https://from-flag.example"]
    assert check("--origin", "https://from-flag.example", *args, *flag, env=env).exit_code == 0
    assert check("--origin", "https://from-env.example", *args, *flag, env=env).exit_code == 1


@pytest.mark.parametrize("allowed", [True, False])
def test_json_output(allowed: bool) -> None:
    origin = "https://a.example" if allowed else "https://evil.example"
    result = check("--origin", origin, "--method", "PUT", "--json", *C2_FLAGS)
    assert result.exit_code == (0 if allowed else 1)
    verdict = json.loads(result.stdout)
    assert verdict["allowed"] is allowed
    assert verdict["preflightNeeded"] is True
    assert ("Access-Control-Allow-Origin" in verdict["preflight"]["headers"]) is allowed


def test_missing_origin_is_a_usage_error() -> None:
    result = check("--method", "GET")
    assert result.exit_code == 2
    assert "--origin" in result.stderr


def test_check_reads_the_stored_policy_and_says_which(database: str) -> None:
    saved = CliRunner().invoke(
        main,
        [
            "cors",
            "set",
            "--origins",
            "https://a.example",
            "--methods",
            "GET,PUT",
            "--headers",
            "content-type",
        ],
    )
    assert saved.exit_code == 0, saved.output
    result = check("--origin", "https://a.example", "--method", "PUT", "--header", "Content-Type")
    assert result.exit_code == 0, result.output
    assert f"policy: the stored policy, version 1, in {database}" in result.stdout
    refused = check("--origin", "https://b.example", "--method", "GET")
    assert refused.exit_code == 1


def test_given_cors_settings_are_a_what_if_on_top_of_the_stored_policy(database: str) -> None:
    CliRunner().invoke(main, ["cors", "set", "--origins", "https://a.example", "--methods", "GET"])
    what_if = check(
        "--origin", "https://a.example", "--method", "DELETE", "--cors-methods", "GET,DELETE"
    )
    assert what_if.exit_code == 0, what_if.output
    assert "with methods as given here (not saved)" in what_if.stdout
    shown = CliRunner().invoke(main, ["cors", "show", "--json"])
    assert json.loads(shown.stdout)["methods"] == ["GET"]
